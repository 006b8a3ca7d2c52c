from django.urls import path

from . import views

app_name = "inventory"
urlpatterns = [
    path("", views.product_list, name="products"),
    path("products/<path:sku>/", views.product_detail, name="product"),
]
