from django.db import IntegrityError, transaction

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


@transaction.atomic
def customer_get_or_create(*, email: str, name: str, phone: str = "") -> Customer:
    email = email.strip()
    if not email or "@" not in email:
        raise ValidationFailed({"email": ["Enter the customer's email address."]})
    existing = Customer.objects.filter(email__iexact=email).first()
    if existing:
        return existing
    if not name.strip():
        raise ValidationFailed({"name": ["Enter the customer's name."]})
    try:
        with transaction.atomic():
            return Customer.objects.create(email=email, name=name.strip(), phone=phone.strip())
    except IntegrityError:  # created by someone else a moment ago
        return Customer.objects.get(email__iexact=email)


@transaction.atomic
def address_remember(*, customer: Customer, data: dict) -> Address:
    """Keep an address in the customer's address book (once), made default if it is the first."""
    values = {k: str(data.get(k) or "").strip() for k in ADDRESS_FIELDS}
    values["country"] = values["country"].upper()
    existing = customer.addresses.filter(**values).first()
    if existing:
        return existing
    first = not customer.addresses.exists()
    return Address.objects.create(customer=customer, is_default=first, **values)
