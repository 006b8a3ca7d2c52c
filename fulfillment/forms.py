"""Forms of the warehouse screens. They parse input (and report every missing field at once,
in the services' words); the services decide what is allowed and their refusals land next to
the field (core.http.apply_domain_error)."""

from django import forms

from .models import Carrier


class ShipForm(forms.Form):
    carrier = forms.ModelChoiceField(
        queryset=Carrier.objects.none(),
        empty_label="Choose a carrier…",
        error_messages={
            "required": "Choose the carrier.",
            "invalid_choice": "That carrier is not available any more; choose another.",
        },
    )
    tracking_number = forms.CharField(
        max_length=64,
        label="Tracking number",
        error_messages={"required": "Enter the tracking number printed on the label."},
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "class": "mono"}
        ),
        help_text="As printed on the label; scan it or type it.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["carrier"].queryset = Carrier.objects.filter(active=True).order_by("name")


class DeliverForm(forms.Form):
    note = forms.CharField(
        max_length=255,
        required=False,
        label="Delivery note (optional)",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Left with the neighbour at no. 14"}),
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=200,
        required=False,
        label="Why is it cancelled?",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Item damaged on the shelf"}),
        help_text="The units stay reserved for the order.",
    )
