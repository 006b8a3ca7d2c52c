"""Run the tracking sync once by hand: poll due shipments, then notify late parcels."""

from django.core.management.base import BaseCommand

from fulfillment.tracking import SYNC_BATCH, shipments_late_notify, tracking_sync_due


class Command(BaseCommand):
    help = "Poll carriers for open shipments whose tracking is due a sync (one batch), then email late parcels."

    def add_arguments(self, parser):
        parser.add_argument(
            "--limit",
            type=int,
            default=SYNC_BATCH,
            help=f"Shipments to poll at most (default {SYNC_BATCH}).",
        )
        parser.add_argument(
            "--no-late", action="store_true", help="Do not email customers about late parcels."
        )

    def handle(self, *args, limit, no_late, **options):
        report = tracking_sync_due(limit=limit)
        self.stdout.write(
            f"Polled {report.polled} shipment(s): {report.events} new event(s), {report.failed} failed."
        )
        if not no_late:
            told = shipments_late_notify()
            self.stdout.write(f"Told {told} customer(s) about a late parcel.")
