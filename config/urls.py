from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from core.views import healthz
from fulfillment.views.webhooks import easypost_webhook

urlpatterns = [
    path("api/v1/", include("core.api")),
    path("healthz", healthz, name="healthz"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="auth/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("webhooks/carriers/easypost/", easypost_webhook, name="easypost_webhook"),
    path("status/", include("customers.public_urls")),
    path("orders/", include("orders.urls")),
    path("warehouse/", include("fulfillment.urls")),
    path("invoices/", include("invoicing.urls")),
    path("returns/", include("returns.urls")),
    path("inventory/", include("inventory.urls")),
    path("customers/", include("customers.urls")),
    path("", include("dashboard.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
