"""Forms of the customer pages (no login): order lookup and the return request."""

from django import forms
from django.conf import settings

from returns.choices import ReturnReason


class LookupForm(forms.Form):
    number = forms.CharField(
        label="Order number",
        max_length=40,
        error_messages={"required": "Enter the order number from your confirmation email."},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "placeholder": f"e.g. {settings.ORDER_NUMBER_PREFIX}10042",
            }
        ),
    )
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={
            "required": "Enter the email address you ordered with.",
            "invalid": "Enter an email address like name@example.com.",
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": "you@example.com"}),
    )

    def clean_number(self) -> str:
        return self.cleaned_data["number"].strip().lstrip("#").strip().upper()

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip()


class ReturnForm(forms.Form):
    """One quantity input per returnable line (``line-<order_line_id>``), a reason and a note."""

    reason = forms.ChoiceField(
        label="Why are you sending them back?",
        choices=[("", "Choose a reason…"), *ReturnReason.choices],
        error_messages={"required": "Choose why the items are coming back."},
    )
    note = forms.CharField(
        label="Anything we should know? (optional)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "For example: the zip on the jacket is broken."}
        ),
    )

    def __init__(self, *args, lines, returnable: dict[int, int], **kwargs):
        super().__init__(*args, **kwargs)
        self.line_rows = []
        fields = {}
        for line in lines:
            most = returnable.get(line.pk, 0)
            if most <= 0:
                continue
            name = f"line-{line.pk}"
            fields[name] = forms.IntegerField(
                label=line.name,
                required=False,
                min_value=0,
                max_value=most,
                initial=0,
                error_messages={
                    "invalid": "Enter a whole number.",
                    "min_value": "Enter 0 or more.",
                    "max_value": f"You can return up to {most}.",
                },
                widget=forms.NumberInput(
                    attrs={
                        "min": 0,
                        "max": most,
                        "step": 1,
                        "inputmode": "numeric",
                        "class": "qty-input",
                    }
                ),
            )
            self.line_rows.append((line, most, name))
        # Item inputs first, then the reason and the note (the order a customer fills them in).
        self.fields = {**fields, **self.fields}

    @property
    def line_fields(self):
        return [(line, most, self[name]) for line, most, name in self.line_rows]

    def quantities(self) -> dict[int, int]:
        return {
            line.pk: self.cleaned_data.get(name) or 0
            for line, _, name in self.line_rows
            if self.cleaned_data.get(name)
        }


class FeedbackForm(forms.Form):
    """The delivery rating: 1 to 5 stars and an optional comment."""

    rating = forms.TypedChoiceField(
        label="How was your delivery?",
        choices=[(n, f"{n} out of 5") for n in range(5, 0, -1)],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a rating from 1 (poor) to 5 (excellent).",
            "invalid_choice": "Choose a rating from 1 (poor) to 5 (excellent).",
        },
    )
    comment = forms.CharField(
        label="Anything to add? (optional)",
        required=False,
        max_length=2000,
        error_messages={"max_length": "Keep it under 2,000 characters."},
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "For example: the driver left it with a neighbour."}
        ),
    )
