from django.urls import path

from . import views

app_name = "orders"
urlpatterns = [
    path("", views.order_list, name="list"),
    path("new/", views.order_new, name="new"),
    path("new/customers/", views.new_customer_search, name="new_customers"),
    path("new/customer/", views.new_customer_pick, name="new_customer"),
    path("new/line/", views.new_line, name="new_line"),
    path("new/row/", views.new_row, name="new_row"),
    path("counter/", views.counter, name="counter"),
    path("bulk/", views.order_bulk, name="bulk"),
    path("print/", views.order_print, name="print"),
    path("export.csv", views.order_export, name="export"),
    path("import/", views.order_import, name="import"),
    path("import/sample.csv", views.order_import_sample, name="import_sample"),
    path("import/<int:pk>/", views.order_import_batch, name="import_batch"),
    path("import/<int:pk>/run/", views.order_import_run, name="import_run"),
    path("<str:number>/", views.order_detail, name="detail"),
    path("<str:number>/hold/", views.order_hold_view, name="hold"),
    path("<str:number>/release/", views.order_release_view, name="release"),
    path("<str:number>/cancel/", views.order_cancel_view, name="cancel"),
    path("<str:number>/edit/", views.order_edit_view, name="edit"),
    path(
        "<str:number>/lines/<int:line_id>/cancel/", views.order_line_cancel_view, name="line_cancel"
    ),
    path("<str:number>/receipt/", views.counter_receipt, name="receipt"),
]
