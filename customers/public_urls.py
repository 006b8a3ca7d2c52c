from django.urls import path
from django.http import HttpResponse

app_name = "status"
urlpatterns = [path("<str:token>/", lambda r, token: HttpResponse(token), name="page")]
