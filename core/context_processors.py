from django.conf import settings

from .roles import role_label, user_roles


def orderline(request):
    user = getattr(request, "user", None)
    return {
        "merchant_name": settings.MERCHANT_NAME,
        "user_role_label": role_label(user) if user and user.is_authenticated else "",
        "user_roles": user_roles(user) if user else set(),
    }
