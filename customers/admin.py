from django.contrib import admin
from django.db.models import Count, Max

from core.admin import BackOfficeAdmin, link_column, short_time, time_column

from .models import Address, Customer


class AddressInline(admin.StackedInline):
    model = Address
    extra = 0
    fields = [
        ("name", "phone"),
        "line1",
        "line2",
        ("postal_code", "city"),
        ("region", "country"),
        "is_default",
    ]


@admin.register(Customer)
class CustomerAdmin(BackOfficeAdmin):
    list_display = ["name", "email", "phone", "order_count", "last_order", "created"]
    search_fields = ["name", "email", "phone"]
    list_filter = ["addresses__country"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "updated_at"]
    fields = ["name", "email", "phone", "notes", ("created_at", "updated_at")]
    inlines = [AddressInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _order_count=Count("orders", distinct=True), _last_order_at=Max("orders__placed_at")
            )
        )

    @admin.display(description="Orders", ordering="_order_count")
    def order_count(self, obj):
        return obj._order_count

    @admin.display(description="Last order", ordering="_last_order_at")
    def last_order(self, obj):
        return short_time(obj._last_order_at)

    created = time_column("created_at", "Customer since")


@admin.register(Address)
class AddressAdmin(BackOfficeAdmin):
    list_display = [
        "name",
        "line1",
        "postal_code",
        "city",
        "country",
        "customer_link",
        "is_default",
    ]
    customer_link = link_column("customer", "Customer", text="name")
    list_filter = ["country", "is_default"]
    search_fields = ["name", "line1", "city", "postal_code", "customer__name", "customer__email"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]
