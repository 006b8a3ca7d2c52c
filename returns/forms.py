"""Forms of the returns screens. They parse; the services decide (and their refusals land
next to the field they name: ``reason``, ``lines``, ``line-<order_line_id>``)."""

from django import forms

from .choices import ReturnReason, ReturnStatus


def _qty_field(*, maximum: int, initial: int, label: str) -> forms.IntegerField:
    return forms.IntegerField(
        min_value=0,
        required=False,
        initial=initial,
        label=label,
        error_messages={
            "invalid": "Enter a whole number.",
            "min_value": "Enter 0 or more.",
        },
        widget=forms.NumberInput(
            attrs={
                "min": 0,
                "max": maximum,
                "step": 1,
                "class": "wh-qty-input",
                "inputmode": "numeric",
            }
        ),
    )


class ReturnCreateForm(forms.Form):
    """One quantity per returnable order line (``line-<id>``), a reason and a note."""

    reason = forms.ChoiceField(
        choices=[("", "Choose a reason…"), *ReturnReason.choices],
        required=False,
        label="Reason",
    )
    note = forms.CharField(
        required=False,
        label="Note (optional)",
        max_length=2000,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "What the customer told you, the state of the items…"}
        ),
    )

    def __init__(self, *args, lines, returnable: dict[int, int], **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = []
        for ln in lines:
            available = returnable.get(ln.pk, 0)
            if available <= 0:
                continue
            name = f"line-{ln.pk}"
            self.fields[name] = _qty_field(
                maximum=available, initial=0, label=f"Quantity of {ln.name} to return"
            )
            self.lines.append({"line": ln, "returnable": available, "name": name})

    def line_rows(self):
        return [{**row, "field": self[row["name"]]} for row in self.lines]

    def quantities(self) -> dict[int, int]:
        return {
            row["line"].pk: self.cleaned_data.get(row["name"]) or 0
            for row in self.lines
            if self.cleaned_data.get(row["name"])
        }


class ReturnReceiveForm(forms.Form):
    """What actually arrived: a received quantity per return line and whether it goes back on the shelf."""

    restock = forms.BooleanField(
        required=False,
        initial=True,
        label="Put the received items back in stock",
        help_text="Untick for items that cannot be sold again (damaged, used).",
    )

    def __init__(self, *args, return_lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = []
        for rl in return_lines:
            name = f"line-{rl.order_line_id}"
            self.fields[name] = _qty_field(
                maximum=rl.quantity,
                initial=rl.quantity,
                label=f"Received quantity of {rl.order_line.name}",
            )
            self.rows.append({"line": rl, "name": name})

    def line_rows(self):
        return [{**row, "field": self[row["name"]]} for row in self.rows]

    def quantities(self) -> dict[int, int]:
        return {
            row["line"].order_line_id: self.cleaned_data.get(row["name"]) or 0 for row in self.rows
        }


class RejectForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=200,
        label="Why is it rejected?",
        help_text="The customer sees this on their status page.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Outside the 30-day return window"}),
    )


class ReturnFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        label="Search",
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Return or order number, customer name or email",
            }
        ),
    )
    status = forms.ChoiceField(
        required=False, label="Status", choices=[("", "Any status"), *ReturnStatus.choices]
    )
