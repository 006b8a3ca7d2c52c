"""Forms of the staff order pages.

The new-order page posts plain, stable field names (the browser test and the lifecycle test
post to it): the customer and address fields of ``OrderPlaceForm``, and lines as
``lines-<i>-sku`` / ``lines-<i>-quantity`` for i in 0..49 (no management form; blank rows are
skipped). ``OrderLines`` parses, looks up and checks those rows."""

from dataclasses import dataclass, field
from decimal import Decimal

from django import forms
from django.db.models import Q

from core.money import quantize, tax_of
from customers.models import Customer
from customers.services import REQUIRED_ADDRESS_FIELDS
from inventory.models import Product
from inventory.selectors import Availability, availability_for
from invoicing.choices import PaymentMethod

from .models import SalesChannel

MAX_LINES = 50
MIN_ROWS = 3
SHIPPING_METHODS = ["Standard", "Express", "Next day", "Pickup at counter"]
ADDRESS_KEYS = ("name", "line1", "line2", "city", "region", "postal_code", "country")


class OrderPlaceForm(forms.Form):
    customer = forms.CharField(required=False, widget=forms.HiddenInput)  # picked in the UI
    email = forms.EmailField(
        label="Email",
        required=False,
        error_messages={"invalid": "Enter a valid email address, e.g. name@example.com."},
        widget=forms.EmailInput(attrs={"autocomplete": "off", "placeholder": "name@example.com"}),
    )
    name = forms.CharField(label="Customer name", max_length=200, required=False)
    phone = forms.CharField(
        label="Phone", max_length=40, required=False, widget=forms.TextInput(attrs={"type": "tel"})
    )

    ship_name = forms.CharField(label="Recipient", max_length=200)
    ship_line1 = forms.CharField(label="Street and number", max_length=200)
    ship_line2 = forms.CharField(label="Address line 2", max_length=200, required=False)
    ship_postal_code = forms.CharField(label="Postal code", max_length=20)
    ship_city = forms.CharField(label="City", max_length=100)
    ship_region = forms.CharField(label="Region", max_length=100, required=False)
    ship_country = forms.CharField(
        label="Country",
        max_length=2,
        min_length=2,
        widget=forms.TextInput(
            attrs={"placeholder": "DE", "autocapitalize": "characters", "size": 3, "class": "mono"}
        ),
    )

    channel = forms.ModelChoiceField(
        label="Channel",
        queryset=SalesChannel.objects.filter(active=True),
        to_field_name="slug",
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of the active sales channels."},
    )
    shipping_method = forms.CharField(
        label="Shipping method",
        max_length=50,
        required=False,
        widget=forms.TextInput(attrs={"list": "shipping-methods", "placeholder": "Standard"}),
    )
    shipping_total = forms.DecimalField(
        label="Shipping cost",
        max_digits=12,
        decimal_places=2,
        required=False,
        min_value=Decimal("0"),
        error_messages={"min_value": "Shipping cannot be negative."},
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "class": "num"}),
    )
    payment_method = forms.ChoiceField(
        label="Payment method",
        required=False,
        choices=[("", "Not yet known"), *PaymentMethod.choices],
    )
    notes = forms.CharField(
        label="Internal notes",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Only staff see these"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, message in REQUIRED_ADDRESS_FIELDS.items():
            self.fields[f"ship_{key}"].error_messages["required"] = message
        self.fields["ship_country"].error_messages.update(
            min_length="Use the two-letter country code, e.g. DE or US.",
            max_length="Use the two-letter country code, e.g. DE or US.",
        )
        if not self.is_bound:
            channels = list(self.fields["channel"].queryset)
            default = next((c for c in channels if c.slug == "phone"), None) or next(
                (c for c in channels if c.kind == "phone"), None
            )
            if default:
                self.initial.setdefault("channel", default.slug)
            self.initial.setdefault("shipping_total", Decimal("0.00"))

    def clean_ship_country(self):
        value = self.cleaned_data["ship_country"].strip().upper()
        if len(value) != 2 or not value.isalpha():
            raise forms.ValidationError("Use the two-letter country code, e.g. DE or US.")
        return value

    def clean_shipping_total(self):
        value = self.cleaned_data.get("shipping_total")
        return Decimal("0.00") if value is None else value

    def clean(self):
        data = super().clean()
        email = (data.get("email") or "").strip()
        if "email" not in self.errors:
            if not email:
                self.add_error("email", "Enter the customer's email address.")
            elif (
                not (data.get("name") or "").strip()
                and not Customer.objects.filter(email__iexact=email).exists()
            ):
                self.add_error("name", "Enter the customer's name (new customer).")
        return data

    def address(self) -> dict:
        return {key: self.cleaned_data.get(f"ship_{key}", "") or "" for key in ADDRESS_KEYS}

    def picked_customer(self) -> Customer | None:
        """The customer chosen in the picker, if the form still holds their email."""
        pk = self.data.get("customer")
        if not pk or not str(pk).isdigit():
            return None
        customer = Customer.objects.filter(pk=pk).first()
        if customer and customer.email.lower() == (self.data.get("email") or "").strip().lower():
            return customer
        return None


def product_lookup(texts) -> dict[str, Product]:
    """Exact SKU (any case) or barcode for each text; the key is the text upper-cased."""
    texts = {t.strip() for t in texts if t and t.strip()}
    if not texts:
        return {}
    q = Q(barcode__in=texts)
    for t in texts:
        q |= Q(sku__iexact=t)
    found: dict[str, Product] = {}
    for p in Product.objects.filter(q):
        for t in texts:
            if p.sku.upper() == t.upper() or (p.barcode and p.barcode == t):
                found.setdefault(t.upper(), p)
    return found


@dataclass
class LineRow:
    index: int
    sku: str = ""
    quantity_text: str = "1"
    product: Product | None = None
    availability: Availability | None = None
    errors: dict[str, list[str]] = field(default_factory=lambda: {"sku": [], "quantity": []})

    @property
    def prefix(self) -> str:
        return f"lines-{self.index}"

    @property
    def blank(self) -> bool:
        return not self.sku.strip()

    @property
    def quantity(self) -> int | None:
        try:
            return int(self.quantity_text.strip())
        except (TypeError, ValueError):
            return None

    @property
    def short(self) -> bool:
        q = self.quantity
        return bool(
            self.product and self.availability and q and q > max(self.availability.available, 0)
        )

    @property
    def net_total(self):
        q = self.quantity
        if self.product and q and q > 0:
            return self.product.price * q
        return None

    @property
    def has_errors(self) -> bool:
        return bool(self.errors["sku"] or self.errors["quantity"])


class OrderLines:
    """The ``lines-<i>-sku`` / ``lines-<i>-quantity`` rows of the new-order form."""

    def __init__(self, data=None, *, min_rows: int = MIN_ROWS, extra: int = 0):
        data = data or {}
        rows = []
        for i in range(MAX_LINES):
            sku = data.get(f"lines-{i}-sku")
            qty = data.get(f"lines-{i}-quantity")
            if sku is None and qty is None:
                continue
            rows.append(
                LineRow(index=i, sku=(sku or "").strip(), quantity_text=(qty or "").strip())
            )
        last = max((r.index for r in rows if not r.blank), default=-1)
        keep = max(min_rows - 1, last) + extra
        by_index = {r.index: r for r in rows}
        self.rows = [by_index.get(i) or LineRow(index=i) for i in range(min(keep + 1, MAX_LINES))]
        self._resolve()

    def _resolve(self) -> None:
        products = product_lookup(r.sku for r in self.rows if not r.blank)
        for r in self.rows:
            r.product = products.get(r.sku.upper()) if not r.blank else None
        avail = availability_for(product_ids=list({r.product.pk for r in self.rows if r.product}))
        for r in self.rows:
            if r.product:
                r.availability = avail.get(r.product.pk)

    @property
    def filled(self) -> list[LineRow]:
        return [r for r in self.rows if not r.blank]

    @property
    def next_index(self) -> int:
        return self.rows[-1].index + 1 if self.rows else 0

    def row(self, index: int) -> LineRow:
        return next((r for r in self.rows if r.index == index), LineRow(index=index))

    def validate(self) -> bool:
        """Per-row checks the view can make before the service: a known product, a whole
        quantity of at least 1. (Stock is checked by the service, under lock.)"""
        ok = True
        for r in self.filled:
            if r.product is None:
                r.errors["sku"].append(f"No product with SKU or barcode “{r.sku}”.")
            elif not r.product.active:
                r.errors["sku"].append(f"{r.product.sku} is no longer sold.")
            q = r.quantity
            if q is None:
                r.errors["quantity"].append("Enter a whole number of at least 1.")
            elif q <= 0:
                r.errors["quantity"].append("Quantity must be at least 1.")
            ok = ok and not r.has_errors
        return ok

    def apply_service_errors(self, errors: dict[str, list[str]], positions: list[int]) -> list[str]:
        """Put ``lines-<n>-<field>`` errors (n = position in the list given to the service) on
        their rows; return the messages that belong to no row."""
        leftover = []
        for key, msgs in errors.items():
            parts = key.split("-")
            if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit():
                pos = int(parts[1])
                fieldname = "sku" if parts[2] == "sku" else "quantity"
                if pos < len(positions):
                    self.row(positions[pos]).errors[fieldname].extend(msgs)
                    continue
            if key == "lines" or key.startswith("lines-"):
                leftover.extend(msgs)
        return leftover

    def totals(self, shipping=None) -> dict:
        """What the order will cost (the service computes the real figures the same way)."""
        subtotal = tax = Decimal("0.00")
        units = 0
        for r in self.filled:
            if r.net_total is not None:
                net = quantize(r.net_total)
                subtotal += net
                tax += tax_of(net, r.product.tax_rate)
                units += r.quantity
        try:
            shipping = quantize(shipping or 0)
        except (ArithmeticError, TypeError, ValueError):
            shipping = Decimal("0.00")
        if shipping < 0:
            shipping = Decimal("0.00")
        return {
            "subtotal": subtotal,
            "tax": tax,
            "shipping": shipping,
            "units": units,
            "total": subtotal + tax + shipping,
        }
