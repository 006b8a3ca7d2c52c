from django.db import connection
from django.utils import timezone

from core.errors import ValidationFailed

from .models import Address, Customer

ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country", "phone")
REQUIRED_ADDRESS_FIELDS = {
    "name": "Enter the recipient's name.",
    "line1": "Enter the street address.",
    "city": "Enter the city.",
    "postal_code": "Enter the postal code.",
    "country": "Choose the country.",
}


def address_errors(data: dict, *, prefix: str = "") -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for key, message in REQUIRED_ADDRESS_FIELDS.items():
        if not str(data.get(key) or "").strip():
            errors[f"{prefix}{key}"] = [message]
    country = str(data.get("country") or "").strip()
    if country and (len(country) != 2 or not country.isalpha()):
        errors[f"{prefix}country"] = ["Use the two-letter country code, e.g. DE or US."]
    return errors


def customer_get_or_create(
    *,
    email: str,
    name: str,
    phone: str = "",
    existing: Customer | None = None,
    looked_up: bool = False,
) -> Customer:
    """The customer with this email (any case), created if new. ``looked_up`` says the caller
    has just looked (``existing`` is what it found), which saves the lookup. Race-safe: two
    first orders of one new customer at the same moment end with one customer row."""
    if existing is not None:
        return existing
    email = email.strip()
    if not email or "@" not in email:
        raise ValidationFailed({"email": ["Enter the customer's email address."]})
    if not looked_up:
        existing = Customer.objects.filter(email__iexact=email).first()
    if existing:
        return existing
    if not name.strip():
        raise ValidationFailed({"name": ["Enter the customer's name."]})
    return _customer_upsert(email=email, name=name.strip(), phone=phone.strip())


def _customer_upsert(*, email: str, name: str, phone: str) -> Customer:
    """One statement: insert, or return the row another transaction inserted first
    (PostgreSQL and SQLite both take an upsert on the lower(email) unique index)."""
    now = timezone.now()
    table = connection.ops.quote_name(Customer._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (email, name, phone, notes, created_at, updated_at) "  # noqa: S608
            "VALUES (%s, %s, %s, '', %s, %s) "
            f"ON CONFLICT ((lower(email))) DO UPDATE SET email = {table}.email "
            "RETURNING id, email, name, phone, created_at, updated_at",
            [email, name, phone, now, now],
        )
        pk, email, name, phone, created_at, updated_at = cursor.fetchone()
    return Customer(
        pk=pk, email=email, name=name, phone=phone, created_at=created_at, updated_at=updated_at
    )


def address_values(data: dict) -> dict[str, str]:
    """An address as the address book stores it (trimmed, country upper case)."""
    values = {k: str(data.get(k) or "").strip() for k in ADDRESS_FIELDS}
    values["country"] = values["country"].upper()
    return values


def address_remember(
    *, customer: Customer, data: dict, known: bool | None = None, first: bool | None = None
) -> Address | None:
    """Keep an address in the customer's address book (once), made default if it is the first.
    ``known``/``first`` let a caller that has already looked skip the lookups."""
    values = address_values(data)
    if known is None:
        known = customer.addresses.filter(**values).exists()
    if known:
        return None
    if first is None:
        first = not customer.addresses.exists()
    return Address.objects.create(customer=customer, is_default=first, **values)
