"""Staff roles are Django groups (created by a migration). A superuser holds every role."""

from collections.abc import Iterable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from .errors import NotAllowed

CUSTOMER_SERVICE = "customer_service"
WAREHOUSE = "warehouse"
FINANCE = "finance"
MANAGER = "manager"

ROLE_LABELS = {
    CUSTOMER_SERVICE: "Customer service",
    WAREHOUSE: "Warehouse",
    FINANCE: "Finance",
    MANAGER: "Manager",
}
ALL_ROLES = tuple(ROLE_LABELS)

# What each action needs. Managers may do everything.
PLACE_ORDER = (CUSTOMER_SERVICE, MANAGER)
CANCEL_ORDER = (CUSTOMER_SERVICE, MANAGER)
FULFIL = (WAREHOUSE, MANAGER)
PACK_WITHOUT_SCAN = (MANAGER,)  # a supervisor's override when the scanner is down; packers scan
MARK_DELIVERED = (WAREHOUSE, CUSTOMER_SERVICE, MANAGER)
ISSUE_INVOICE = (FINANCE, MANAGER)
RECORD_PAYMENT = (FINANCE, MANAGER)
REQUEST_RETURN = (CUSTOMER_SERVICE, MANAGER)
RECEIVE_RETURN = (WAREHOUSE, MANAGER)
REFUND = (FINANCE, MANAGER)
MANAGE_STOCK = (WAREHOUSE, MANAGER)
OVERRIDE_PRICE = (MANAGER,)  # a unit price other than the catalogue's, or a discount
RELEASE_HOLD = (CUSTOMER_SERVICE, MANAGER)
RELEASE_HIGH_VALUE_HOLD = (MANAGER,)  # orders above HOLD_ORDERS_ABOVE are reviewed by a manager


def user_roles(user) -> set[str]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if user.is_superuser:
        return set(ALL_ROLES)
    cached = getattr(user, "_orderline_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))
        user._orderline_roles = cached
    return cached


def has_role(user, roles: Iterable[str]) -> bool:
    return bool(user_roles(user) & set(roles))


def is_staff_member(user) -> bool:
    return bool(user_roles(user))


def check_role(user, roles: Iterable[str], message: str | None = None) -> None:
    """Raise NotAllowed unless ``user`` holds one of ``roles``. Services call this."""
    if user is None:  # the system itself (tasks, sweeps) acts without a user
        return
    if not has_role(user, roles):
        names = ", ".join(ROLE_LABELS[r] for r in roles)
        raise NotAllowed(message or f"Only {names} may do this.")


def role_label(user) -> str:
    if getattr(user, "is_superuser", False):
        return "Administrator"
    roles = sorted(user_roles(user))
    return ", ".join(ROLE_LABELS[r] for r in roles) or "No role"


def staff_required(view=None, *, roles: Iterable[str] | None = None):
    """Login required, and the user must hold a staff role (or one of ``roles``).
    Anonymous users are sent to the login page; signed-in users without the role get 403."""

    def decorator(fn):
        @wraps(fn)
        @login_required
        def wrapped(request, *args, **kwargs):
            allowed = roles if roles is not None else ALL_ROLES
            if not has_role(request.user, allowed):
                raise PermissionDenied("Your role does not allow this page.")
            return fn(request, *args, **kwargs)

        return wrapped

    if view is not None:
        return decorator(view)
    return decorator


def role_group(name: str):
    """The Django group of a role. Created by a migration; recreated if someone removed it."""
    from django.contrib.auth.models import Group

    if name not in ROLE_LABELS:
        raise ValueError(f"unknown role {name!r}")
    return Group.objects.get_or_create(name=name)[0]
