from django.urls import path

from . import views

app_name = "inventory"
urlpatterns = [
    path("", views.product_list, name="products"),
    path("expected/", views.expected_receipts, name="expected_receipts"),
    path(
        "expected/<int:pk>/cancel/", views.expected_receipt_cancel, name="expected_receipt_cancel"
    ),
    path("reorder/", views.reorder, name="reorder"),
    path("reorder.csv", views.reorder_csv, name="reorder_csv"),
    path("stock/<slug:op>/", views.operation_start, name="operation_start"),
    # Operations first: a product's own page takes any SKU, slashes included.
    path("products/<path:sku>/receive/", views.receive, name="receive"),
    path("products/<path:sku>/adjust/", views.adjust, name="adjust"),
    path("products/<path:sku>/count/", views.count, name="count"),
    path("products/<path:sku>/transfer/", views.transfer, name="transfer"),
    path("products/<path:sku>/", views.product_detail, name="product"),
]
