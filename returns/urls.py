from django.urls import path

from . import views

app_name = "returns"
urlpatterns = [
    path("", views.list_returns, name="list"),
    path("new/<str:number>/", views.create, name="create"),
    path("<str:number>/", views.detail, name="detail"),
    path("<str:number>/receive/", views.receive, name="receive"),
    path("<str:number>/refund/", views.refund, name="refund"),
    path("<str:number>/reject/", views.reject, name="reject"),
]
