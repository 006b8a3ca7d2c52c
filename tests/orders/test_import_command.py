"""python manage.py import_orders FILE --channel SLUG [--dry-run]: output and exit codes."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from orders.models import ImportBatch, Order
from tests.factories import ChannelFactory

from .test_import import csv_text, row

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(db):
    return ChannelFactory(slug="market", name="Marketplace", kind="marketplace")


@pytest.fixture
def good_file(tmp_path, stocked_product):
    path = tmp_path / "good.csv"
    path.write_text(
        csv_text(
            row("M-1", "TEE-BLK-M", 2),
            row("M-1", "TEE-BLK-M", 1, blank_order=True),
            row("M-2", "TEE-BLK-M", 1, email="grace@example.com", name="Grace Hopper"),
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def bad_file(tmp_path, stocked_product):
    path = tmp_path / "bad.csv"
    path.write_text(
        csv_text(
            row("M-1", "TEE-BLK-M", 1),
            row("M-2", "NOPE-1", 1, email="b@example.com"),
            row("M-3", "TEE-BLK-M", "lots", email="c@example.com"),
        ),
        encoding="utf-8",
    )
    return path


def command(*args) -> str:
    out = io.StringIO()
    call_command("import_orders", *args, stdout=out)
    return out.getvalue()


def test_imports_a_file_and_prints_a_summary(market, good_file):
    out = command(str(good_file), "--channel", "market")
    assert (
        "good.csv: 3 row(s), 2 order(s) for Marketplace: 2 ready, 0 already imported, 0 with errors."
        in out
    )
    assert "Created 2 order(s), skipped 0 already imported, 0 not imported (import #" in out
    assert "Done." in out
    assert Order.objects.filter(channel=market).count() == 2
    batch = ImportBatch.objects.get()
    assert (batch.status, batch.created_by, batch.filename) == ("done", None, "good.csv")


def test_a_second_run_creates_nothing_and_succeeds(market, good_file):
    command(str(good_file), "--channel", "market")
    out = command(str(good_file), "--channel", "market")
    assert "0 ready, 2 already imported, 0 with errors." in out
    assert "line 2 [M-1] skip external_id: Already imported as order" in out
    assert "Created 0 order(s), skipped 2 already imported, 0 not imported." in out
    assert Order.objects.count() == 2
    assert ImportBatch.objects.count() == 1  # nothing to do leaves no batch behind


def test_failed_rows_are_printed_by_line_and_exit_1(market, bad_file):
    out = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("import_orders", str(bad_file), "--channel", "market", stdout=out)
    assert exc.value.returncode == 1
    assert str(exc.value) == "2 order(s) not imported; see the lines above."
    text = out.getvalue()
    assert "line 3 [M-2] ERROR sku: Unknown SKU “NOPE-1”: no product has it." in text
    assert (
        "line 4 [M-3] ERROR quantity: Quantity must be a whole number of at least 1; got “lots”."
        in text
    )
    assert "Created 1 order(s), skipped 0 already imported, 2 not imported" in text
    assert list(Order.objects.values_list("external_id", flat=True)) == ["M-1"]


def test_dry_run_checks_only(market, bad_file, good_file):
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"2 problem\(s\): 2 order\(s\) would not be imported"):
        call_command("import_orders", str(bad_file), "--channel", "market", "--dry-run", stdout=out)
    assert "line 3 [M-2] ERROR sku:" in out.getvalue()
    assert "Dry run: nothing was imported." in out.getvalue()
    assert "Dry run: nothing was imported." in command(
        str(good_file), "--channel", "market", "--dry-run"
    )
    assert not Order.objects.exists()
    assert not ImportBatch.objects.exists()


def test_unknown_channel_missing_file_and_bad_header(market, tmp_path):
    with pytest.raises(CommandError, match=r"No sales channel “nope”\. Channels: market\."):
        command("x.csv", "--channel", "nope")
    with pytest.raises(CommandError, match="Cannot read"):
        command(str(tmp_path / "missing.csv"), "--channel", "market")
    header_only = tmp_path / "h.csv"
    header_only.write_text("order;qty\n1;2\n")
    with pytest.raises(
        CommandError, match=r"h\.csv: The first line must name the columns; missing"
    ):
        command(str(header_only), "--channel", "market")


def test_the_exit_code_of_the_real_process(tmp_path):
    """The process itself exits 1 on failed rows and 0 when all is well (own database file)."""
    env = {
        **os.environ,
        "ORDERLINE_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cmd.sqlite3'}",
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    root = Path(__file__).resolve().parents[2]
    manage = [sys.executable, str(root / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=root, check=True, timeout=240)
    setup = (
        "from decimal import Decimal\n"
        "from inventory.models import Product, Warehouse\n"
        "from inventory.services import stock_receive\n"
        "from orders.models import SalesChannel\n"
        "SalesChannel.objects.create(slug='market', name='Marketplace', kind='marketplace')\n"
        "w = Warehouse.objects.create(code='HAM', name='Hamburg', priority=1)\n"
        "p = Product.objects.create(sku='TEE-BLK-M', name='Tee', price=Decimal('25.00'),"
        " tax_rate=Decimal('0.19'))\n"
        "stock_receive(product=p, warehouse=w, quantity=10, actor=None)\n"
    )
    subprocess.run([*manage, "shell", "-c", setup], env=env, cwd=root, check=True, timeout=120)
    good = tmp_path / "good.csv"
    good.write_text(csv_text(row("M-1", "TEE-BLK-M", 1)))
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_text(row("M-2", "NOPE", 1)))
    ok = subprocess.run([*manage, "import_orders", str(good), "--channel", "market"],
                        env=env, cwd=root, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "Created 1 order(s)" in ok.stdout
    failed = subprocess.run([*manage, "import_orders", str(bad), "--channel", "market"],
                            env=env, cwd=root, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert failed.returncode == 1
    assert "line 2 [M-2] ERROR sku: Unknown SKU “NOPE”" in failed.stdout
    assert "1 order(s) not imported" in failed.stderr
