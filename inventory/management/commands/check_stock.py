"""``manage.py check_stock``: prove that stock levels equal the ledger, and that every
reserved unit belongs to a reservation. Prints OK and exits 0, or prints each difference
and exits 1 (for cron, CI and the concurrency tests)."""

import sys

from django.core.management.base import BaseCommand

from inventory.models import StockLevel
from inventory.selectors import reservation_discrepancies, stock_discrepancies


class Command(BaseCommand):
    help = "Check that stock levels equal the sum of their ledger rows and of their reservations."

    def handle(self, *args, **options):
        ledger = stock_discrepancies()
        reservations = reservation_discrepancies()
        for d in ledger:
            where = (
                f"{d.get('sku', d.get('product_id'))} @ {d.get('warehouse', d.get('warehouse_id'))}"
            )
            if d["on_hand"] != d["ledger_on_hand"]:
                self.stdout.write(
                    f"{where}: on hand {d['on_hand']}, ledger says {d['ledger_on_hand']} "
                    f"(difference {d['on_hand'] - d['ledger_on_hand']:+})"
                )
            if d["reserved"] != d["ledger_reserved"]:
                self.stdout.write(
                    f"{where}: reserved {d['reserved']}, ledger says {d['ledger_reserved']} "
                    f"(difference {d['reserved'] - d['ledger_reserved']:+})"
                )
        for d in reservations:
            self.stdout.write(
                f"{d['sku']} @ {d['warehouse']}: reserved {d['reserved']}, reservations hold "
                f"{d['reservations']} (difference {d['reserved'] - d['reservations']:+})"
            )
        if ledger or reservations:
            self.stdout.write(
                self.style.ERROR(
                    f"Stock does not add up: {len(ledger)} level(s) differ from the ledger, "
                    f"{len(reservations)} from their reservations."
                )
            )
            sys.exit(1)
        levels = StockLevel.objects.count()
        self.stdout.write(
            self.style.SUCCESS(
                f"OK: {levels} stock level(s) equal the ledger and their reservations."
            )
        )
