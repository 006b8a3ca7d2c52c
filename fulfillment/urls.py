from django.urls import path

from . import views
from .views import packing, picking, shipping, tracking

app_name = "fulfillment"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("pick-lists/", picking.pick_lists, name="pick_lists"),
    path("pick-lists/<str:number>/", picking.pick_list_detail, name="pick_list"),
    path("pick-lists/<str:number>/pdf/", picking.pick_list_download, name="pick_list_pdf"),
    path("pick-lists/<str:number>/confirm/", picking.pick_confirm, name="pick_confirm"),
    path("pick-lists/<str:number>/short/", picking.pick_short, name="pick_short"),
    path("print/", picking.bulk_print, name="bulk_print"),
    path("orders/<str:number>/shipments/", views.create_shipments, name="create_shipments"),
    path("shipments/<str:number>/", views.shipment_detail, name="shipment"),
    path("shipments/<str:number>/pick/", views.pick, name="pick"),
    path("shipments/<str:number>/pack/", views.pack, name="pack"),
    path("shipments/<str:number>/ship/", views.ship, name="ship"),
    path("shipments/<str:number>/deliver/", views.deliver, name="deliver"),
    path("shipments/<str:number>/cancel/", views.cancel, name="cancel"),
    path("shipments/<str:number>/label/buy/", shipping.label_buy, name="label_buy"),
    path("shipments/<str:number>/label/", shipping.label, name="label"),
    path("manifests/", shipping.manifests, name="manifests"),
    path("manifests/<str:number>/", shipping.manifest, name="manifest"),
    path("manifests/<str:number>/pdf/", shipping.manifest_download_pdf, name="manifest_pdf"),
    path("manifests/<str:number>/csv/", shipping.manifest_download_csv, name="manifest_csv"),
    path("pack/", packing.pack_station, name="pack_station"),
    path("pack/<str:number>/", packing.pack_shipment, name="pack_shipment"),
    path("shipments/<str:number>/packing-slip/", packing.packing_slip, name="packing_slip"),
    path("attention/", tracking.attention, name="attention"),
    path("feedback/", tracking.feedback_list, name="feedback_list"),
]
