"""Orders from a CSV file: parse and check it (the preview), then place its orders one by one,
each all-or-nothing, through ``order_place`` — the same path as every other channel.

The file format (one row per order line; rows with the same ``external_id`` form one order)::

    external_id       required  the order's id in the channel; unique per channel, so a file
                                imported twice creates nothing new
    email             required  the customer's email (the customer is found or created)
    name                        the customer's name; defaults to ship_name
    phone
    ship_name         required  recipient
    ship_line1        required
    ship_line2
    ship_city         required
    ship_region
    ship_postal_code  required
    ship_country      required  two letters, e.g. DE
    currency                    three letters; defaults to the shop's currency
    sku               required  an active product's SKU
    quantity          required  a whole number, at least 1
    unit_price                  net price per unit; defaults to the catalogue price
    shipping_method
    shipping_total              defaults to 0
    notes

Order-level columns (everything but sku, quantity and unit_price) may be left blank on the
second and later rows of an order; where they are filled in, they must agree with the first
row. Line numbers are the file's own: the header is line 1. Comma or semicolon separated,
UTF-8 (a byte-order mark is fine)."""

import csv
import functools
import hashlib
import io
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core import roles
from core.errors import DomainError, ValidationFailed
from inventory.models import Product
from inventory.selectors import availability_for

from .choices import EventSource
from .models import ImportBatch, Order, SalesChannel
from .services import LineInput, order_place

COLUMNS = [
    "external_id",
    "email",
    "name",
    "phone",
    "ship_name",
    "ship_line1",
    "ship_line2",
    "ship_city",
    "ship_region",
    "ship_postal_code",
    "ship_country",
    "currency",
    "sku",
    "quantity",
    "unit_price",
    "shipping_method",
    "shipping_total",
    "notes",
]
REQUIRED_COLUMNS = [
    "external_id",
    "email",
    "ship_name",
    "ship_line1",
    "ship_city",
    "ship_postal_code",
    "ship_country",
    "sku",
    "quantity",
]
LINE_COLUMNS = ["sku", "quantity", "unit_price"]
ORDER_COLUMNS = [c for c in COLUMNS if c not in LINE_COLUMNS and c != "external_id"]
REQUIRED_ADDRESS = {
    "ship_name": "the recipient",
    "ship_line1": "the street address",
    "ship_city": "the city",
    "ship_postal_code": "the postal code",
    "ship_country": "the country code",
}
COLUMN_HELP = {
    "external_id": "The order's id in the channel. Rows with the same id form one order.",
    "email": "The customer's email; the customer is found or created.",
    "name": "The customer's name. Defaults to ship_name.",
    "phone": "",
    "ship_name": "Recipient.",
    "ship_line1": "Street and number.",
    "ship_line2": "",
    "ship_city": "",
    "ship_region": "",
    "ship_postal_code": "",
    "ship_country": "Two letters, e.g. DE.",
    "currency": "Three letters. Defaults to the shop's currency.",
    "sku": "An active product's SKU.",
    "quantity": "A whole number, at least 1.",
    "unit_price": "Net price per unit. Defaults to the catalogue price.",
    "shipping_method": "",
    "shipping_total": "Defaults to 0.",
    "notes": "",
}
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
RUNNING_STALE_AFTER = timedelta(minutes=2)  # a running batch untouched this long lost its worker


# ---------------------------------------------------------------- the preview (read only)


@dataclass
class Problem:
    """Something about one line of the file. ``kind``: error (the order is not imported),
    skip (already imported) or warning (imported, but look)."""

    line: int | None
    message: str
    field: str = ""
    external_id: str = ""
    kind: str = "error"

    def as_dict(self) -> dict:
        return {
            "line": self.line,
            "field": self.field,
            "message": self.message,
            "external_id": self.external_id,
            "kind": self.kind,
        }


@dataclass
class ParsedLine:
    line: int
    sku: str
    quantity: int | None
    unit_price: Decimal | None
    product: Product | None = None


@dataclass
class ParsedOrder:
    external_id: str
    first_line: int
    values: dict[str, str] = field(default_factory=dict)
    lines: list[ParsedLine] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    existing_number: str = ""

    @property
    def status(self) -> str:
        """ready, skip (already imported) or error."""
        if self.existing_number:
            return "skip"
        if any(p.kind == "error" for p in self.problems):
            return "error"
        return "ready"

    @property
    def line_numbers(self) -> list[int]:
        return [ln.line for ln in self.lines]

    @property
    def units(self) -> int:
        return sum(ln.quantity or 0 for ln in self.lines)

    @property
    def summary(self) -> str:
        return ", ".join(f"{ln.quantity or '?'} × {ln.sku or '?'}" for ln in self.lines)

    def address(self) -> dict[str, str]:
        return {
            key.removeprefix("ship_"): self.values.get(key, "")
            for key in COLUMNS
            if key.startswith("ship_")
        }


@dataclass
class ImportPreview:
    orders: list[ParsedOrder]
    problems: list[Problem]  # every problem, in line order; file-level ones have line None or 1
    rows: int
    delimiter: str = ","

    def _with(self, status: str) -> list[ParsedOrder]:
        return [o for o in self.orders if o.status == status]

    @property
    def ready(self) -> list[ParsedOrder]:
        return self._with("ready")

    @property
    def skipped(self) -> list[ParsedOrder]:
        return self._with("skip")

    @property
    def failed(self) -> list[ParsedOrder]:
        return self._with("error")

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.kind == "error"]


def decode_upload(data: bytes) -> str:
    """The file's text, or ValidationFailed on ``file`` saying what to do about it."""
    if len(data) > MAX_BYTES:
        raise ValidationFailed(
            {
                "file": [
                    f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB. Split it into smaller files."
                ]
            }
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed(
            {"file": ["The file is not UTF-8 text. In your spreadsheet, save it as “CSV UTF-8”."]}
        ) from None
    if not text.strip():
        raise ValidationFailed({"file": ["The file is empty."]})
    return text


def _header(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    return ";" if first.count(";") > first.count(",") else ","


def check_columns(text: str) -> list[str]:
    """The file's header, or ValidationFailed on ``file`` naming the missing columns."""
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    header = [_header(h) for h in next(reader, [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValidationFailed(
            {
                "file": [
                    f"The first line must name the columns; missing: {', '.join(missing)}. "
                    "See the column list on this page."
                ]
            }
        )
    return header


def _decimal(text: str) -> Decimal | None:
    text = text.strip().replace(" ", "")
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _same(key: str, a: str, b: str) -> bool:
    if key in ("email", "ship_country", "currency"):
        return a.strip().lower() == b.strip().lower()
    if key == "shipping_total":
        return _decimal(a) == _decimal(b)
    return a.strip() == b.strip()


def import_preview(*, channel: SalesChannel, text: str) -> ImportPreview:
    """Read and check a CSV of orders without writing anything: the orders it holds, and each
    problem with its line number. A few queries whatever the size (products, existing ids)."""
    header = check_columns(text)
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    next(reader)
    orders: dict[str, ParsedOrder] = {}
    problems: list[Problem] = []
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown:
        problems.append(
            Problem(1, f"Column(s) not used and ignored: {', '.join(unknown)}.", kind="warning")
        )
    rows = 0
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        rows += 1
        if rows > MAX_ROWS:
            raise ValidationFailed(
                {"file": [f"The file has more than {MAX_ROWS} rows. Split it into smaller files."]}
            )
        row = {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header) if h}
        external_id = row.get("external_id", "")
        if not external_id:
            problems.append(
                Problem(
                    line, "external_id is empty: every row needs its order's id.", "external_id"
                )
            )
            continue
        if len(external_id) > 100:
            problems.append(
                Problem(
                    line,
                    "external_id is longer than 100 characters.",
                    "external_id",
                    external_id[:100],
                )
            )
            continue
        order = orders.get(external_id)
        if order is None:
            order = orders[external_id] = ParsedOrder(external_id=external_id, first_line=line)
            order.values = {key: row.get(key, "") for key in ORDER_COLUMNS}
        else:
            for key in ORDER_COLUMNS:
                value, first = row.get(key, ""), order.values.get(key, "")
                if not value:
                    continue
                if not first:
                    order.values[key] = value
                elif not _same(key, value, first):
                    order.problems.append(
                        Problem(
                            line,
                            f"{key} is “{value}” here but “{first}” on line {order.first_line}: "
                            "the rows of one order must agree (or leave it blank).",
                            key,
                            external_id,
                        )
                    )
        order.lines.append(_parse_line(line, row, order))

    _check_orders(channel, list(orders.values()))
    for order in orders.values():
        problems.extend(order.problems)
    problems.sort(key=lambda p: (p.line or 0, p.kind != "error"))
    if not orders and not problems:
        problems.append(Problem(None, "The file has a header but no rows."))
    return ImportPreview(
        orders=list(orders.values()), problems=problems, rows=rows, delimiter=delimiter
    )


def _parse_line(line: int, row: dict[str, str], order: ParsedOrder) -> ParsedLine:
    sku, qty_text, price_text = (
        row.get("sku", ""),
        row.get("quantity", ""),
        row.get("unit_price", ""),
    )
    quantity = int(qty_text) if qty_text.isdigit() else None
    if not sku:
        order.problems.append(Problem(line, "sku is empty.", "sku", order.external_id))
    if quantity is None or quantity < 1:
        shown = f"“{qty_text}”" if qty_text else "nothing"
        order.problems.append(
            Problem(
                line,
                f"Quantity must be a whole number of at least 1; got {shown}.",
                "quantity",
                order.external_id,
            )
        )
        quantity = None
    elif quantity > 100_000:
        order.problems.append(
            Problem(line, f"Quantity {quantity} is too large.", "quantity", order.external_id)
        )
    price = None
    if price_text:
        price = _decimal(price_text)
        if price is None or price < 0:
            order.problems.append(
                Problem(
                    line,
                    f"unit_price must be an amount like 19.90; got “{price_text}”.",
                    "unit_price",
                    order.external_id,
                )
            )
            price = None
    return ParsedLine(line=line, sku=sku, quantity=quantity, unit_price=price)


def _chunks(items: list, size: int = 500):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _check_orders(channel: SalesChannel, orders: list[ParsedOrder]) -> None:
    """Order-level checks, the products behind the SKUs and the ids already imported."""
    skus = sorted({ln.sku for o in orders for ln in o.lines if ln.sku})
    products: dict[str, Product] = {}
    for chunk in _chunks(skus):
        products.update({p.sku: p for p in Product.objects.filter(sku__in=chunk)})
    existing: dict[str, str] = {}
    for chunk in _chunks([o.external_id for o in orders]):
        existing.update(
            Order.objects.filter(channel=channel, external_id__in=chunk).values_list(
                "external_id", "number"
            )
        )
    available = availability_for(product_ids=[p.pk for p in products.values()]) if products else {}
    wanted: dict[int, int] = {}
    for order in orders:
        ext, first = order.external_id, order.first_line
        order.existing_number = existing.get(ext, "")
        if order.existing_number:
            order.problems = [
                Problem(
                    first,
                    f"Already imported as order {order.existing_number}; will be skipped.",
                    "external_id",
                    ext,
                    kind="skip",
                )
            ]
            continue
        v = order.values
        email = v.get("email", "")
        if not email:
            order.problems.append(
                Problem(first, "email is empty: the customer's email is needed.", "email", ext)
            )
        elif "@" not in email or " " in email:
            order.problems.append(
                Problem(first, f"“{email}” is not an email address.", "email", ext)
            )
        for key, what in REQUIRED_ADDRESS.items():
            if not v.get(key):
                order.problems.append(
                    Problem(first, f"{key} is empty: the address needs {what}.", key, ext)
                )
        country = v.get("ship_country", "")
        if country and (len(country) != 2 or not country.isalpha()):
            order.problems.append(
                Problem(
                    first,
                    f"ship_country “{country}” must be a two-letter code, e.g. DE.",
                    "ship_country",
                    ext,
                )
            )
        currency = v.get("currency", "")
        if currency and (len(currency) != 3 or not currency.isalpha()):
            order.problems.append(
                Problem(
                    first,
                    f"currency “{currency}” must be a three-letter code, e.g. EUR.",
                    "currency",
                    ext,
                )
            )
        shipping = v.get("shipping_total", "")
        if shipping and (_decimal(shipping) is None or _decimal(shipping) < 0):
            order.problems.append(
                Problem(
                    first,
                    f"shipping_total must be an amount like 4.90; got “{shipping}”.",
                    "shipping_total",
                    ext,
                )
            )
        for ln in order.lines:
            if not ln.sku:
                continue
            product = products.get(ln.sku) or products.get(ln.sku.upper())
            if product is None:
                order.problems.append(
                    Problem(ln.line, f"Unknown SKU “{ln.sku}”: no product has it.", "sku", ext)
                )
            elif not product.active:
                order.problems.append(
                    Problem(ln.line, f"{product.sku} is no longer sold.", "sku", ext)
                )
            else:
                ln.product = product
    # Stock is only reserved at import time; say now where it will probably run short.
    for order in orders:
        if order.status != "ready":
            continue
        for ln in order.lines:
            p = ln.product
            if p is None or p.allow_backorder or not ln.quantity:
                continue
            wanted[p.pk] = wanted.get(p.pk, 0) + ln.quantity
            have = available[p.pk].available if p.pk in available else 0
            if wanted[p.pk] > have:
                order.problems.append(
                    Problem(
                        ln.line,
                        f"Only {have} of {p.sku} available now for {wanted[p.pk]} ordered up to "
                        "this line: this order will fail unless stock arrives first.",
                        "quantity",
                        order.external_id,
                        kind="warning",
                    )
                )


# ---------------------------------------------------------------- writes


def import_batch_create(*, channel: SalesChannel, filename: str, data: bytes, actor) -> ImportBatch:
    """Keep an uploaded file as a batch in status "previewed", with its problems. A file that
    cannot be read at all raises ValidationFailed on ``file``."""
    roles.check_role(actor, roles.PLACE_ORDER)
    text = decode_upload(data)
    preview = import_preview(channel=channel, text=text)
    return ImportBatch.objects.create(
        channel=channel,
        filename=(filename or "orders.csv")[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        content=text,
        status=ImportBatch.Status.PREVIEWED,
        total_orders=len(preview.orders),
        errors=[p.as_dict() for p in preview.problems],
        created_by=actor if getattr(actor, "pk", None) else None,
    )


@transaction.atomic
def import_batch_queue(*, batch: ImportBatch, actor, enqueue: bool = True) -> ImportBatch:
    """Start importing a previewed batch: status "queued", and the worker is asked after commit
    (``enqueue=False``: the caller runs ``import_batch_run`` itself, as the command does)."""
    roles.check_role(actor, roles.PLACE_ORDER)
    locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
    if locked.status != ImportBatch.Status.PREVIEWED:
        raise DomainError(f"This import is already {locked.get_status_display().lower()}.")
    preview = import_preview(channel=locked.channel, text=locked.content)
    if not preview.ready:
        raise DomainError(
            "Nothing to import: every order in this file has errors or was imported before."
        )
    locked.status = ImportBatch.Status.QUEUED
    locked.save(update_fields=["status", "updated_at"])
    if enqueue:
        from .tasks_import import run_import

        transaction.on_commit(functools.partial(run_import.delay, locked.pk))
    batch.status = locked.status
    return batch


def _claim(batch_id: int) -> ImportBatch | None:
    """Mark the batch running, unless it is finished or another worker is on it."""
    with transaction.atomic():
        batch = (
            ImportBatch.objects.select_for_update()
            .select_related("channel")
            .filter(pk=batch_id)
            .first()
        )
        if batch is None:
            return None
        S = ImportBatch.Status
        stale = batch.updated_at < timezone.now() - RUNNING_STALE_AFTER
        if batch.status == S.QUEUED or (batch.status == S.RUNNING and stale):
            batch.status = S.RUNNING
            batch.save(update_fields=["status", "updated_at"])
            return batch
        return None


def _advance(
    batch_id: int, *, created: int = 0, skipped: int = 0, problems: list[Problem] = ()
) -> None:
    """One more order processed. Call inside the transaction that placed it, so a resumed run
    starts exactly after the last order that was really done."""
    ImportBatch.objects.filter(pk=batch_id).update(
        processed_orders=F("processed_orders") + 1,
        created_orders=F("created_orders") + created,
        skipped_orders=F("skipped_orders") + skipped,
        updated_at=timezone.now(),
    )
    if problems:
        batch = ImportBatch.objects.select_for_update().get(pk=batch_id)
        batch.errors = [*batch.errors, *(p.as_dict() for p in problems)]
        batch.save(update_fields=["errors"])


def _problems_from(exc: DomainError, order: ParsedOrder) -> list[Problem]:
    """A refusal of ``order_place`` as problems on the file's lines (``lines-<i>-quantity``
    names the i-th line of the order)."""
    items = (
        exc.errors.items()
        if isinstance(exc, ValidationFailed)
        else [(exc.field or "", [exc.message])]
    )
    result = []
    for name, messages in items:
        line, column = order.first_line, name
        if name.startswith("lines-"):
            _, index, column = [*name.split("-", 2), "", ""][:3]
            if index.isdigit() and int(index) < len(order.lines):
                line = order.lines[int(index)].line
        for message in messages:
            result.append(Problem(line, message, column, order.external_id))
    return result


def _place(channel: SalesChannel, order: ParsedOrder) -> Order:
    v = order.values
    return order_place(
        channel=channel,
        email=v.get("email", ""),
        name=v.get("name") or v.get("ship_name", ""),
        phone=v.get("phone", ""),
        address=order.address(),
        lines=[
            LineInput(product=ln.product, quantity=ln.quantity, unit_price=ln.unit_price)
            for ln in order.lines
        ],
        actor=None,
        source=EventSource.CHANNEL,
        currency=(v.get("currency") or settings.DEFAULT_CURRENCY).upper(),
        shipping_method=v.get("shipping_method", ""),
        shipping_total=_decimal(v.get("shipping_total") or "0") or Decimal("0"),
        notes=v.get("notes", ""),
        external_id=order.external_id,
    )


def import_batch_run(*, batch_id: int) -> ImportBatch | None:
    """Import a queued batch's orders one by one, each all-or-nothing, counting as it goes.
    Safe to run twice: a finished batch is left alone, a running one is left to its worker
    (or resumed after the last order really done, if that worker died), and an order whose
    external id exists in the channel is skipped."""
    batch = _claim(batch_id)
    if batch is None:
        return ImportBatch.objects.filter(pk=batch_id).first()
    preview = import_preview(channel=batch.channel, text=batch.content)
    start = batch.processed_orders
    if start == 0:
        ImportBatch.objects.filter(pk=batch.pk).update(
            total_orders=len(preview.orders), errors=[p.as_dict() for p in preview.problems]
        )
    try:
        for order in preview.orders[start:]:
            _import_one(batch, order)
    except Exception as exc:
        with transaction.atomic():
            failed = ImportBatch.objects.select_for_update().get(pk=batch.pk)
            failed.status = ImportBatch.Status.FAILED
            failed.errors = [
                *failed.errors,
                Problem(
                    None,
                    f"The import stopped ({exc.__class__.__name__}: {exc}). "
                    f"{failed.processed_orders} of {failed.total_orders} orders were processed; "
                    "the rest were not imported.",
                ).as_dict(),
            ]
            failed.save(update_fields=["status", "errors", "updated_at"])
        raise
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.DONE, updated_at=timezone.now()
    )
    batch.refresh_from_db()
    return batch


def _skipped_meanwhile(batch: ImportBatch, order: ParsedOrder) -> list[Problem]:
    """The order was imported after the preview (another batch, the API): say so."""
    number = (
        Order.objects.filter(channel=batch.channel, external_id=order.external_id)
        .values_list("number", flat=True)
        .first()
    )
    if number is None:
        return []
    text = f"Already imported as order {number}; skipped."
    return [Problem(order.first_line, text, "external_id", order.external_id, kind="skip")]


def _import_one(batch: ImportBatch, order: ParsedOrder) -> None:
    if order.status == "error":  # its problems are in the batch already
        with transaction.atomic():
            _advance(batch.pk)
        return
    if order.status == "skip":  # and so is its "already imported"
        with transaction.atomic():
            _advance(batch.pk, skipped=1)
        return
    try:
        with transaction.atomic():
            meanwhile = _skipped_meanwhile(batch, order)
            if meanwhile:
                _advance(batch.pk, skipped=1, problems=meanwhile)
                return
            _place(batch.channel, order)
            _advance(batch.pk, created=1)
    except IntegrityError:
        # Placed by someone else at this very moment (the external id is unique per channel).
        with transaction.atomic():
            meanwhile = _skipped_meanwhile(batch, order)
            if not meanwhile:
                raise
            _advance(batch.pk, skipped=1, problems=meanwhile)
    except DomainError as exc:
        with transaction.atomic():
            _advance(batch.pk, problems=_problems_from(exc, order))


def import_batch_sweep() -> list[int]:
    """Batches whose worker never came (queued too long) or died (running, untouched): their
    ids, to be enqueued again. Called by the periodic sweep."""
    S = ImportBatch.Status
    queued_before = timezone.now() - timedelta(seconds=settings.ORDERLINE_SWEEP_AFTER_SECONDS)
    stale_before = timezone.now() - RUNNING_STALE_AFTER
    queued = list(
        ImportBatch.objects.filter(status=S.QUEUED, updated_at__lt=queued_before).values_list(
            "pk", flat=True
        )[:100]
    )
    ImportBatch.objects.filter(pk__in=queued).update(updated_at=timezone.now())  # once a sweep
    stale = ImportBatch.objects.filter(status=S.RUNNING, updated_at__lt=stale_before).values_list(
        "pk", flat=True
    )
    return queued + list(stale[:100])


def batch_counts(batch: ImportBatch) -> dict[str, int]:
    """What a batch's page shows: processed, created, skipped, failed and the percentage done."""
    failed = max(batch.processed_orders - batch.created_orders - batch.skipped_orders, 0)
    percent = (
        round(100 * batch.processed_orders / batch.total_orders) if batch.total_orders else 100
    )
    return {
        "total": batch.total_orders,
        "processed": batch.processed_orders,
        "created": batch.created_orders,
        "skipped": batch.skipped_orders,
        "failed": failed,
        "percent": min(percent, 100),
    }
