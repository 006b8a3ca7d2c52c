from django.contrib import admin
from django.contrib.admin.apps import AdminConfig

from .roles import MANAGER, has_role


class OrderlineAdminSite(admin.AdminSite):
    """The back office: for managers (by role) and Django staff users."""

    site_header = "Orderline back office"
    site_title = "Orderline admin"
    index_title = "Corrections"
    enable_nav_sidebar = False  # the dense change lists need the width

    def has_permission(self, request):
        user = request.user
        return user.is_active and (user.is_staff or has_role(user, [MANAGER]))


class OrderlineAdminConfig(AdminConfig):
    """Installs OrderlineAdminSite as ``admin.site`` (used in INSTALLED_APPS)."""

    default_site = "core.admin_site.OrderlineAdminSite"
