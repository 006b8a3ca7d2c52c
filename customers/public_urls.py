"""The customer's pages, mounted at /status/ (no login)."""

from django.urls import path

from . import public_views

app_name = "status"
urlpatterns = [
    path("", public_views.lookup, name="lookup"),
    path("<str:token>/", public_views.page, name="page"),
    path("<str:token>/return/", public_views.return_request, name="return"),
    path("<str:token>/feedback/", public_views.feedback, name="feedback"),
    path(
        "<str:token>/documents/<str:kind>/<str:number>.pdf", public_views.document, name="document"
    ),
]
