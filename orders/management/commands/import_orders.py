"""python manage.py import_orders FILE --channel SLUG [--dry-run]

The staff CSV import, synchronously: checks the file, places each order all-or-nothing,
prints a summary with every problem by line number, and exits 1 if any row failed."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError, ValidationFailed
from orders import imports
from orders.models import ImportBatch, SalesChannel


class Command(BaseCommand):
    help = (
        "Import orders from a CSV file (one row per order line; rows with the same external_id "
        "form one order). Each order is placed whole or not at all; an external_id already "
        "imported in the channel is skipped. Exit code 1 if any row failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file")
        parser.add_argument("--channel", required=True, help="the sales channel's slug")
        parser.add_argument(
            "--dry-run", action="store_true", help="check the file and print the problems only"
        )

    def handle(self, *args, file, channel, dry_run, **options):
        sales_channel = SalesChannel.objects.filter(slug=channel).first()
        if sales_channel is None:
            known = ", ".join(SalesChannel.objects.values_list("slug", flat=True)) or "none yet"
            raise CommandError(f"No sales channel “{channel}”. Channels: {known}.")
        path = Path(file)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}.") from None

        try:
            text = imports.decode_upload(data)
            preview = imports.import_preview(channel=sales_channel, text=text)
        except ValidationFailed as exc:
            raise CommandError(
                f"{path.name}: " + " ".join(m for ms in exc.errors.values() for m in ms)
            ) from None

        self.stdout.write(
            f"{path.name}: {preview.rows} row(s), {len(preview.orders)} order(s) for "
            f"{sales_channel.name}: {len(preview.ready)} ready, {len(preview.skipped)} already "
            f"imported, {len(preview.failed)} with errors."
        )
        if dry_run:
            self._problems(preview.problems)
            failed = len(preview.failed)
            self.stdout.write("Dry run: nothing was imported.")
            if preview.errors:
                raise CommandError(
                    f"{len(preview.errors)} problem(s): {failed} order(s) would not be imported; "
                    "see the lines above."
                )
            return

        if not preview.ready:  # nothing to place: keep no batch, report the check
            self._problems(preview.problems)
            failed = len(preview.failed)
            self.stdout.write(
                f"Created 0 order(s), skipped {len(preview.skipped)} already imported, "
                f"{failed} not imported."
            )
            if failed or preview.errors:
                raise CommandError(f"{failed} order(s) not imported; see the lines above.")
            self.stdout.write(self.style.SUCCESS("Nothing new to import."))
            return

        batch = imports.import_batch_create(
            channel=sales_channel, filename=path.name, data=data, actor=None
        )
        try:
            imports.import_batch_queue(batch=batch, actor=None, enqueue=False)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        batch = imports.import_batch_run(batch_id=batch.pk)
        self._problems(
            [
                imports.Problem(
                    line=p.get("line"),
                    message=p.get("message", ""),
                    field=p.get("field", ""),
                    external_id=p.get("external_id", ""),
                    kind=p.get("kind", "error"),
                )
                for p in batch.errors
            ]
        )
        counts = imports.batch_counts(batch)
        self.stdout.write(
            f"Created {counts['created']} order(s), skipped {counts['skipped']} already imported, "
            f"{counts['failed']} not imported (import #{batch.pk})."
        )
        errors = [p for p in batch.errors if p.get("kind", "error") == "error"]
        if errors or batch.status == ImportBatch.Status.FAILED:
            raise CommandError(f"{counts['failed']} order(s) not imported; see the lines above.")
        self.stdout.write(self.style.SUCCESS("Done."))

    def _problems(self, problems) -> None:
        for p in sorted(problems, key=lambda p: p.line or 0):
            where = f"line {p.line}" if p.line else "file"
            order = f" [{p.external_id}]" if p.external_id else ""
            column = f" {p.field}:" if p.field else ""
            label = {"error": "ERROR", "skip": "skip", "warning": "warning"}.get(p.kind, p.kind)
            line = f"  {where}{order} {label}{column} {p.message}"
            self.stdout.write(self.style.ERROR(line) if p.kind == "error" else line)
