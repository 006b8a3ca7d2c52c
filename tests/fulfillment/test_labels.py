"""4x6 inch label PDFs: one page per parcel, a Code 128 barcode of the tracking number."""

import datetime
import io
import re

import barcode
import pytest
from pypdf import PdfReader

from fulfillment.labels import LabelContent, barcode_svg, label_html, label_pdf


def _content(weights=(1200, 850), **kw):
    return LabelContent(
        **{
            "tracking_number": "SIM312345678906",
            "carrier_name": "Orderline Post",
            "service_name": "Express",
            "service_code": "express",
            "shipment_number": "SH-000123",
            "order_number": "NW-10042",
            "ship_from": {
                "name": "Northwind Outfitters",
                "line1": "Hafenstraße 12",
                "postal_code": "20457",
                "city": "Hamburg",
                "country": "DE",
            },
            "ship_to": {
                "name": "Daan de Vries",
                "line1": "Prinsengracht 263",
                "line2": "",
                "city": "Amsterdam",
                "region": "",
                "postal_code": "1016 GV",
                "country": "NL",
            },
            "weights_grams": list(weights),
            "ship_date": datetime.date(2026, 11, 30),
            **kw,
        }
    )


@pytest.fixture(scope="module")
def two_parcel_pdf():
    return PdfReader(io.BytesIO(label_pdf(_content())))


def test_one_4x6_inch_page_per_parcel(two_parcel_pdf):
    assert len(two_parcel_pdf.pages) == 2
    for page in two_parcel_pdf.pages:
        box = page.mediabox
        assert (round(float(box.width)), round(float(box.height))) == (288, 432)


def test_each_page_says_which_parcel_it_is_and_what_it_weighs(two_parcel_pdf):
    first, second = (p.extract_text() for p in two_parcel_pdf.pages)
    assert "1 of 2" in first
    assert "1.20 kg" in first
    assert "2 of 2" in second
    assert "0.85 kg" in second
    for text in (first, second):
        for expected in [
            "SIM312345678906",
            "Daan de Vries",
            "Prinsengracht 263",
            "1016 GV Amsterdam",
            "NL",
            "Northwind Outfitters",
            "EXPRESS",
            "SH-000123",
            "NW-10042",
            "Orderline Post",
        ]:
            assert expected in text


def test_the_barcode_is_drawn_on_every_page(two_parcel_pdf):
    modules = barcode.get("code128", "SIM312345678906").build()[0]
    bars = len(re.findall("1+", modules))
    for page in two_parcel_pdf.pages:
        drawn = page.get_contents().get_data().count(b" re")
        assert drawn >= bars  # every bar is a filled rectangle (plus the label's frames)


def test_the_barcode_encodes_the_tracking_number_in_black_bars():
    svg = barcode_svg("SIM312345678906").decode()
    modules = barcode.get("code128", "SIM312345678906").build()[0]
    black = re.findall(r'<rect x="[\d.]+mm" y="[\d.]+mm" width="([\d.]+)mm"[^>]*fill:black', svg)
    assert len(black) == len(re.findall("1+", modules))
    narrowest = min(float(w) for w in black)
    assert narrowest >= 0.375  # three dots of a 203 dpi thermal printer


def test_the_label_html_embeds_the_svg_and_no_colour():
    html = label_html(_content())
    assert "data:image/svg+xml;base64," in html
    assert not re.search(
        r"#(?!000\b|fff\b)[0-9a-fA-F]{3,6}\b", html.split("<body>")[0]
    )  # black and white only


def test_us_addresses_print_city_state_zip():
    html = label_html(
        _content(
            ship_to={
                "name": "Ava Moore",
                "line1": "1 Pearl Street",
                "line2": "",
                "city": "Boulder",
                "region": "CO",
                "postal_code": "80302",
                "country": "US",
            }
        )
    )
    assert "Boulder CO 80302" in html
