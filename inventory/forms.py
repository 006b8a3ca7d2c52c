"""Forms of the stock screens: they parse what was typed; the services decide what is allowed."""

from django import forms
from django.db.models import Q
from django.utils import dateformat, timezone

from .models import ExpectedReceipt, Product, Warehouse

ADJUST_REASONS = [
    "Damaged",
    "Lost",
    "Found",
    "Expired",
    "Stolen",
    "Sample taken",
    "Data correction",
]


class WarehouseField(forms.ModelChoiceField):
    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", Warehouse.objects.order_by("-active", "priority", "code"))
        kwargs.setdefault("empty_label", "Choose a warehouse…")
        kwargs.setdefault(
            "error_messages",
            {
                "required": "Choose a warehouse.",
                "invalid_choice": "Choose one of the warehouses listed.",
            },
        )
        super().__init__(**kwargs)

    def label_from_instance(self, obj):
        return f"{obj.code} · {obj.name}" + ("" if obj.active else " (inactive)")


def quantity_field(
    label="Quantity",
    *,
    min_value=1,
    help_text="",
    required_message="Enter a quantity.",
    autofocus=False,
):
    attrs = {"min": str(min_value), "step": "1", "inputmode": "numeric"}
    if autofocus:
        attrs["autofocus"] = True
    return forms.IntegerField(
        label=label,
        min_value=min_value,
        help_text=help_text,
        error_messages={
            "required": required_message,
            "invalid": "Enter a whole number, like 12.",
            "min_value": f"Enter {min_value} or more.",
        },
        widget=forms.NumberInput(attrs=attrs),
    )


def reference_field(help_text=""):
    return forms.CharField(
        max_length=100,
        required=False,
        help_text=help_text,
        error_messages={"max_length": "Keep the reference under 100 characters."},
    )


class ExpectedReceiptChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, er):
        today = timezone.localdate()
        late = " · late" if er.expected_on < today else ""
        ref = f" · {er.reference}" if er.reference else ""
        return f"{er.quantity_open} due {dateformat.format(er.expected_on, 'j M')} into {er.warehouse.code}{ref}{late}"


class ReceiveForm(forms.Form):
    expected_receipt = ExpectedReceiptChoiceField(
        queryset=ExpectedReceipt.objects.none(),
        required=False,
        label="Against expected receipt",
        empty_label="None: an unannounced delivery",
        error_messages={
            "invalid_choice": "That expected receipt is no longer open; choose another or none."
        },
    )
    warehouse = WarehouseField(label="Into warehouse")
    quantity = quantity_field(
        "Units received", required_message="Enter how many units arrived.", autofocus=True
    )
    reference = reference_field("Supplier delivery note or purchase order number.")

    def __init__(self, *args, product: Product, **kwargs):
        super().__init__(*args, **kwargs)
        self.product = product
        self.fields["expected_receipt"].queryset = (
            ExpectedReceipt.objects.filter(product=product, status=ExpectedReceipt.Status.OPEN)
            .select_related("warehouse")
            .order_by("expected_on", "id")
        )


class AdjustForm(forms.Form):
    warehouse = WarehouseField()
    delta = forms.IntegerField(
        label="Change in units",
        help_text="Positive adds units, negative removes them: -2 for two damaged.",
        error_messages={
            "required": "Enter how many units to add (e.g. 3) or remove (e.g. -2).",
            "invalid": "Enter a whole number: 3 to add, -2 to remove.",
        },
        widget=forms.NumberInput(attrs={"step": "1", "autofocus": True}),
    )
    reason = forms.CharField(
        max_length=200,
        help_text="Kept in the ledger with your name.",
        error_messages={
            "required": "Say why the stock is adjusted (damaged, lost, found…).",
            "max_length": "Keep the reason under 200 characters.",
        },
        widget=forms.TextInput(attrs={"list": "adjust-reasons", "autocomplete": "off"}),
    )
    reference = reference_field()

    def clean_delta(self):
        delta = self.cleaned_data["delta"]
        if delta == 0:
            raise forms.ValidationError("An adjustment changes the quantity by at least one unit.")
        return delta


class CountForm(forms.Form):
    warehouse = WarehouseField()
    counted = quantity_field(
        "Units counted on the shelf",
        min_value=0,
        required_message="Enter how many units you counted.",
        autofocus=True,
    )
    reason = forms.CharField(
        max_length=120,
        required=False,
        initial="Cycle count",
        error_messages={"max_length": "Keep the note under 120 characters."},
    )
    # What the system held when the variance was shown; the count applies only if unchanged.
    system = forms.IntegerField(required=False, widget=forms.HiddenInput)
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)


class TransferForm(forms.Form):
    source = WarehouseField(label="From")
    destination = WarehouseField(label="To")
    quantity = quantity_field(
        "Units to move", required_message="Enter how many units to move.", autofocus=True
    )
    reference = reference_field("Transfer note or pallet number.")

    def clean(self):
        data = super().clean()
        if data.get("source") and data.get("source") == data.get("destination"):
            self.add_error("destination", "Choose a different warehouse to move the stock to.")
        return data


class ExpectedReceiptForm(forms.Form):
    product = forms.CharField(
        label="Product",
        max_length=64,
        help_text="SKU or barcode.",
        error_messages={"required": "Enter the SKU or barcode of the product on its way."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "mono"}),
    )
    warehouse = WarehouseField(
        label="Into warehouse", queryset=Warehouse.objects.filter(active=True)
    )
    quantity = quantity_field(
        "Units expected", required_message="Enter how many units are on their way."
    )
    expected_on = forms.DateField(
        label="Expected on",
        error_messages={
            "required": "Enter the date the supplier promised.",
            "invalid": "Enter a date like 2025-06-30.",
        },
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    reference = reference_field("Supplier order number.")

    def clean_product(self):
        text = self.cleaned_data["product"].strip()
        product = Product.objects.filter(
            Q(sku__iexact=text) | (Q(barcode=text) & ~Q(barcode=""))
        ).first()
        if product is None:
            raise forms.ValidationError(f"No product has the SKU or barcode “{text}”.")
        return product
