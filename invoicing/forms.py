from django import forms

from .choices import PaymentMethod


class PaymentForm(forms.Form):
    """Parses what finance typed; payment_record decides what is allowed."""

    amount = forms.DecimalField(
        max_digits=12,
        decimal_places=2,
        error_messages={
            "required": "Enter the amount received.",
            "invalid": "Enter an amount like 49.90.",
            "max_decimal_places": "Enter at most two decimal places.",
        },
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "inputmode": "decimal"}),
    )
    method = forms.ChoiceField(
        label="Paid by",
        choices=[("", "Choose how the customer paid…"), *PaymentMethod.choices],
        error_messages={
            "required": "Choose how the customer paid.",
            "invalid_choice": "Choose how the customer paid.",
        },
    )
    reference = forms.CharField(
        max_length=100,
        required=False,
        help_text="Card transaction id, bank transfer reference or receipt number.",
        error_messages={"max_length": "Keep the reference under 100 characters."},
    )

    def __init__(self, *args, currency: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if currency:
            self.fields["amount"].label = f"Amount ({currency})"
