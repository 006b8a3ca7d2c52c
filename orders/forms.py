"""Forms of the staff order pages.

The new-order page posts plain, stable field names (the browser test and the lifecycle test
post to it): the customer and address fields of ``OrderPlaceForm``, and lines as
``lines-<i>-sku`` / ``lines-<i>-quantity`` for i in 0..49 (no management form; blank rows are
skipped), plus ``lines-<i>-unit_price`` / ``lines-<i>-discount`` for roles that may change
prices. ``OrderLines`` parses, looks up and checks those rows. The counter screen posts the
same line names; the edit page posts ``line-<id>-quantity`` for the lines the order has."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django import forms
from django.db.models import Q
from django.urls import reverse

from core.money import quantize, tax_of
from customers.models import Customer
from customers.services import REQUIRED_ADDRESS_FIELDS
from inventory.models import Product, Warehouse
from inventory.selectors import AvailableToPromise, atp_detail
from invoicing.choices import PaymentMethod

from .models import OrderLine, SalesChannel
from .services import substitutes_with_availability

MAX_LINES = 50
MIN_ROWS = 3
ADDRESS_KEYS = ("name", "line1", "line2", "city", "region", "postal_code", "country")


@dataclass(frozen=True)
class ShippingMethod:
    value: str  # what the order keeps
    label: str
    cost: Decimal  # the default shipping charge, net


# The merchant's shipping methods, with the charge the new-order page fills in.
SHIPPING_METHODS = [
    ShippingMethod("Standard", "Standard (2–4 days)", Decimal("4.90")),
    ShippingMethod("Express", "Express (next day)", Decimal("9.90")),
    ShippingMethod("Pickup", "Pickup in store", Decimal("0.00")),
]
DEFAULT_SHIPPING_METHOD = SHIPPING_METHODS[0]


def shipping_method_for(value) -> ShippingMethod | None:
    text = str(value or "").strip().lower()
    return next((m for m in SHIPPING_METHODS if m.value.lower() == text), None)


def shipping_choices(current: str = "") -> list[tuple[str, str]]:
    """The select's options; an order's own method stays selectable when it is not one of ours."""
    choices = [(m.value, m.label) for m in SHIPPING_METHODS]
    if current and shipping_method_for(current) is None:
        choices.append((current, current))
    return choices


def parse_decimal(text) -> Decimal | None:
    """A money or percentage figure typed by staff (a comma works as the decimal mark)."""
    text = str(text or "").strip().replace(" ", "")
    if not text:
        return None
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite():
        raise ValueError(text)
    return value


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
    shipping_method = forms.ChoiceField(
        label="Shipping method",
        required=False,
        choices=shipping_choices(),
        widget=forms.Select(attrs={"data-shipping-method": ""}),
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
        help_text="Bank transfer orders wait on hold until the money is in.",
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
            method = (
                shipping_method_for(self.initial.get("shipping_method")) or DEFAULT_SHIPPING_METHOD
            )
            self.initial["shipping_method"] = method.value
            self.initial.setdefault("shipping_total", method.cost)
        else:
            # Typed in any case ("standard"): the merchant's spelling is kept.
            method = shipping_method_for(self.data.get("shipping_method"))
            if method and self.data.get("shipping_method") != method.value:
                self.data = self.data.copy()
                self.data["shipping_method"] = method.value

    def clean_ship_country(self):
        value = self.cleaned_data["ship_country"].strip().upper()
        if len(value) != 2 or not value.isalpha():
            raise forms.ValidationError("Use the two-letter country code, e.g. DE or US.")
        return value

    def clean_shipping_method(self):
        return self.cleaned_data.get("shipping_method") or DEFAULT_SHIPPING_METHOD.value

    def clean_shipping_total(self):
        value = self.cleaned_data.get("shipping_total")
        if value is None:  # left empty: the method's usual charge
            method = (
                shipping_method_for(self.data.get("shipping_method")) or DEFAULT_SHIPPING_METHOD
            )
            return method.cost
        return value

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


def expected_date_for(atp: AvailableToPromise | None, shortfall: int) -> date | None:
    """When ``shortfall`` more units can be expected: receipts fill waiting backorders oldest
    first, so the date is that of the receipt that covers what already waits plus this."""
    if atp is None or shortfall <= 0:
        return None
    need = atp.backordered + shortfall
    coming = 0
    for e in atp.expected:
        coming += e.quantity
        if coming >= need:
            return e.expected_on
    return None


@dataclass
class Substitute:
    product: Product
    available: int


@dataclass
class LineRow:
    index: int
    sku: str = ""
    quantity_text: str = "1"
    unit_price_text: str = ""
    discount_text: str = ""
    product: Product | None = None
    availability: AvailableToPromise | None = None
    substitutes: list[Substitute] = field(default_factory=list)
    errors: dict[str, list[str]] = field(
        default_factory=lambda: {"sku": [], "quantity": [], "price": []}
    )

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
    def available(self) -> int:
        return max(self.availability.available, 0) if self.availability else 0

    @property
    def short(self) -> bool:
        q = self.quantity
        return bool(self.product and self.availability and q and q > self.available)

    @property
    def shortfall(self) -> int:
        q = self.quantity
        return max((q or 0) - self.available, 0) if self.product else 0

    @property
    def backorders(self) -> bool:
        """Short, and the product may be backordered: the rest waits for stock."""
        return self.short and self.product.allow_backorder

    @property
    def expected_on(self) -> date | None:
        return expected_date_for(self.availability, self.shortfall) if self.backorders else None

    @property
    def next_expected(self):
        return self.availability.next_expected if self.availability else None

    @property
    def warehouses(self) -> list[tuple[str, int]]:
        """Warehouses that hold some of it, for the availability line."""
        if not self.availability:
            return []
        return [(code, n) for code, n in self.availability.per_warehouse.items() if n > 0]

    @property
    def list_price(self) -> Decimal | None:
        return self.product.price if self.product else None

    @property
    def unit_price(self) -> Decimal | None:
        """The price typed, or the one a discount gives; None when the catalogue price holds.
        Raises ValueError for what is not a number."""
        if not self.product:
            return None
        price = parse_decimal(self.unit_price_text)
        if price is not None:
            return quantize(price)
        discount = parse_decimal(self.discount_text)
        if discount is not None:
            return quantize(self.product.price * (Decimal("100") - discount) / Decimal("100"))
        return None

    @property
    def price(self) -> Decimal | None:
        """The unit price the line will be sold at (the catalogue's unless changed)."""
        if not self.product:
            return None
        try:
            custom = self.unit_price
        except ValueError:
            custom = None
        return self.product.price if custom is None else custom

    @property
    def overridden(self) -> bool:
        return self.product is not None and self.price != self.product.price

    @property
    def discount_percent(self) -> Decimal | None:
        """The discount typed, or the one a typed price amounts to."""
        if not self.overridden or not self.product.price:
            return None
        if not self.unit_price_text.strip():
            try:
                typed = parse_decimal(self.discount_text)
            except ValueError:
                typed = None
            if typed is not None:
                return typed
        return quantize((self.product.price - self.price) / self.product.price * 100)

    @property
    def net_total(self):
        q = self.quantity
        if self.product and q and q > 0:
            return quantize(self.price * q)
        return None

    @property
    def gross_total(self):
        net = self.net_total
        return None if net is None else net + tax_of(net, self.product.tax_rate)

    @property
    def gross_price(self):
        return (
            None if self.product is None else self.price + tax_of(self.price, self.product.tax_rate)
        )

    @property
    def has_errors(self) -> bool:
        return any(self.errors.values())


def line_rows_data(rows) -> dict[str, str]:
    """Rows back into the posted field names, renumbered from 0 (the counter keeps its lines
    compact as they come and go)."""
    data = {}
    for j, (sku, qty) in enumerate(rows):
        data[f"lines-{j}-sku"] = sku
        data[f"lines-{j}-quantity"] = qty
    return data


class OrderLines:
    """The ``lines-<i>-sku`` / ``lines-<i>-quantity`` rows of the new-order form (and the
    optional ``lines-<i>-unit_price`` / ``lines-<i>-discount``)."""

    def __init__(self, data=None, *, min_rows: int = MIN_ROWS, extra: int = 0):
        data = data or {}
        rows = []
        for i in range(MAX_LINES):
            sku = data.get(f"lines-{i}-sku")
            qty = data.get(f"lines-{i}-quantity")
            if sku is None and qty is None:
                continue
            rows.append(
                LineRow(
                    index=i,
                    sku=(sku or "").strip(),
                    quantity_text=(qty or "").strip(),
                    unit_price_text=(data.get(f"lines-{i}-unit_price") or "").strip(),
                    discount_text=(data.get(f"lines-{i}-discount") or "").strip(),
                )
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
        atp = atp_detail(product_ids={r.product.pk for r in self.rows if r.product})
        for r in self.rows:
            if r.product:
                r.availability = atp.get(r.product.pk)
        short = [r for r in self.rows if r.short]
        if short:
            subs = substitutes_with_availability(product_ids={r.product.pk for r in short})
            for r in short:
                r.substitutes = [Substitute(p, n) for p, n in subs.get(r.product.pk, [])]

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
        quantity of at least 1, a sensible price or discount. (Stock is checked by the
        service, under lock; who may change a price too.)"""
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
            r.errors["price"].extend(price_errors(r.unit_price_text, r.discount_text))
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
                fieldname = {"sku": "sku", "unit_price": "price", "discount": "price"}.get(
                    parts[2], "quantity"
                )
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
                net = r.net_total
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


def price_errors(unit_price_text: str, discount_text: str) -> list[str]:
    errors = []
    try:
        price = parse_decimal(unit_price_text)
    except ValueError:
        errors.append("Enter the unit price as a number, e.g. 19.90.")
    else:
        if price is not None and price < 0:
            errors.append("A price cannot be negative.")
    if not unit_price_text.strip():
        try:
            discount = parse_decimal(discount_text)
        except ValueError:
            errors.append("Enter the discount as a percentage, e.g. 10.")
        else:
            if discount is not None and not Decimal("0") <= discount <= Decimal("100"):
                errors.append("A discount is between 0 and 100 %.")
    return errors


# ---------------------------------------------------------------- counter sale


COUNTER_PAYMENT_CHOICES = [(PaymentMethod.CARD, "Card"), (PaymentMethod.CASH, "Cash")]


class CounterForm(forms.Form):
    """The counter screen's payment side; its lines are ``OrderLines`` rows."""

    scan = forms.CharField(
        label="Scan or type a SKU",
        required=False,
        max_length=64,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "spellcheck": "false",
                "class": "mono scan-input",
                "placeholder": "Barcode, SKU or name",
            }
        ),
    )
    payment_method = forms.ChoiceField(
        label="Payment",
        choices=COUNTER_PAYMENT_CHOICES,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose how the customer pays.",
            "invalid_choice": "Choose how the customer pays: card or cash.",
        },
    )
    cash_received = forms.DecimalField(
        label="Cash received",
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        error_messages={
            "min_value": "Enter the cash handed over, or leave it empty.",
            "invalid": "Enter the cash handed over as a number, e.g. 50.",
        },
        widget=forms.NumberInput(
            attrs={"step": "0.01", "min": "0", "class": "num", "inputmode": "decimal"}
        ),
    )
    payment_reference = forms.CharField(
        label="Card terminal receipt no.",
        required=False,
        max_length=64,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "class": "mono", "placeholder": "Optional"}
        ),
    )
    email = forms.EmailField(
        label="Customer email",
        required=False,
        error_messages={
            "invalid": "Enter a valid email address, or leave it empty for a walk-in customer."
        },
        widget=forms.EmailInput(
            attrs={"autocomplete": "off", "placeholder": "Optional: receipt by email"}
        ),
    )
    name = forms.CharField(
        label="Customer name",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "Optional"}),
    )
    warehouse = forms.ModelChoiceField(
        label="Store",
        queryset=Warehouse.objects.filter(active=True).order_by("priority", "code"),
        to_field_name="code",
        empty_label=None,
        error_messages={"invalid_choice": "Choose the store the goods leave from."},
    )

    def __init__(self, *args, warehouse: Warehouse | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # Another store: show its shelves (htmx; without it the next scan shows them).
        self.fields["warehouse"].widget.attrs.update(
            {"hx-post": reverse("orders:counter"), "hx-trigger": "change"}
        )
        if not self.is_bound:
            self.initial.setdefault("payment_method", PaymentMethod.CARD)
            if warehouse is not None:
                self.initial.setdefault("warehouse", warehouse.code)


# ---------------------------------------------------------------- edit before shipping


class OrderEditForm(forms.Form):
    """Address and shipping of an order being edited (its lines are ``EditLines``)."""

    ship_name = OrderPlaceForm.base_fields["ship_name"]
    ship_line1 = OrderPlaceForm.base_fields["ship_line1"]
    ship_line2 = OrderPlaceForm.base_fields["ship_line2"]
    ship_postal_code = OrderPlaceForm.base_fields["ship_postal_code"]
    ship_city = OrderPlaceForm.base_fields["ship_city"]
    ship_region = OrderPlaceForm.base_fields["ship_region"]
    ship_country = OrderPlaceForm.base_fields["ship_country"]
    shipping_method = forms.ChoiceField(label="Shipping method", choices=shipping_choices())
    shipping_total = forms.DecimalField(
        label="Shipping cost",
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0"),
        error_messages={
            "min_value": "Shipping cannot be negative.",
            "required": "Enter the shipping cost (0 for free shipping).",
        },
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "class": "num"}),
    )

    def __init__(self, *args, order, **kwargs):
        if "initial" not in kwargs:
            kwargs["initial"] = {
                **{f"ship_{k}": getattr(order, f"ship_{k}") for k in ADDRESS_KEYS},
                "shipping_method": order.shipping_method,
                "shipping_total": order.shipping_total,
            }
        super().__init__(*args, **kwargs)
        self.order = order
        self.fields["shipping_method"].choices = shipping_choices(order.shipping_method)
        for key, message in REQUIRED_ADDRESS_FIELDS.items():
            self.fields[f"ship_{key}"].error_messages["required"] = message
        self.fields["ship_country"].error_messages.update(
            min_length="Use the two-letter country code, e.g. DE or US.",
            max_length="Use the two-letter country code, e.g. DE or US.",
        )

    def clean_ship_country(self):
        value = self.cleaned_data["ship_country"].strip().upper()
        if len(value) != 2 or not value.isalpha():
            raise forms.ValidationError("Use the two-letter country code, e.g. DE or US.")
        return value

    def address(self) -> dict:
        return {key: self.cleaned_data.get(f"ship_{key}", "") or "" for key in ADDRESS_KEYS}


@dataclass
class EditRow:
    """One line the order already has, with the quantity typed for it."""

    line: OrderLine
    quantity_text: str
    unit_price_text: str = ""
    errors: dict[str, list[str]] = field(default_factory=lambda: {"quantity": [], "price": []})

    @property
    def field_prefix(self) -> str:
        return f"line-{self.line.pk}"

    @property
    def min_quantity(self) -> int:
        """Shipped units and units in an open shipment cannot be taken away by an edit."""
        return self.line.quantity_shipped + self.line.quantity_allocated

    @property
    def current(self) -> int:
        return self.line.quantity_effective

    @property
    def quantity(self) -> int | None:
        try:
            return int(self.quantity_text.strip())
        except (TypeError, ValueError):
            return None

    @property
    def unit_price(self) -> Decimal | None:
        try:
            price = parse_decimal(self.unit_price_text)
        except ValueError:
            return None
        return None if price is None else quantize(price)

    @property
    def price(self) -> Decimal:
        return self.unit_price if self.unit_price is not None else self.line.unit_price

    @property
    def editable(self) -> bool:
        """Something on the line has not shipped yet."""
        return self.line.quantity_open > 0

    @property
    def removed(self) -> bool:
        return self.valid_quantity == 0 and self.current > 0

    @property
    def valid_quantity(self) -> int | None:
        q = self.quantity
        return q if q is not None and q >= self.line.quantity_shipped else None

    @property
    def quantity_changed(self) -> bool:
        return self.valid_quantity is not None and self.valid_quantity != self.current

    @property
    def price_changed(self) -> bool:
        return self.unit_price is not None and self.unit_price != self.line.unit_price

    @property
    def net_total(self) -> Decimal:
        q = self.valid_quantity
        return quantize(self.price * (self.current if q is None else q))

    @property
    def has_errors(self) -> bool:
        return any(self.errors.values())


class EditLines:
    """``line-<id>-quantity`` (and ``line-<id>-unit_price``) for the lines an order has."""

    def __init__(self, lines: list[OrderLine], data=None):
        self.rows = []
        for ln in lines:
            if data is None:
                qty, price = str(ln.quantity_effective), ""
            else:
                qty = (data.get(f"line-{ln.pk}-quantity") or "").strip()
                price = (data.get(f"line-{ln.pk}-unit_price") or "").strip()
                if not qty and not ln.quantity_open:
                    qty = str(ln.quantity_effective)
            self.rows.append(EditRow(line=ln, quantity_text=qty, unit_price_text=price))

    def validate(self) -> bool:
        ok = True
        for r in self.rows:
            q = r.quantity
            if q is None:
                r.errors["quantity"].append("Enter a whole number; 0 removes the line.")
            elif q < 0:
                r.errors["quantity"].append("Quantity cannot be negative; 0 removes the line.")
            elif q < r.line.quantity_shipped:
                r.errors["quantity"].append(
                    f"{r.line.quantity_shipped} shipped already: the quantity cannot go below that."
                )
            r.errors["price"].extend(price_errors(r.unit_price_text, ""))
            ok = ok and not r.has_errors
        return ok

    @property
    def changed(self) -> list[EditRow]:
        return [r for r in self.rows if r.quantity_changed or r.price_changed]


class LineCancelForm(forms.Form):
    quantity = forms.IntegerField(
        label="Units to cancel",
        min_value=1,
        error_messages={
            "required": "Enter how many units to cancel.",
            "min_value": "Cancel at least one unit.",
            "invalid": "Enter a whole number of units.",
        },
        widget=forms.NumberInput(
            attrs={"min": "1", "step": "1", "class": "num", "inputmode": "numeric"}
        ),
    )
    reason = forms.CharField(
        label="Why?",
        max_length=255,
        error_messages={"required": "Say why the units are cancelled; the customer is told."},
        widget=forms.TextInput(attrs={"placeholder": "e.g. Customer no longer needs it"}),
    )

    def __init__(self, *args, line: OrderLine, **kwargs):
        super().__init__(*args, **kwargs)
        self.line = line
        # Units in an open shipment stay (the service refuses them and says which shipment).
        free = max(line.quantity_open - line.quantity_allocated, 0)
        self.fields["quantity"].widget.attrs["max"] = str(free)
        if not self.is_bound:
            self.initial.setdefault("quantity", free)

    def clean_quantity(self):
        value = self.cleaned_data["quantity"]
        if value > self.line.quantity_open:
            raise forms.ValidationError(
                f"Only {self.line.quantity_open} of {self.line.sku} can still be cancelled."
            )
        return value
