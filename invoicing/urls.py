from django.urls import path

from . import views

app_name = "invoicing"
urlpatterns = [
    path("", views.document_list, name="list"),
    path("<str:number>.pdf", views.invoice_pdf, name="invoice_pdf"),
    path("credit-notes/<str:number>.pdf", views.credit_note_pdf, name="credit_note_pdf"),
    path("orders/<str:number>/issue/", views.issue, name="issue"),
    path("orders/<str:number>/payment/", views.record_payment, name="record_payment"),
]
