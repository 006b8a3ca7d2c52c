"""`make bench`: shipping label PDFs rendered per second by one process.

Baseline in the same run: WeasyPrint rendering an empty 4x6 inch page, so the figure can be
read against the machine (label cost = what our template, fonts and barcode add to it).
A benchmark, not a test: it fails only when rendering fails (or, with --bench-strict, when a
label takes more than 10 times an empty page)."""

import datetime
import statistics
import time

from fulfillment.labels import LabelContent, label_pdf

SHIP_FROM = {
    "name": "Northwind Outfitters",
    "line1": "Hafenstraße 12",
    "postal_code": "20457",
    "city": "Hamburg",
    "country": "DE",
}
SHIP_TO = {
    "name": "Daan de Vries",
    "line1": "Prinsengracht 263",
    "line2": "3rd floor",
    "city": "Amsterdam",
    "region": "",
    "postal_code": "1016 GV",
    "country": "NL",
}


def _label(i: int, parcels: int = 1) -> LabelContent:
    return LabelContent(
        tracking_number=f"SIM2{i:010d}7",
        carrier_name="Orderline Post",
        service_name="Standard",
        service_code="standard",
        shipment_number=f"SH-{i:06d}",
        order_number=f"NW-{10000 + i}",
        ship_from=SHIP_FROM,
        ship_to=SHIP_TO,
        weights_grams=[1200] * parcels,
        ship_date=datetime.date(2026, 11, 30),
    )


def _rate(fn, seconds: float) -> tuple[float, float, int]:
    """Calls per second over `seconds`, and the median time of one call (ms)."""
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 5:
        t = time.perf_counter()
        fn(len(times))
        times.append(time.perf_counter() - t)
    return len(times) / sum(times), statistics.median(times) * 1000, len(times)


def test_label_pdfs_per_second(request):
    from weasyprint import HTML

    seconds = min(request.config.getoption("--bench-duration"), 10.0)
    empty = "<!doctype html><html><head><style>@page { size: 4in 6in; margin: 3mm }</style></head><body></body></html>"

    HTML(string=empty).write_pdf()  # warm up: fonts and WeasyPrint's first-call setup
    label_pdf(_label(0))

    base_rate, base_ms, base_n = _rate(lambda i: HTML(string=empty).write_pdf(), seconds / 2)
    label_rate, label_ms, label_n = _rate(lambda i: label_pdf(_label(i)), seconds)
    multi_rate, multi_ms, multi_n = _rate(lambda i: label_pdf(_label(i, parcels=3)), seconds / 2)

    print()
    print("Label PDFs, one process (fulfillment/labels.py, WeasyPrint)")
    print(f"  {'what':<34}{'per second':>12}{'median ms':>12}{'runs':>8}")
    print(f"  {'empty 4x6 page (baseline)':<34}{base_rate:>12.1f}{base_ms:>12.1f}{base_n:>8}")
    print(f"  {'label, 1 parcel':<34}{label_rate:>12.1f}{label_ms:>12.1f}{label_n:>8}")
    print(f"  {'label, 3 parcels (3 pages)':<34}{multi_rate:>12.1f}{multi_ms:>12.1f}{multi_n:>8}")
    print(
        f"  a label costs {label_ms / base_ms:.1f}x an empty page; "
        f"{label_rate * 3600:,.0f} labels per hour per worker process"
    )
    if request.config.getoption("--bench-strict"):
        assert label_ms < 10 * base_ms, "a label takes more than 10 times an empty page"
