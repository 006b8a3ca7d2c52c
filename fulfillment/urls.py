from django.urls import path

from . import views

app_name = "fulfillment"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("orders/<str:number>/shipments/", views.create_shipments, name="create_shipments"),
    path("shipments/<str:number>/", views.shipment_detail, name="shipment"),
    path("shipments/<str:number>/pick/", views.pick, name="pick"),
    path("shipments/<str:number>/pack/", views.pack, name="pack"),
    path("shipments/<str:number>/ship/", views.ship, name="ship"),
    path("shipments/<str:number>/deliver/", views.deliver, name="deliver"),
    path("shipments/<str:number>/cancel/", views.cancel, name="cancel"),
]
