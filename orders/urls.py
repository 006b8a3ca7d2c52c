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
    path("<str:number>/", views.order_detail, name="detail"),
    path("<str:number>/hold/", views.order_hold_view, name="hold"),
    path("<str:number>/release/", views.order_release_view, name="release"),
    path("<str:number>/cancel/", views.order_cancel_view, name="cancel"),
]
