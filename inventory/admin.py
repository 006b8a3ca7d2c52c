from django import forms
from django.conf import settings
from django.contrib import admin

from core.admin import (
    BackOfficeAdmin,
    ReadOnlyInline,
    form_action,
    link_column,
    money,
    path_column,
    time_column,
)

from .models import Product, Reservation, StockLevel, StockMovement, Warehouse
from .selectors import product_list
from .services import stock_adjust, stock_receive


class StockLevelInline(ReadOnlyInline):
    model = StockLevel
    fields = ["warehouse", "on_hand", "reserved", "available"]
    readonly_fields = ["warehouse", "on_hand", "reserved", "available"]
    ordering = ["warehouse__priority", "warehouse__code"]
    verbose_name_plural = "Stock per warehouse (change it with the Receive and Adjust actions)"

    @admin.display(description="Available")
    def available(self, obj):
        return obj.available


def _active_warehouses():
    return Warehouse.objects.filter(active=True).order_by("priority", "code")


class ReceiveStockForm(forms.Form):
    warehouse = forms.ModelChoiceField(queryset=Warehouse.objects.none(), empty_label=None)
    quantity = forms.IntegerField(
        min_value=1, help_text="Units that arrived, for each chosen product."
    )
    reference = forms.CharField(
        max_length=100,
        required=False,
        help_text="Delivery note or purchase order, e.g. PO-2025-0142.",
    )
    reason = forms.CharField(max_length=255, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].queryset = _active_warehouses()


class AdjustStockForm(forms.Form):
    warehouse = forms.ModelChoiceField(queryset=Warehouse.objects.none(), empty_label=None)
    delta = forms.IntegerField(
        label="Change",
        help_text="Units to add (e.g. 3) or remove (e.g. -2) from on hand, for each chosen product.",
    )
    reason = forms.CharField(
        max_length=255, help_text="Why: damaged, found in a stock count, lost…"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].queryset = _active_warehouses()

    def clean_delta(self):
        delta = self.cleaned_data["delta"]
        if delta == 0:
            raise forms.ValidationError("An adjustment changes the quantity by at least one unit.")
        return delta


def percent(rate) -> str:
    return f"{(rate * 100).normalize():f}\u00a0%"


class TaxRateFilter(admin.SimpleListFilter):
    title = "tax rate"
    parameter_name = "tax_rate"

    def lookups(self, request, model_admin):
        rates = Product.objects.order_by("tax_rate").values_list("tax_rate", flat=True).distinct()
        return [(str(rate), percent(rate)) for rate in rates]

    def queryset(self, request, queryset):
        return queryset.filter(tax_rate=self.value()) if self.value() else queryset


@admin.register(Product)
class ProductAdmin(BackOfficeAdmin):
    list_display = [
        "sku",
        "name",
        "net_price",
        "tax_rate_display",
        "on_hand",
        "reserved",
        "available",
        "barcode",
        "weight",
        "active",
    ]
    list_display_links = ["sku", "name"]
    list_filter = ["active", TaxRateFilter, "allow_backorder"]
    search_fields = ["sku", "name", "barcode"]
    fieldsets = [
        (None, {"fields": [("sku", "active"), "name", "description"]}),
        ("Price", {"fields": [("price", "tax_rate")]}),
        ("Logistics", {"fields": [("barcode", "weight_grams"), "allow_backorder"]}),
    ]
    inlines = [StockLevelInline]
    actions = ["receive_stock", "adjust_stock"]
    object_actions = ("receive_stock", "adjust_stock")

    def get_queryset(self, request):
        return product_list()

    @admin.display(description="Net price", ordering="price")
    def net_price(self, obj):
        return money(obj.price, settings.DEFAULT_CURRENCY)

    @admin.display(description="Tax", ordering="tax_rate")
    def tax_rate_display(self, obj):
        return percent(obj.tax_rate)

    @admin.display(description="Weight", ordering="weight_grams")
    def weight(self, obj):
        return f"{obj.weight_grams:,} g"

    @admin.display(description="On hand", ordering="on_hand_total")
    def on_hand(self, obj):
        return obj.on_hand_total

    @admin.display(description="Reserved", ordering="reserved_total")
    def reserved(self, obj):
        return obj.reserved_total

    @admin.display(description="Available")
    def available(self, obj):
        return obj.on_hand_total - obj.reserved_total

    @admin.action(description="Receive stock", permissions=["corrections"])
    def receive_stock(self, request, queryset):
        def apply(product, data):
            stock_receive(
                product=product,
                warehouse=data["warehouse"],
                quantity=data["quantity"],
                actor=request.user,
                reference=data["reference"].strip(),
                reason=data["reason"].strip() or "Received in the back office",
            )

        return form_action(
            self,
            request,
            queryset,
            form_class=ReceiveStockForm,
            title="Receive stock",
            intro="Units arrived in a warehouse. Each product gets a receipt in the stock ledger.",
            submit_label="Receive",
            apply=apply,
            done=lambda product, data: f"{data['quantity']} received in {data['warehouse'].code}.",
        )

    @admin.action(description="Adjust stock", permissions=["corrections"])
    def adjust_stock(self, request, queryset):
        def apply(product, data):
            stock_adjust(
                product=product,
                warehouse=data["warehouse"],
                delta=data["delta"],
                reason=data["reason"],
                actor=request.user,
                reference="admin",
            )

        return form_action(
            self,
            request,
            queryset,
            form_class=AdjustStockForm,
            title="Adjust stock",
            intro="Correct what is on hand (damaged, lost, found in a count). Reserved units cannot be "
            "adjusted away; each change is written to the stock ledger with your reason.",
            submit_label="Adjust",
            apply=apply,
            done=lambda product, data: (
                f"on hand in {data['warehouse'].code} changed by {data['delta']:+d}."
            ),
        )


@admin.register(Warehouse)
class WarehouseAdmin(BackOfficeAdmin):
    list_display = ["code", "name", "priority", "active", "city", "country"]
    list_filter = ["active", "country"]
    search_fields = ["code", "name", "city"]
    ordering = ["priority", "code"]


@admin.register(StockLevel)
class StockLevelAdmin(BackOfficeAdmin):
    """What each warehouse holds: the running sum of the ledger, changed only by services."""

    view_only = True
    list_display = ["product_link", "warehouse_code", "on_hand", "reserved", "available"]
    warehouse_code = path_column("warehouse__code", "Warehouse")
    product_link = link_column("product", "Product", text="sku")
    list_filter = ["warehouse"]
    search_fields = ["product__sku", "product__name", "product__barcode"]
    list_select_related = ["product", "warehouse"]
    ordering = ["product__sku", "warehouse__priority"]

    @admin.display(description="Available")
    def available(self, obj):
        return obj.available


@admin.register(StockMovement)
class StockMovementAdmin(BackOfficeAdmin):
    """The stock ledger: written by services only, never changed."""

    view_only = True
    list_display = [
        "created",
        "product_link",
        "warehouse_code",
        "kind",
        "on_hand_change",
        "reserved_change",
        "reference",
        "reason",
        "actor",
    ]
    warehouse_code = path_column("warehouse__code", "Warehouse")
    product_link = link_column("product", "Product", text="sku")
    created = time_column("created_at", "Created")
    list_filter = ["kind", "warehouse"]
    search_fields = ["reference", "reason", "product__sku", "product__name"]

    @admin.display(description="On hand", ordering="on_hand_delta")
    def on_hand_change(self, obj):
        return f"{obj.on_hand_delta:+d}" if obj.on_hand_delta else "0"

    @admin.display(description="Reserved", ordering="reserved_delta")
    def reserved_change(self, obj):
        return f"{obj.reserved_delta:+d}" if obj.reserved_delta else "0"

    list_select_related = ["product", "warehouse", "actor"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(Reservation)
class ReservationAdmin(BackOfficeAdmin):
    """Stock held for a unit of demand (an order line: ``order:<number>:<line>``)."""

    view_only = True
    list_display = ["demand_ref", "product_link", "warehouse_code", "quantity", "updated"]
    warehouse_code = path_column("warehouse__code", "Warehouse")
    product_link = link_column("product", "Product", text="sku")
    updated = time_column("updated_at", "Updated")
    list_filter = ["warehouse"]
    search_fields = ["demand_ref", "product__sku"]
    list_select_related = ["product", "warehouse"]
