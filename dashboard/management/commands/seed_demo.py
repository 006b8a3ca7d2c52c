"""``manage.py seed_demo``: a believable shop to click through, built with the real services.

What it creates (once; a second run changes nothing and says so):

- demo staff users, one per role, password ``orderline-demo`` (only with DEBUG or
  ``--force-demo-users``), listed in ``VAR_DIR/demo-logins.txt`` for ``make run``'s banner;
- four sales channels, two warehouses (HAM, BER), four carriers: Orderline Post (the built-in
  simulated carrier, with services, zones and rates: labels are bought from it and it reports
  tracking events) and DHL, DPD and UPS as manual carriers (tracking number typed in);
- about 40 products of an outdoor and apparel shop, stock received through the ledger;
- about 120 customers (mostly Germany, some AT/NL/FR/GB/US) and their addresses;
- a few hundred orders over the last 60 days, in every stage of their life: placed,
  held, cancelled, picked, packed, shipped, delivered, invoiced, paid, returned, refunded;
- the warehouse's days: each working morning a pick list per warehouse takes the ready
  orders (two short picks in the history, the missing unit sent from the other warehouse);
  later orders are picked one by one; every shipment is packed at the packing station
  (each unit scanned, parcels weighed from the suggestion and measured);
- Orderline Post parcels: the label is bought at the customer's service and rate, handed
  over before the 17:00 pick-up, and the carrier's own events (its deterministic timeline)
  are recorded as the half-hourly poll would, so delivery is the carrier's "delivered" at
  the carrier's time, a few parcels meet a delay or an address problem, and the last days'
  parcels are in transit. Manual carriers' parcels are marked delivered by customer service;
- delivery feedback: requests queued as the hourly beat task would, and some customers'
  ratings (mostly 4-5; lower after a delay).

How it stays honest:

- Every order, shipment, invoice, payment and return is made by the domain services, so
  the counters, statuses, timeline and stock ledger are exactly what real use produces
  (the command ends by checking that stock levels equal the ledger).
- Time: the services stamp ``timezone.now()``. The seed runs a simulated clock instead of
  moving rows afterwards: every step (a placement, a pick, a weekly goods receipt...) is
  scheduled at a moment in the last 60 days, all steps of all orders run in time order,
  and while a step runs ``django.utils.timezone.now`` returns that moment. Every row it
  writes (auto_now fields, events, ledger rows) carries the time the step "happened", and
  order, shipment, invoice and return numbers grow with time as they would in real life.
- No background work leaves the seed: while it runs, Celery's ``Task.apply_async`` is
  replaced by a function that drops the message, so nothing reaches the broker (and
  nothing runs eagerly). Customer emails are "sent" through the real service into
  Django's dummy mail backend right after the step that queued them, so their rows are
  marked sent with a subject and the timeline shows them; no email leaves the machine.
  Invoice and credit-note PDFs stay pending: the worker's sweep renders them once
  ``make run`` has started (within a minute or two). Label PDFs are stored empty and drawn
  on first download (``fulfillment.shipping.shipment_label_pdf``): hundreds of renders
  would double the seed's time.
- Everything is written in one transaction: a failed seed leaves nothing behind. A
  ``Sequence`` row named ``demo-seed`` marks a seeded database; a database holding orders
  without that marker is left alone (seed_demo only fills an empty database).
- Deterministic: one ``random.Random(seed)`` drives every choice, including the simulated
  carrier's tracking numbers (hence each parcel's fate).
"""

from __future__ import annotations

import functools
import heapq
import random
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from unittest import mock

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.db.models import Avg, Count
from django.test.utils import override_settings
from django.utils import timezone

from core import roles
from core.calendar import add_working_days
from core.errors import DomainError
from core.models import Sequence
from core.money import quantize
from customers.models import Customer
from fulfillment.carriers import client_for
from fulfillment.carriers.simulated import check_digit, transit_days_for
from fulfillment.choices import IN_FLIGHT_STATUSES, PickListStatus, ShipmentStatus
from fulfillment.feedback import feedback_requests_due, feedback_submit
from fulfillment.models import Carrier, DeliveryFeedback, Parcel, PickList, Shipment, TrackingEvent
from fulfillment.packing import (
    PACKAGING_GRAMS,
    pack_complete,
    pack_scan,
    parcel_add,
    parcel_weight_suggestion,
)
from fulfillment.picking import pick_line_short, pick_lines_confirm, pick_list_create
from fulfillment.services import (
    shipment_confirm_picked,
    shipment_mark_delivered,
    shipment_ship,
    shipments_create,
    shippable_quantities,
)
from fulfillment.shipping import shipment_hand_over, shipment_label_buy
from fulfillment.tracking import shipments_late_notify, tracking_events_record
from inventory.models import Product, StockLevel, StockMovement, Warehouse
from inventory.selectors import availability_for, stock_discrepancies
from inventory.services import stock_adjust, stock_receive
from invoicing.models import CreditNote, Invoice, Payment, Refund
from invoicing.selectors import order_paid_and_refunded
from invoicing.services import payment_record, refund_record
from orders.choices import (
    EventSource,
    EventType,
    FulfillmentStatus,
    NotificationKind,
    NotificationStatus,
    OrderStatus,
)
from orders.models import Notification, Order, OrderEvent, SalesChannel
from orders.services import (
    LineInput,
    notification_send,
    order_cancel,
    order_hold,
    order_place,
    order_release,
)
from orders.tokens import api_token_create
from returns.models import ReturnRequest
from returns.services import return_receive, return_refund, return_reject, return_request_create

MARKER = "demo-seed"
DEMO_PASSWORD = "orderline-demo"  # noqa: S105 (a documented demo password, printed by make run)
DAYS = 60

# (username, role, first name, last name)
DEMO_USERS = [
    ("manager", roles.MANAGER, "Mara", "Lindqvist"),
    ("service", roles.CUSTOMER_SERVICE, "Sven", "Kaya"),
    ("warehouse", roles.WAREHOUSE, "Wiebke", "Brandt"),
    ("finance", roles.FINANCE, "Finn", "Okafor"),
]

CHANNELS = [  # slug, name, kind, share of orders
    ("web", "Web shop", "web", 55),
    ("amazon", "Amazon marketplace", "marketplace", 24),
    ("phone", "Phone", "phone", 15),
    ("counter", "Counter", "counter", 6),
]

WAREHOUSES = [
    {
        "code": "HAM",
        "name": "Hamburg",
        "priority": 1,
        "line1": "Am Sandtorkai 40",
        "city": "Hamburg",
        "postal_code": "20457",
        "country": "DE",
    },
    {
        "code": "BER",
        "name": "Berlin",
        "priority": 2,
        "line1": "Gradestraße 90",
        "city": "Berlin",
        "postal_code": "12347",
        "country": "DE",
    },
]

# Demo tracking links point at an example domain: the tracking numbers are made up, and a
# merchant sets the real carrier links in the admin.
CARRIERS = [
    ("dhl", "DHL Parcel", "https://tracking.example.com/dhl/{tracking}"),
    ("dpd", "DPD", "https://tracking.example.com/dpd/{tracking}"),
    ("ups", "UPS", "https://tracking.example.com/ups/{tracking}"),
]

# The built-in simulated carrier sells real labels in the demo: services for the shipping
# methods the demo orders use, zones for the demo countries, weight bands up to 31.5 kg.
# (zone, [(country, postal prefix)], {service: [(max grams, price, transit days)]})
SIMULATED_ZONES = [
    (
        "Hamburg region",
        [("DE", "20"), ("DE", "21"), ("DE", "22")],
        {
            "standard": [(1000, "3.90", 2), (5000, "4.90", 2), (31500, "8.90", 2)],
            "express": [(1000, "7.90", 1), (5000, "9.90", 1), (31500, "15.90", 1)],
        },
    ),
    (
        "Germany",
        [("DE", "")],
        {
            "standard": [(1000, "4.49", 2), (5000, "5.99", 2), (31500, "10.49", 2)],
            "express": [(1000, "9.90", 1), (5000, "12.90", 1), (31500, "19.90", 1)],
        },
    ),
    (
        "Europe",
        [("AT", ""), ("NL", ""), ("FR", ""), ("BE", ""), ("DK", "")],
        {
            "standard": [(1000, "9.90", 3), (5000, "14.90", 3), (31500, "29.90", 4)],
            "express": [(1000, "19.90", 2), (5000, "27.90", 2), (31500, "49.90", 2)],
        },
    ),
    (
        "United Kingdom",
        [("GB", "")],
        {
            "standard": [(1000, "12.90", 3), (5000, "19.90", 4), (31500, "39.90", 5)],
            "express": [(1000, "24.90", 2), (5000, "34.90", 2), (31500, "64.90", 3)],
        },
    ),
    (
        "North America",
        [("US", ""), ("CA", "")],
        {
            "standard": [(1000, "19.90", 5), (5000, "34.90", 5), (31500, "79.90", 6)],
            "express": [(1000, "39.90", 3), (5000, "59.90", 3), (31500, "129.90", 3)],
        },
    ),
]


def simulated_carrier_setup() -> Carrier:
    """The demo's label-selling carrier, its services, zones and rates (idempotent)."""
    from fulfillment.models import CarrierService, ShippingRate, ShippingZone, ShippingZoneArea

    carrier, _ = Carrier.objects.get_or_create(
        code="post",
        defaults={"name": "Orderline Post", "adapter": "simulated", "poll_interval_minutes": 30},
    )
    services = {
        code: CarrierService.objects.get_or_create(
            carrier=carrier, code=code, defaults={"name": name, "shipping_method": method}
        )[0]
        for code, name, method in [
            ("standard", "Standard", "Standard"),
            ("express", "Express", "Express"),
        ]
    }
    for name, areas, bands in SIMULATED_ZONES:
        zone, _ = ShippingZone.objects.get_or_create(carrier=carrier, name=name)
        for country, prefix in areas:
            ShippingZoneArea.objects.get_or_create(zone=zone, country=country, postal_prefix=prefix)
        for code, rows in bands.items():
            for grams, price, days in rows:
                ShippingRate.objects.get_or_create(
                    service=services[code],
                    zone=zone,
                    max_weight_grams=grams,
                    defaults={"price": Decimal(price), "currency": "EUR", "transit_days": days},
                )
    return carrier


STANDARD, REDUCED = Decimal("0.1900"), Decimal("0.0700")


@dataclass(frozen=True)
class ProductSpec:
    sku: str
    name: str
    gross: str  # shelf price incl. VAT; the net price is derived from it
    tax: Decimal
    grams: int
    where: str  # HAM, BER or both
    popularity: int
    scarce: bool = False  # limited batch, never reordered: sells out during the demo period
    active: bool = True


def _p(sku, name, gross, grams, where, pop, tax=STANDARD, **kw) -> ProductSpec:
    return ProductSpec(sku, name, gross, tax, grams, where, pop, **kw)


# fmt: off
PRODUCTS = [
    #  SKU                 name                                       gross    g     where  popularity
    _p("TEE-ORG-BLK-S",    "Organic cotton tee, black, S",            "24.95", 180,  "HAM", 6),
    _p("TEE-ORG-BLK-M",    "Organic cotton tee, black, M",            "24.95", 190,  "HAM", 10),
    _p("TEE-ORG-BLK-L",    "Organic cotton tee, black, L",            "24.95", 200,  "HAM", 8),
    _p("TEE-ORG-WHT-S",    "Organic cotton tee, white, S",            "24.95", 180,  "HAM", 0, active=False),
    _p("TEE-ORG-WHT-M",    "Organic cotton tee, white, M",            "24.95", 190,  "HAM", 6),
    _p("TEE-ORG-WHT-L",    "Organic cotton tee, white, L",            "24.95", 200,  "HAM", 5),
    _p("MER-BASE-GRY-M",   "Merino base layer, long sleeve, grey, M", "79.95", 210,  "HAM", 5),
    _p("MER-BASE-GRY-L",   "Merino base layer, long sleeve, grey, L", "79.95", 220,  "HAM", 4),
    _p("FLC-JKT-NVY-M",    "Fleece jacket, navy, M",                  "89.95", 420,  "HAM", 5),
    _p("FLC-JKT-NVY-L",    "Fleece jacket, navy, L",                  "89.95", 440,  "HAM", 4),
    _p("RAIN-JKT-RED-M",   "Rain jacket 2.5L, red, M",                "149.00", 360, "HAM", 4),
    _p("RAIN-JKT-RED-L",   "Rain jacket 2.5L, red, L",                "149.00", 380, "HAM", 3),
    _p("DOWN-JKT-BLK-M",   "Down jacket 600 fill, black, M",          "219.00", 390, "HAM", 4, scarce=True),
    _p("HIKE-PNT-OLV-32",  "Hiking trousers, olive, W32",             "99.95", 450,  "HAM", 3),
    _p("HIKE-PNT-OLV-34",  "Hiking trousers, olive, W34",             "99.95", 460,  "HAM", 3),
    _p("SHORTS-TRL-BLK-M", "Trail shorts, black, M",                  "49.95", 160,  "HAM", 2),
    _p("SOCK-HIK-3PK-39",  "Hiking socks, 3-pack, 39-42",             "19.95", 240,  "both", 9),
    _p("SOCK-HIK-3PK-43",  "Hiking socks, 3-pack, 43-46",             "19.95", 250,  "both", 8),
    _p("BEANIE-MER-GRY",   "Merino beanie, grey",                     "29.95", 80,   "HAM", 6),
    _p("CAP-TRK-KHK",      "Trucker cap, khaki",                      "24.95", 90,   "HAM", 3),
    _p("GLOVE-FLC-BLK-M",  "Fleece gloves, black, M",                 "22.95", 70,   "HAM", 3),
    _p("NECK-GAIT-BLU",    "Neck gaiter, blue",                       "14.95", 40,   "HAM", 3),
    _p("SHOE-TRL-GRY-42",  "Trail running shoes, grey, EU 42",        "129.00", 620, "both", 3),
    _p("SHOE-TRL-GRY-43",  "Trail running shoes, grey, EU 43",        "129.00", 640, "both", 4, scarce=True),
    _p("SHOE-TRL-GRY-44",  "Trail running shoes, grey, EU 44",        "129.00", 660, "both", 3),
    _p("CARE-WAX-100",     "Boot wax, 100 ml",                        "9.95",  120,  "HAM", 3),
    _p("PACK-DAY-30L-BLK", "Day pack 30 L, black",                    "89.00", 980,  "both", 5),
    _p("PACK-TRK-55L-GRN", "Trekking pack 55 L, green",               "189.00", 1850, "BER", 2),
    _p("TENT-UL-2P",       "Ultralight tent, 2 persons",              "349.00", 1350, "BER", 2, scarce=True),
    _p("BAG-SLP-3S",       "Sleeping bag, 3 seasons, -5 °C",          "159.00", 1250, "BER", 3),
    _p("MAT-SLP-R3",       "Sleeping mat, self-inflating, R 3.2",     "79.00", 890,  "BER", 3),
    _p("STOVE-GAS-MINI",   "Mini gas stove",                          "39.95", 110,  "BER", 3),
    _p("POT-TI-750",       "Titanium pot, 750 ml",                    "44.95", 105,  "BER", 2),
    _p("SPORK-TI",         "Titanium spork",                          "9.95",  18,   "both", 4),
    _p("MUG-ENM-WHT",      "Enamel mug, white",                       "12.95", 160,  "both", 5),
    _p("BOTTLE-STL-750",   "Insulated steel bottle, 750 ml",          "29.95", 390,  "both", 6),
    _p("LAMP-HEAD-350",    "Head torch, 350 lm",                      "49.95", 85,   "both", 5),
    _p("POLE-TRK-CARB",    "Carbon trekking poles, pair",             "119.00", 440, "BER", 2),
    _p("BAG-DRY-20L",      "Dry bag, 20 L",                           "19.95", 95,   "both", 4),
    _p("KIT-FIRSTAID",     "First-aid kit, hiking",                   "24.95", 230,  "BER", 3),
    # Books and maps carry the reduced VAT rate.
    _p("MAP-HARZ-50K",     "Hiking map Harz 1:50 000",                "9.95",  90,   "HAM", 3, tax=REDUCED),
    _p("MAP-SAXSW-25K",    "Hiking map Saxon Switzerland 1:25 000",   "9.95",  90,   "HAM", 3, tax=REDUCED, scarce=True),
    _p("BOOK-ALPS-HUT",    "Guidebook: hut to hut across the Alps",   "24.00", 420,  "HAM", 2, tax=REDUCED),
    _p("BOOK-TRAIL-COOK",  "The trail cookbook",                      "19.90", 380,  "HAM", 2, tax=REDUCED),
]

# Country: (share of customers, [(city, region, postal codes)], streets, house number first?)
GEOGRAPHY = {
    "DE": (78, [
        ("Hamburg", "", ["20095", "20357", "22765", "22303"]), ("Berlin", "", ["10115", "10437", "10999", "12047"]),
        ("München", "", ["80331", "80469", "81667"]), ("Köln", "", ["50667", "50823"]),
        ("Frankfurt am Main", "", ["60311", "60594"]), ("Stuttgart", "", ["70173", "70197"]),
        ("Leipzig", "", ["04109", "04275"]), ("Dresden", "", ["01067", "01099"]), ("Hannover", "", ["30159"]),
        ("Nürnberg", "", ["90402"]), ("Bremen", "", ["28195"]), ("Freiburg im Breisgau", "", ["79098"]),
        ("Münster", "", ["48143"]), ("Kiel", "", ["24103"]), ("Rostock", "", ["18055"]), ("Bonn", "", ["53111"]),
        ("Düsseldorf", "", ["40213"]), ("Heidelberg", "", ["69117"]), ("Regensburg", "", ["93047"]),
        ("Göttingen", "", ["37073"]), ("Garmisch-Partenkirchen", "", ["82467"]), ("Wernigerode", "", ["38855"]),
    ], ["Lindenstraße", "Hauptstraße", "Bahnhofstraße", "Schillerstraße", "Goethestraße", "Am Markt",
        "Gartenweg", "Bergstraße", "Mühlenweg", "Kastanienallee", "Friedrichstraße", "Eichendorffweg"], False),
    "AT": (8, [
        ("Wien", "", ["1010", "1070", "1180"]), ("Graz", "", ["8010"]), ("Salzburg", "", ["5020"]),
        ("Innsbruck", "", ["6020"]), ("Linz", "", ["4020"]),
    ], ["Mariahilfer Straße", "Neubaugasse", "Herrengasse", "Kaiserstraße", "Bergstraße"], False),
    "NL": (5, [
        ("Amsterdam", "", ["1012 AB", "1017 CT"]), ("Utrecht", "", ["3511 AA"]), ("Rotterdam", "", ["3011 AD"]),
        ("Haarlem", "", ["2011 VK"]),
    ], ["Prinsengracht", "Oudegracht", "Kerkstraat", "Molenweg"], False),
    "FR": (3, [
        ("Paris", "", ["75011", "75005"]), ("Lyon", "", ["69002"]), ("Strasbourg", "", ["67000"]),
        ("Annecy", "", ["74000"]), ("Grenoble", "", ["38000"]),
    ], ["rue de la République", "rue Victor Hugo", "avenue Jean Jaurès", "rue des Alpes"], True),
    "GB": (3, [
        ("London", "", ["N1 9GU", "SE1 7PB"]), ("Manchester", "", ["M1 1AE"]), ("Edinburgh", "", ["EH1 1YZ"]),
        ("Keswick", "", ["CA12 5DQ"]), ("Bristol", "", ["BS1 4DJ"]),
    ], ["High Street", "Church Lane", "Station Road", "Mill Lane"], True),
    "US": (3, [
        ("Boulder", "CO", ["80302"]), ("Portland", "OR", ["97205"]), ("Seattle", "WA", ["98101"]),
        ("Denver", "CO", ["80202"]), ("Burlington", "VT", ["05401"]),
    ], ["Pearl Street", "Main Street", "Maple Avenue", "Lake Road"], True),
}

NAMES = {  # first names, last names
    "DE": (["Anna", "Lukas", "Sophie", "Jonas", "Marie", "Felix", "Lena", "Paul", "Hannah", "Leon", "Mia", "Finn",
            "Laura", "Tim", "Julia", "Niklas", "Katharina", "Moritz", "Clara", "Jan", "Sarah", "Tobias", "Franziska",
            "Simon", "Johanna", "Matthias", "Lea", "David", "Nina", "Florian", "Jana", "Philipp"],
           ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
            "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Braun", "Zimmermann", "Krüger",
            "Hartmann", "Lange", "Werner", "Krause", "Lehmann", "Köhler", "Maier", "Vogel", "Peters", "Jung"]),
    "AT": (["Lukas", "Anna", "Tobias", "Katharina", "Florian", "Magdalena", "Stefan", "Theresa"],
           ["Gruber", "Huber", "Bauer", "Pichler", "Steiner", "Moser", "Hofer", "Leitner"]),
    "NL": (["Daan", "Emma", "Sem", "Julia", "Lucas", "Tess", "Bram", "Sanne"],
           ["de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit"]),
    "FR": (["Camille", "Louis", "Chloé", "Hugo", "Manon", "Jules"],
           ["Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefèvre"]),
    "GB": (["Oliver", "Amelia", "Harry", "Isla", "George", "Emily"],
           ["Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans"]),
    "US": (["Ethan", "Olivia", "Noah", "Ava", "Mason", "Harper"],
           ["Miller", "Davis", "Garcia", "Anderson", "Thomas", "Moore"]),
}
# fmt: on

PHONE_PREFIX = {"DE": "+49", "AT": "+43", "NL": "+31", "FR": "+33", "GB": "+44", "US": "+1"}

HOLD_REASONS = [
    "Address could not be verified; waiting for the customer",
    "Payment flagged for review",
    "Customer asked us to ship after their holiday",
    "Possible duplicate of another order",
]
CANCEL_REASONS = [
    "Customer changed their mind",
    "Duplicate order",
    "Customer ordered the wrong size; placing a new order",
    "Delivery address outside our shipping area",
]
REJECT_REASONS = [
    "Outside the 30-day return window",
    "The items show clear signs of use",
]
RETURN_REASONS = [
    ("size", 45),
    ("no_longer_needed", 20),
    ("not_as_described", 12),
    ("damaged", 10),
    ("wrong_item", 6),
    ("other", 7),
]
RETURN_NOTES = {
    "size": "Too small, I need one size up.",
    "damaged": "The seam was torn when it arrived.",
    "not_as_described": "The colour is much darker than on the photos.",
    "wrong_item": "I received a different size than I ordered.",
    "no_longer_needed": "",
    "other": "Gift, the recipient already has one.",
}

# Which carrier takes an order's parcels. Orderline Post (the simulated carrier) sells the
# labels and reports tracking; DHL, DPD and UPS are manual accounts: the tracking number is
# typed in and customer service marks the parcel delivered from the carrier's website.
CARRIER_SHARES = {
    "DE": {"post": 65, "dhl": 22, "dpd": 13},
    "abroad": {"post": 60, "ups": 22, "dhl": 18},
}
MANUAL_TRANSIT_HOURS = {"DE": (16, 60), "abroad": (30, 100)}

# Cartons by what goes in (grams of the items, largest first): (max grams, length, width, height mm).
BOXES = [
    (450, 320, 240, 40),  # padded mailer bag
    (1200, 300, 215, 140),
    (3000, 400, 300, 200),
    (8000, 500, 350, 300),
    (31500, 600, 400, 400),
]
SPLIT_PARCEL_GRAMS = 2000  # above this, a shipment of several items goes in two boxes

# Delivery ratings: (rating, weight, comments; "" is a rating without a comment).
FEEDBACK = [
    (
        5,
        60,
        [
            "",
            "",
            "Fast and well packed, thank you!",
            "Arrived two days after I ordered. Great service.",
            "Everything perfect, the tracking updates were spot on.",
            "Super quick, nicely packed without plastic.",
            "Delivered exactly on the expected day.",
        ],
    ),
    (
        4,
        27,
        [
            "",
            "Good, but the box was much bigger than needed.",
            "Arrived on time; the driver left it with a neighbour.",
            "All fine, the tracking could say more about the delivery time.",
        ],
    ),
    (
        3,
        7,
        [
            "Took a day longer than announced.",
            "The parcel was left at the door in the rain.",
            "Okay, but the box was a bit dented.",
        ],
    ),
    (
        2,
        4,
        [
            "Left with a neighbour I don't know, had to search for it.",
            "Parcel arrived damp, the contents were fine though.",
        ],
    ),
    (1, 2, ["The tracking said delivered but it only turned up the next day at the neighbours'."]),
]
FEEDBACK_AFTER_PROBLEM = {  # by what the carrier reported on the way
    "delayed": [
        (
            3,
            45,
            [
                "Arrived a day late, but you kept me informed.",
                "Delayed at the hub, otherwise fine.",
            ],
        ),
        (2, 25, ["A day late and I had taken the day off for it."]),
        (4, 30, ["A day late, but the email told me why. Thanks."]),
    ],
    "address_issue": [
        (
            2,
            50,
            [
                "The driver couldn't find our address although it is correct.",
                "Our street is easy to find; the carrier asked me to confirm the address anyway.",
            ],
        ),
        (3, 35, ["Took an extra day because the driver missed the house number."]),
        (1, 15, ["Driver said the address doesn't exist. It does. Arrived a day later."]),
    ],
}
FEEDBACK_SHARE = 0.15  # of the customers asked, this many rate the delivery

# One order is pinned to each of these stages (so even a small seed shows them all); the
# others live a sampled life. Pinned orders were placed this many days ago (default: 4-55).
PINNED_STAGES = [
    "placed",
    "to_pick",
    "picked",
    "packed",
    "partly_shipped",
    "shipped",
    "delivered",
    "return_requested",
    "return_received",
    "refunded",
    "return_rejected",
    "cancelled",
    "on_hold",
]
PINNED_DAYS_AGO = {
    "placed": (0.02, 0.5),
    "to_pick": (0.1, 1.0),
    "picked": (0.1, 1.0),
    "packed": (0.1, 1.0),
    "partly_shipped": (0.5, 2.5),
    "shipped": (0.5, 3.0),
    "on_hold": (0.2, 5.0),
    "return_requested": (8, 20),
    "return_received": (12, 30),
}
GROWTH = 1.0  # the order rate doubles over the period: a growing shop
UNITS_PER_ORDER = 2.1  # on average, for stock planning
CHANNEL_SHARES = {slug: share for slug, _, _, share in CHANNELS}


def _ascii(text: str) -> str:
    text = text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in text if c.isalnum() or c in ".-")


def _ean13(body12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def _weighted(rng: random.Random, table):
    items = list(table.items()) if isinstance(table, dict) else list(table)
    return rng.choices([k for k, _ in items], weights=[w for _, w in items])[0]


@dataclass
class CustomerSpec:
    name: str
    email: str
    phone: str
    country: str
    addresses: list[dict]


@dataclass
class Plan:
    """One order's life: what it reaches and when each step happens."""

    idx: int
    stage: str
    channel: str
    customer: CustomerSpec
    placed_at: datetime
    full_return: bool = False
    order: Order | None = None
    failed: str = ""
    payment: str = ""  # card, marketplace, cash, invoice
    rma: ReturnRequest | None = None
    carrier: str = ""  # post (simulated: labels and tracking), dhl, dpd, ups (manual)


@dataclass(order=True)
class Step:
    when: datetime
    seq: int
    run: Callable = field(compare=False)
    plan: Plan | None = field(default=None, compare=False)


class Clock:
    """The simulated now: django.utils.timezone.now() returns ``now`` while the seed runs."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _drop_task(*args, **kwargs):
    """Stands in for Celery's Task.apply_async while seeding: nothing reaches the broker."""
    return None


def _label_deferred(content) -> bytes:
    """Stands in for the label renderer while seeding: the label is stored empty and drawn
    from its shipment on first download (fulfillment.shipping.shipment_label_pdf)."""
    return b""


class Seeder:
    def __init__(self, *, rng: random.Random, orders: int, real_now: datetime, clock: Clock):
        self.rng = rng
        self.n_orders = orders
        self.clock = clock
        # Local time: the warehouse works days, the carrier picks up at five, in the shop's zone.
        self.end = timezone.localtime(real_now) - timedelta(minutes=10)
        self.start = self.end - timedelta(days=DAYS)
        self.actors: dict[str, User | None] = {role: None for _, role, _, _ in DEMO_USERS}
        self.failures: Counter = Counter()
        self.failure_examples: dict[str, str] = {}
        self.steps: list[Step] = []
        self._seq = 0
        self.emails_sent = 0
        self._po = 0
        self.plans: dict[int, Plan] = {}  # by order pk
        self.batch_until = self.end  # no morning pick list after this (see plan_orders)
        self.short_picks_at: list[datetime] = []  # a short pick on the first batch after each
        self.clean_tracking = (
            False  # the parcel being labelled must reach the customer uneventfully
        )
        self.returned_to_sender = 0
        self._tracked: dict[int, list] = {}  # shipment pk -> the carrier's events not recorded yet
        self._feedback_sweeps: set[datetime] = set()

    # ------------------------------------------------------------------ people

    def users(self, *, create: bool) -> list[User]:
        created = []
        for username, role, first, last in DEMO_USERS:
            user = User.objects.filter(username=username).first()
            if user is None and create:
                user = User(
                    username=username,
                    first_name=first,
                    last_name=last,
                    email=f"{username}@example.com",
                    is_staff=role == roles.MANAGER,
                )
                user.set_password(DEMO_PASSWORD)
                user.save()
                user.groups.add(roles.role_group(role))
                created.append(user)
            if user is not None and roles.has_role(user, (role,)):
                self.actors[role] = user
        return created

    def actor(self, role: str):
        return self.actors.get(role)

    # ------------------------------------------------------------------ catalogue and stock

    def catalogue(self) -> None:
        self.clock.now = self.start - timedelta(days=8)
        self.channels = {}
        for slug, name, kind, _ in CHANNELS:
            self.channels[slug], _ = SalesChannel.objects.get_or_create(
                slug=slug, defaults={"name": name, "kind": kind}
            )
        self.warehouses = {}
        for spec in WAREHOUSES:
            wh, _ = Warehouse.objects.get_or_create(code=spec["code"], defaults=spec)
            self.warehouses[wh.code] = wh
        self.carriers = {}
        for code, name, url in CARRIERS:
            self.carriers[code], _ = Carrier.objects.get_or_create(
                code=code, defaults={"name": name, "tracking_url_template": url}
            )
        self.carriers["post"] = simulated_carrier_setup()
        self.post = client_for(self.carriers["post"])  # the simulated carrier's client
        self.products: dict[str, Product] = {}
        self.specs: dict[str, ProductSpec] = {}
        for spec in PRODUCTS:
            net = quantize(Decimal(spec.gross) / (1 + spec.tax))
            barcode = _ean13("20" + "".join(str(self.rng.randrange(10)) for _ in range(10)))
            product, _ = Product.objects.get_or_create(
                sku=spec.sku,
                defaults={
                    "name": spec.name,
                    "price": net,
                    "tax_rate": spec.tax,
                    "barcode": barcode,
                    "weight_grams": spec.grams,
                    "active": spec.active,
                },
            )
            self.products[spec.sku] = product
            self.specs[spec.sku] = spec
        self._total_popularity = sum(s.popularity for s in PRODUCTS)

    def weekly_demand(self, sku: str, at: datetime) -> float:
        """Units of ``sku`` the shop expects to sell in the week after ``at`` (the buyer plans with it)."""
        x = min(max((at - self.start) / (self.end - self.start), 0.0), 1.0)
        orders_per_week = self.n_orders * (1 + GROWTH * x) / (1 + GROWTH / 2) * 7 / DAYS
        share = self.specs[sku].popularity / self._total_popularity
        return orders_per_week * UNITS_PER_ORDER * share

    def _homes(self, spec: ProductSpec) -> list[tuple[str, float]]:
        return {
            "HAM": [("HAM", 1.0)],
            "BER": [("BER", 1.0)],
            "both": [("HAM", 0.65), ("BER", 0.35)],
        }[spec.where]

    def _po_number(self) -> str:
        self._po += 1
        return f"PO-{self.clock.now.year}-{self._po:04d}"

    @staticmethod
    def _case(spec: ProductSpec, units: float) -> int:
        """Suppliers deliver in cases: small items by 10, clothes by 6, bulky gear by 4."""
        pack = 10 if spec.grams < 150 else 6 if spec.grams < 700 else 4
        return max(pack, pack * -(-round(units) // pack))

    def opening_stock(self) -> None:
        self.clock.now = self.start - timedelta(days=5, hours=-9)
        po = {code: self._po_number() for code in self.warehouses}
        for sku, spec in self.specs.items():
            if not spec.active:
                continue
            weekly = self.weekly_demand(sku, self.start)
            for code, share in self._homes(spec):
                if spec.scarce:  # a limited batch: lasts about half the period
                    qty = max(2, round(weekly * share * self.rng.uniform(3, 4)))
                else:
                    qty = self._case(spec, weekly * share * self.rng.uniform(4, 6))
                stock_receive(
                    product=self.products[sku],
                    warehouse=self.warehouses[code],
                    quantity=qty,
                    actor=self.actor(roles.WAREHOUSE),
                    reference=po[code],
                    reason="Opening stock",
                )
            self.clock.now += timedelta(seconds=20)
        self.bin_locations()

    def bin_locations(self) -> None:
        """Every product gets a shelf in each warehouse that stocks it (aisle-rack-shelf, e.g.
        B-07-3): products of a kind share an aisle, so a pick walk reads like a real one."""
        aisles: dict[str, str] = {}
        for code in self.warehouses:
            levels = StockLevel.objects.filter(warehouse=self.warehouses[code], bin_location="")
            slots: dict[str, int] = {}
            for lv in levels.select_related("product").order_by("product__sku"):
                family = lv.product.sku.split("-")[0]
                aisle = aisles.setdefault(family, "ABCDEFGHJK"[len(aisles) % 10])
                slots[aisle] = slots.get(aisle, 0) + 1
                rack, shelf = divmod(slots[aisle] - 1, 3)
                lv.bin_location = f"{aisle}-{2 * rack + 1 + len(family) % 2:02d}-{shelf + 1}"
                lv.save(update_fields=["bin_location"])

    def goods_in(self, _plan=None) -> None:
        """Monday's delivery: what would not last two more weeks is topped up to about five
        weeks' worth, in whole cases. Scarce products (a limited batch) are never reordered."""
        availability = {
            (lv.product_id, lv.warehouse_id): lv.on_hand - lv.reserved
            for lv in StockLevel.objects.filter(product__in=self.products.values())
        }
        po = {code: self._po_number() for code in self.warehouses}
        for sku, spec in self.specs.items():
            if spec.scarce or not spec.active:
                continue
            weekly = self.weekly_demand(sku, self.clock.now)
            for code, share in self._homes(spec):
                product, wh = self.products[sku], self.warehouses[code]
                have = availability.get((product.pk, wh.pk), 0)
                if have < weekly * share * 2 + 1:
                    qty = self._case(spec, weekly * share * self.rng.uniform(4, 6) - have)
                    stock_receive(
                        product=product,
                        warehouse=wh,
                        quantity=qty,
                        actor=self.actor(roles.WAREHOUSE),
                        reference=po[code],
                        reason="Supplier delivery",
                    )
                    self.clock.now += timedelta(seconds=30)

    def stock_corrections(self, _plan=None) -> None:
        """A few adjustments a real ledger has: breakage and stock-count differences."""
        for sku, code, delta, reason in [
            ("BOTTLE-STL-750", "HAM", -1, "Damaged in storage (dented)"),
            ("SOCK-HIK-3PK-39", "HAM", 2, "Found in stock count"),
            ("MUG-ENM-WHT", "BER", -2, "Broken in the warehouse"),
            ("LAMP-HEAD-350", "HAM", -1, "Stock count: one missing"),
        ]:
            level = StockLevel.objects.filter(
                product=self.products[sku], warehouse=self.warehouses[code]
            ).first()
            if level is None or level.available + delta < 0:
                continue  # nothing free to write off here
            stock_adjust(
                product=self.products[sku],
                warehouse=self.warehouses[code],
                delta=delta,
                reason=reason,
                actor=self.actor(roles.WAREHOUSE),
                reference="COUNT",
            )
            self.clock.now += timedelta(minutes=3)

    # ------------------------------------------------------------------ customers

    def customers(self) -> list[CustomerSpec]:
        count = max(3, min(120, round(self.n_orders * 0.4)))
        emails: set[str] = set()
        result = []
        for _ in range(count):
            country = _weighted(self.rng, {c: g[0] for c, g in GEOGRAPHY.items()})
            first = self.rng.choice(NAMES[country][0])
            last = self.rng.choice(NAMES[country][1])
            domain = self.rng.choice(["example.com", "example.org", "example.net"])
            base = f"{_ascii(first)}.{_ascii(last)}"
            email = f"{base}@{domain}"
            n = 1
            while email in emails:
                n += 1
                email = f"{base}{n}@{domain}"
            emails.add(email)
            phone = ""
            if self.rng.random() < 0.6:
                digits = "".join(str(self.rng.randrange(10)) for _ in range(8))
                phone = f"{PHONE_PREFIX[country]} {self.rng.randrange(150, 180)} {digits}"
            name = f"{first} {last}"
            addresses = [self._address(country, name)]
            if self.rng.random() < 0.15:  # a second address: work, or the parents' place
                addresses.append(self._address(country, name))
            result.append(
                CustomerSpec(
                    name=name, email=email, phone=phone, country=country, addresses=addresses
                )
            )
        return result

    def _address(self, country: str, name: str) -> dict:
        _, cities, streets, number_first = GEOGRAPHY[country]
        city, region, codes = self.rng.choice(cities)
        street = self.rng.choice(streets)
        number = str(self.rng.randrange(1, 140)) + (
            self.rng.choice("abc") if self.rng.random() < 0.1 else ""
        )
        line1 = f"{number} {street}" if number_first else f"{street} {number}"
        line2 = self.rng.choice(["", "", "", "", "2nd floor", "c/o Office", "Apartment 4"])
        return {
            "name": name,
            "line1": line1,
            "line2": line2,
            "city": city,
            "region": region,
            "postal_code": self.rng.choice(codes),
            "country": country,
        }

    # ------------------------------------------------------------------ the plan

    def plan_orders(self, customers: list[CustomerSpec]) -> list[Plan]:
        """Every order's life, from placement on. Placement times follow a growing shop
        (more orders lately, in daytime); what happens next is sampled (cancelled, held,
        split across warehouses, returned...), and only what has happened by now runs.
        The first orders are pinned to one stage each, so even a small seed shows every
        stage."""
        rng = self.rng
        buyers = list(range(len(customers)))  # everyone orders at least once; some come back
        rng.shuffle(buyers)
        while len(buyers) < self.n_orders:
            buyers.append(rng.randrange(len(customers)))
        buyers = buyers[: self.n_orders]
        rng.shuffle(buyers)
        pinned = list(PINNED_STAGES)
        plans = []
        for i in range(self.n_orders):
            stage = pinned[i] if i < len(pinned) else None
            # Pinned orders come from the web shop (paid up front), so each stage shows its
            # payments and refunds too; the others come through every channel.
            channel = "web" if stage else _weighted(rng, CHANNEL_SHARES)
            payment = {"web": "card", "amazon": "marketplace", "counter": "cash"}.get(
                channel, rng.choice(["invoice", "invoice", "card"])
            )
            plan = Plan(
                idx=i,
                stage=stage,
                channel=channel,
                customer=customers[buyers[i]],
                payment=payment,
                placed_at=self.start,
            )
            if stage is None:
                self._schedule(plan, self._natural_placement(), **self._natural_outcome())
            else:
                self._schedule_pinned(plan)
            plans.append(plan)
        # The morning pick lists take every ready order of a warehouse; they stop before the
        # orders pinned to the early stages arrive, so those stay where they were pinned.
        early = [p.placed_at for p in plans if p.stage in ("placed", "to_pick", "picked", "packed")]
        self.batch_until = min([*early, self.end])
        self.short_picks_at = [
            self.start + timedelta(days=DAYS * 0.3),
            self.start + timedelta(days=DAYS * 0.7),
        ]
        return plans

    def _natural_placement(self) -> datetime:
        """Order times with a density growing linearly by GROWTH over the period, 7:00-23:00."""
        u = self.rng.random()
        a = GROWTH
        x = (-1 + (1 + 2 * a * (1 + a / 2) * u) ** 0.5) / a  # inverse of the growing density
        when = self.start + (self.end - self.start) * x
        if not 7 <= when.hour < 23:
            when = when.replace(hour=self.rng.randrange(7, 23))
            if when > self.end:
                when -= timedelta(days=1)
        return max(self.start, min(when, self.end - timedelta(minutes=3)))

    def _natural_outcome(self) -> dict:
        rng = self.rng
        outcome = _weighted(rng, {"normal": 87, "cancel": 5, "hold_release": 6, "hold_cancel": 2})
        ret = None
        if outcome == "normal" and rng.random() < 0.13:
            ret = _weighted(rng, {"refunded": 88, "rejected": 12})
        return {"outcome": outcome, "ret": ret, "full_return": rng.random() < 0.3}

    def _schedule_pinned(self, p: Plan) -> None:
        kwargs = {"outcome": "normal", "ret": None, "stop": None, "full_return": False}
        stage = p.stage
        if stage in ("placed", "cancelled", "on_hold"):
            kwargs["outcome"] = {"placed": "placed", "cancelled": "cancel", "on_hold": "hold"}[
                stage
            ]
        elif stage in ("to_pick", "picked", "packed", "partly_shipped", "shipped"):
            kwargs["stop"] = stage
        elif stage != "delivered":
            kwargs["ret"] = {
                "return_requested": "requested",
                "return_received": "received",
                "refunded": "refunded",
                "return_rejected": "rejected",
            }[stage]
            kwargs["full_return"] = stage == "refunded"
        lo, hi = PINNED_DAYS_AGO.get(stage, (4.0, DAYS - 5.0))
        placed = self.end - timedelta(days=self.rng.uniform(lo, hi))
        for _ in range(40):  # move it back until its whole chain has happened by now
            steps = self._chain(p, placed, **kwargs)
            last = max(when for when, _, optional in steps if not optional)
            if last <= self.end:
                break
            placed -= (last - self.end) + timedelta(hours=self.rng.uniform(1, 12))
        p.placed_at = placed
        self._queue(p, steps)

    def _schedule(self, p: Plan, placed: datetime, **kwargs) -> None:
        p.placed_at = placed
        self._queue(p, self._chain(p, placed, **kwargs))

    def _queue(self, p: Plan, steps) -> None:
        for when, run, _optional in steps:
            if run is not None and when <= self.end:  # what lies in the future has not happened yet
                self._add(when, run, p)

    def _working(
        self, when: datetime, *, open_: int = 7, close: int = 19, saturday: bool = False
    ) -> datetime:
        """The next moment the warehouse (or the carrier) works: weekdays, daytime."""
        last_day = 5 if saturday else 4
        for _ in range(8):
            if when.weekday() <= last_day and open_ <= when.hour < close:
                return when
            if when.hour >= close or when.weekday() > last_day:
                when = (when + timedelta(days=1)).replace(hour=open_, minute=0)
            else:
                when = when.replace(hour=open_, minute=0)
            when += timedelta(minutes=self.rng.uniform(0, 90))
        return when

    def _chain(
        self,
        p: Plan,
        placed: datetime,
        *,
        outcome: str,
        ret: str | None,
        full_return: bool,
        stop: str | None = None,
    ) -> list[tuple[datetime, Callable, bool]]:
        """The steps of one order's life as (when, step, optional). ``stop`` ends it at a stage."""
        rng = self.rng
        p.full_return = full_return
        abroad = p.customer.country != "DE"
        if stop in ("shipped", "partly_shipped"):  # a manual carrier: no news moves it on
            p.carrier = "dhl"
        else:
            p.carrier = _weighted(rng, CARRIER_SHARES["abroad" if abroad else "DE"])
        steps: list[tuple[datetime, Callable | None, bool]] = []

        def hours(lo: float, hi: float) -> timedelta:
            return timedelta(hours=rng.uniform(lo, hi))

        t = placed
        steps.append((t, self.place, False))
        paid_upfront = p.payment in ("card", "marketplace", "cash")
        if paid_upfront:
            steps.append((t + timedelta(minutes=rng.uniform(0.5, 6)), self.pay_in_full, False))
        if outcome == "placed":
            return steps
        if outcome.startswith("hold"):
            t += min(hours(0.2, 5), (self._next_batch(t) - t) * 0.9)
            steps.append((t, self.hold, False))
            if outcome == "hold":
                return steps
            t += hours(3, 60)
            steps.append((t, self.cancel if outcome == "hold_cancel" else self.release, False))
            if outcome == "hold_cancel":
                if paid_upfront:
                    steps.append((self._working(t + hours(1, 24)), self.refund_cancelled, False))
                return steps
        if outcome == "cancel":
            t += min(hours(0.3, 30), (self._next_batch(t) - t) * 0.9)
            steps.append((t, self.cancel, False))
            if paid_upfront:
                steps.append((self._working(t + hours(1, 24)), self.refund_cancelled, False))
            return steps

        created = self._working(t + hours(1, 20))
        steps.append((created, self.create_shipments, False))
        if stop == "to_pick":
            return steps
        t1 = self._working(created + hours(0.2, 3))
        steps.append((t1, functools.partial(self.pick, which="first"), False))
        if stop == "picked":
            return steps
        t1 = self._working(t1 + hours(0.1, 1))
        steps.append((t1, functools.partial(self.pack, which="first"), False))
        if stop == "packed":
            return steps
        # Handed over before the carrier's pick-up at five.
        t1 = self._working(t1 + hours(0.2, 4), close=15)
        steps.append((t1, functools.partial(self.ship, which="first"), False))
        if p.payment == "invoice" and rng.random() > 0.06:  # a few never pay: overdue
            steps.append((self._working(t1 + hours(60, 330)), self.pay_invoice, True))
        if stop == "partly_shipped":
            return steps
        # A split order's other parcel is handled by the other warehouse on its own time.
        t2 = self._working(created + hours(2, 30))
        steps.append((t2, functools.partial(self.pick, which="rest"), False))
        t2 = self._working(t2 + hours(0.1, 1))
        steps.append((t2, functools.partial(self.pack, which="rest"), False))
        t2 = self._working(t2 + hours(0.2, 4), close=15)
        steps.append((t2, functools.partial(self.ship, which="rest"), False))
        if stop == "shipped":
            return steps
        # Delivery is the carrier's (tracking events) or customer service's (manual carriers),
        # scheduled when the parcel ships; the plan only needs when it will have arrived by.
        d1, d2 = self._arrived_by(p, t1), self._arrived_by(p, t2)
        steps.append((max(d1, d2), None, False))
        if ret is None:
            return steps
        t = max(d1, d2) + hours(30, 240)
        steps.append((t, self.request_return, False))
        if ret == "requested":
            return steps
        if ret == "rejected":
            steps.append((self._working(t + hours(48, 144)), self.reject_return, False))
            return steps
        t = self._working(t + hours(48, 144))
        steps.append((t, self.receive_return, False))
        if ret == "received":
            return steps
        steps.append((self._working(t + hours(4, 72)), self.refund_return, False))
        return steps

    def _arrived_by(self, p: Plan, shipped: datetime) -> datetime:
        """The latest a parcel handed over at ``shipped`` arrives (a day's delay included)."""
        if p.carrier == "post":
            days = transit_days_for(
                service_code="standard",
                ship_from={"country": "DE"},
                ship_to={"country": p.customer.country},
            )
            day = add_working_days(shipped.date(), days + 1)
            return shipped.replace(year=day.year, month=day.month, day=day.day, hour=18, minute=0)
        hi = MANUAL_TRANSIT_HOURS["DE" if p.customer.country == "DE" else "abroad"][1]
        return shipped + timedelta(hours=hi, days=3)

    def _next_batch(self, t: datetime) -> datetime:
        """When the next morning pick list is made (working days, 7:30)."""
        day = t.replace(hour=7, minute=30, second=0, microsecond=0)
        if t >= day:
            day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return day

    def _add(self, when: datetime, run: Callable, plan: Plan | None = None) -> None:
        self._seq += 1
        heapq.heappush(self.steps, Step(when, self._seq, run, plan))

    def schedule_stock_events(self) -> None:
        day = self.start + timedelta(days=(7 - self.start.weekday()) % 7)  # Mondays
        while day < self.end:
            self._add(day.replace(hour=6, minute=30, second=0, microsecond=0), self.goods_in)
            day += timedelta(days=7)
        self._add(self._working(self.start + timedelta(days=DAYS * 0.55)), self.stock_corrections)
        day = self.start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        while day < self.end:
            # The hourly beat task tells customers of late parcels: the first run after midnight.
            self._add(day + timedelta(minutes=5), self.late_notify)
            if day.weekday() < 5:  # each warehouse's morning pick list
                for i, code in enumerate(self.warehouses):
                    when = day + timedelta(hours=7, minutes=30 + 6 * i + self.rng.uniform(0, 5))
                    if when < self.batch_until:
                        self._add(when, functools.partial(self.batch_pick, code=code))
            day += timedelta(days=1)

    # ------------------------------------------------------------------ running the clock

    def run(self) -> None:
        with (
            override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"),
            # Labels are bought for real, but their PDFs are drawn on first download (hundreds
            # of WeasyPrint renders would double the seed's time), and the simulated carrier's
            # tracking numbers come from the seed's random stream, so the shop is the same twice.
            mock.patch("fulfillment.labels.label_pdf", _label_deferred),
            mock.patch(
                "fulfillment.carriers.simulated.tracking_number_new", self._tracking_number_new
            ),
        ):
            while self.steps:
                step = heapq.heappop(self.steps)
                if step.plan is not None and step.plan.failed:
                    continue
                self.clock.now = step.when
                try:
                    step.run(step.plan)
                except DomainError as exc:
                    name = getattr(getattr(step.run, "func", step.run), "__name__", "step")
                    self.failures[name] += 1
                    self.failure_examples.setdefault(
                        name, f"{step.when:%Y-%m-%d %H:%M} {exc.message}"
                    )
                    if step.plan is not None:
                        step.plan.failed = f"{name}: {exc.message}"
                self._send_emails(step.when)

    def _send_emails(self, when: datetime) -> None:
        """Customer emails queued by the step go out a minute later, into the dummy backend."""
        pending = list(
            Notification.objects.filter(status=NotificationStatus.PENDING).values_list(
                "pk", flat=True
            )
        )
        for pk in pending:
            self.clock.now = when + timedelta(seconds=self.rng.randrange(20, 120))
            notification_send(notification_id=pk)
            self.emails_sent += 1

    # ------------------------------------------------------------------ the steps of an order

    def _order(self, p: Plan) -> Order:
        p.order.refresh_from_db()
        return p.order

    def _lines(self, p: Plan) -> list[LineInput]:
        rng = self.rng
        avail = availability_for(product_ids=[pr.pk for pr in self.products.values()])
        left = {sku: avail[pr.pk].available for sku, pr in self.products.items() if pr.active}
        per_wh = {sku: avail[pr.pk].per_warehouse for sku, pr in self.products.items() if pr.active}
        wanted = 2 if p.stage in ("return_received", "return_requested") else 1  # a partial return
        count = _weighted(rng, {1: 44, 2: 31, 3: 17, 4: 8})
        if p.stage in ("return_received", "return_requested", "partly_shipped"):
            count = max(count, 2)
        picks: list[str] = []
        if p.stage == "partly_shipped":  # an item only Hamburg has, one only Berlin has
            for code, other in (("HAM", "BER"), ("BER", "HAM")):
                options = [
                    s for s in left if per_wh[s].get(code, 0) > 0 and per_wh[s].get(other, 0) <= 0
                ]
                if options:
                    picks.append(rng.choice(options))
        candidates = {
            s: self.specs[s].popularity for s, n in left.items() if n > 0 and s not in picks
        }
        while len(picks) < count and candidates:
            sku = _weighted(rng, candidates)
            candidates.pop(sku)
            picks.append(sku)
        lines = []
        for sku in picks:
            qty = 1
            if rng.random() < (0.35 if sku.startswith("SOCK") else 0.1):
                qty = 2
            qty = min(qty, left[sku])
            if qty > 0:
                lines.append(LineInput(product=self.products[sku], quantity=qty))
        if sum(ln.quantity for ln in lines) < wanted and lines and left[lines[0].product.sku] >= 2:
            lines[0] = LineInput(product=lines[0].product, quantity=2)
        return lines

    def place(self, p: Plan) -> None:
        c = p.customer
        address = (
            c.addresses[0] if len(c.addresses) == 1 or self.rng.random() < 0.7 else c.addresses[1]
        )
        lines = self._lines(p)
        if not lines:
            raise DomainError("nothing left in stock to order")
        gross = sum(ln.product.price * (1 + ln.product.tax_rate) * ln.quantity for ln in lines)
        abroad = address["country"] != "DE"
        shipping = {
            "web": Decimal("12.90")
            if abroad
            else (Decimal("0") if gross >= 75 else Decimal("4.90")),
            "amazon": Decimal("0"),
            "phone": Decimal("14.90") if abroad else Decimal("5.90"),
            "counter": Decimal("0"),
        }[p.channel]
        staff = p.channel in ("phone", "counter")
        external_id = ""
        if p.channel == "amazon":
            external_id = (
                f"302-{self.rng.randrange(10**6, 10**7)}-{self.rng.randrange(10**6, 10**7)}"
            )
        notes = ""
        if p.channel == "phone" and self.rng.random() < 0.3:
            notes = self.rng.choice(
                [
                    "Customer asked for plain packaging (gift).",
                    "Call before delivery.",
                    "Leave with the neighbours if not at home.",
                ]
            )
        p.order = order_place(
            channel=self.channels[p.channel],
            email=c.email,
            name=c.name,
            phone=c.phone,
            address=address,
            lines=lines,
            actor=self.actor(roles.CUSTOMER_SERVICE) if staff else None,
            source=EventSource.STAFF if staff else EventSource.CHANNEL,
            shipping_method="Standard",
            shipping_total=shipping,
            payment_method=p.payment,
            notes=notes,
            external_id=external_id,
        )
        self.plans[p.order.pk] = p

    def pay_in_full(self, p: Plan) -> None:
        order = self._order(p)
        if p.payment == "cash":
            payment_record(
                order=order,
                amount=order.total,
                method="cash",
                actor=self.actor(roles.MANAGER),
                reference="Till 1",
            )
        else:
            source = EventSource.CHANNEL if p.channel in ("web", "amazon") else EventSource.SYSTEM
            payment_record(
                order=order,
                amount=order.total,
                method=p.payment,
                actor=None,
                source=source,
                reference=f"{'psp' if p.payment == 'card' else 'amzn'}_{self.rng.randrange(16**10):010x}",
            )

    def pay_invoice(self, p: Plan) -> None:
        order = self._order(p)
        if order.status == OrderStatus.CANCELLED:
            return
        paid, _ = order_paid_and_refunded(order=order)
        due = order.total - paid
        if due <= 0:
            return
        amount = due
        if self.rng.random() < 0.12:  # some pay part now and the rest later (or never)
            amount = quantize(due / 2)
        invoice = order.invoices.first()
        payment_record(
            order=order,
            amount=amount,
            method="bank_transfer",
            actor=self.actor(roles.FINANCE),
            reference=f"Transfer {invoice.number if invoice else order.number}",
        )

    def hold(self, p: Plan) -> None:
        order_hold(
            order=self._order(p),
            reason=self.rng.choice(HOLD_REASONS),
            actor=self.actor(roles.CUSTOMER_SERVICE),
        )

    def release(self, p: Plan) -> None:
        order_release(order=self._order(p), actor=self.actor(roles.CUSTOMER_SERVICE))

    def cancel(self, p: Plan) -> None:
        order_cancel(
            order=self._order(p),
            reason=self.rng.choice(CANCEL_REASONS),
            actor=self.actor(roles.CUSTOMER_SERVICE),
        )

    def refund_cancelled(self, p: Plan) -> None:
        order = self._order(p)
        paid, refunded = order_paid_and_refunded(order=order)
        if paid - refunded > 0:
            refund_record(
                order=order,
                amount=paid - refunded,
                actor=self.actor(roles.FINANCE),
                reference=f"Cancelled {order.number}",
            )

    def create_shipments(self, p: Plan) -> None:
        order = self._order(p)
        if order.status == OrderStatus.OPEN and not shippable_quantities(order=order):
            return  # a morning pick list took it already
        shipments_create(order=order, actor=self.actor(roles.WAREHOUSE))

    def _shipments(self, p: Plan, status: str, which: str) -> list[Shipment]:
        """The order's parcels in ``status``: the first one (the first warehouse's), the rest, or all."""
        shipments = list(p.order.shipments.exclude(status="cancelled").order_by("number"))
        chosen = {"first": shipments[:1], "rest": shipments[1:]}.get(which, shipments)
        return [s for s in chosen if s.status == status]

    def _later(self, when: datetime, run: Callable, plan: Plan | None = None) -> None:
        """Schedule a step that follows from this one, if it has happened by now."""
        if when <= self.end:
            self._add(max(when, self.clock.now), run, plan)

    # ------------------------------------------------------------------ picking

    def batch_pick(self, _plan=None, *, code: str) -> None:
        """The morning pick list of a warehouse: every ready order, by promised date. The
        picker walks it and confirms each tote's lines a few minutes apart."""
        try:
            pick_list = pick_list_create(
                warehouse=self.warehouses[code],
                filters={"priority": "promised"},
                limit=80,
                actor=self.actor(roles.WAREHOUSE),
            )
        except DomainError:
            return  # nothing ready here this morning
        when = self.clock.now + timedelta(
            minutes=self.rng.uniform(6, 15)
        )  # print it, take a trolley
        for s in sorted(pick_list.shipments.all(), key=lambda s: int(s.tote[1:] or 0)):
            when += timedelta(minutes=self.rng.uniform(2, 5))
            self._later(
                when, functools.partial(self.batch_confirm, pick_list=pick_list, shipment_id=s.pk)
            )

    def batch_confirm(self, _plan=None, *, pick_list: PickList, shipment_id: int) -> None:
        s = Shipment.objects.select_related("order").get(pk=shipment_id)
        if s.status != ShipmentStatus.PICKING or s.picked_at is not None:
            return  # cancelled, or the packer took the tote early
        lines = list(
            s.lines.filter(pick_confirmed=False)
            .select_related("order_line__product")
            .order_by("pk")
        )
        if self.short_picks_at and self.clock.now >= self.short_picks_at[0]:
            line = self._short_candidate(s, lines)
            if line is not None:
                self.short_picks_at.pop(0)
                result = pick_line_short(
                    pick_list=pick_list,
                    line_id=line.pk,
                    found=line.quantity - 1,
                    actor=self.actor(roles.WAREHOUSE),
                )
                lines.remove(line)
                plan = self.plans.get(s.order_id)
                if plan is not None and result["moved"]:
                    self._ship_the_rest(plan)
        if lines:
            pick_lines_confirm(
                pick_list=pick_list,
                line_ids=[ln.pk for ln in lines],
                actor=self.actor(roles.WAREHOUSE),
            )

    def _short_candidate(self, s: Shipment, lines):
        """A line whose shelf turns out one short, when another warehouse can send the unit
        (the order still ships complete) and the shipment keeps something to pack."""
        if sum(ln.quantity for ln in lines) < 2:
            return None
        for ln in lines:
            other = (
                StockLevel.objects.filter(product_id=ln.order_line.product_id)
                .exclude(warehouse_id=s.warehouse_id)
                .first()
            )
            if other is not None and other.available >= 1:
                return ln
        return None

    def _ship_the_rest(self, p: Plan) -> None:
        """After a short pick, the unit re-reserved in the other warehouse ships from there."""
        t = self._working(self.clock.now + timedelta(hours=self.rng.uniform(1, 3)))
        self._later(t, self.create_shipments, p)
        t = self._working(t + timedelta(hours=self.rng.uniform(0.2, 1)))
        self._later(t, functools.partial(self.pick, which="all"), p)
        t = self._working(t + timedelta(hours=self.rng.uniform(0.1, 1)))
        self._later(t, functools.partial(self.pack, which="all"), p)
        t = self._working(t + timedelta(hours=self.rng.uniform(0.2, 3)), close=15)
        self._later(t, functools.partial(self.ship, which="all"), p)

    def pick(self, p: Plan, which: str) -> None:
        """One order picked on its own (it came in after the morning list)."""
        for s in self._shipments(p, "pending", which):
            shipment_confirm_picked(shipment=s, actor=self.actor(roles.WAREHOUSE))
            self.clock.now += timedelta(minutes=self.rng.randrange(5, 40))

    # ------------------------------------------------------------------ packing

    def pack(self, p: Plan, which: str) -> None:
        for s in self._shipments(p, "picking", which):
            if (
                s.picked_at is None and s.pick_list_id
            ):  # the packer takes the tote as the picker finishes
                open_lines = list(s.lines.filter(pick_confirmed=False).values_list("pk", flat=True))
                if open_lines:
                    pick_lines_confirm(
                        pick_list=s.pick_list,
                        line_ids=open_lines,
                        actor=self.actor(roles.WAREHOUSE),
                    )
                    self.clock.now += timedelta(minutes=self.rng.randrange(2, 6))
            self._pack_one(s)
            self.clock.now += timedelta(minutes=self.rng.randrange(3, 20))

    def _pack_one(self, s: Shipment) -> None:
        """At the packing station: scan every unit, weigh the box(es), complete."""
        actor = self.actor(roles.WAREHOUSE)
        lines = list(s.lines.select_related("order_line__product").order_by("order_line__line_no"))
        for sl in lines:
            product = sl.order_line.product
            for _ in range(sl.quantity_picked):
                pack_scan(shipment=s, code=product.barcode or product.sku, actor=actor)
        units = [
            sl.order_line.product.weight_grams for sl in lines for _ in range(sl.quantity_picked)
        ]
        boxes = []
        if (
            len(units) > 1 and sum(units) > SPLIT_PARCEL_GRAMS
        ):  # the bulkiest item in a box of its own
            boxes.append(max(units))
        for items in boxes:
            self._parcel(s, items + PACKAGING_GRAMS, items)
        suggestion = parcel_weight_suggestion(shipment=s)
        if suggestion:
            self._parcel(s, suggestion, sum(units) - sum(boxes))
        pack_complete(shipment=s, actor=actor)

    def _parcel(self, s: Shipment, suggested: int, items_grams: int) -> None:
        """A box sized for what goes in, weighed on the scale (a few grams off the suggestion)."""
        _, length, width, height = next((b for b in BOXES if items_grams <= b[0]), BOXES[-1])
        parcel_add(
            shipment=s,
            weight_grams=max(1, suggested + self.rng.randint(-12, 18)),
            length_mm=length,
            width_mm=width,
            height_mm=height,
            actor=self.actor(roles.WAREHOUSE),
        )

    # ------------------------------------------------------------------ shipping and delivery

    def _tracking(self, carrier: str) -> str:
        def digits(n: int) -> str:
            return "".join(str(self.rng.randrange(10)) for _ in range(n))

        if carrier == "ups":
            shipper = "".join(
                self.rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(6)
            )
            return f"1Z{shipper}68{digits(8)}"
        if carrier == "dpd":
            return f"0{digits(13)}"
        return f"00340434{digits(12)}"

    def _tracking_number_new(self, transit_days: int) -> str:
        """The simulated carrier's next tracking number, from the seed's random stream. Its
        number decides the parcel's fate; the seed keeps the pinned orders' parcels (and all
        but one recent parcel) out of trouble that would leave the story unfinished."""
        for _ in range(40):
            body = f"{min(max(transit_days, 1), 9)}{self.rng.randrange(10**10):010d}"
            number = f"SIM{body}{check_digit(body)}"
            fates = {e.status for e in self.post.timeline(number, shipped_at=self.clock.now)}
            if self.clean_tracking and fates & {
                ShipmentStatus.EXCEPTION,
                ShipmentStatus.RETURNED_TO_SENDER,
            }:
                continue
            if ShipmentStatus.RETURNED_TO_SENDER in fates:
                if self.returned_to_sender or self.clock.now < self.end - timedelta(days=8):
                    continue
                self.returned_to_sender += 1
            return number
        return number

    def ship(self, p: Plan, which: str) -> None:
        actor = self.actor(roles.WAREHOUSE)
        for s in self._shipments(p, "packed", which):
            code = p.carrier
            if code == "post":  # a real label from the simulated carrier, then its tracking
                self.clean_tracking = p.stage is not None
                try:
                    shipment_label_buy(shipment=s, actor=actor)
                    s = shipment_hand_over(shipment=s, actor=actor)
                except DomainError:
                    code = "dhl"
                else:
                    self._follow_tracking(s)
                    self.clock.now += timedelta(minutes=self.rng.randrange(10, 90))
                    continue
            s = shipment_ship(
                shipment=s,
                carrier=self.carriers[code],
                tracking_number=self._tracking(code),
                actor=actor,
            )
            lo, hi = MANUAL_TRANSIT_HOURS["DE" if p.customer.country == "DE" else "abroad"]
            arrives = self._working(
                s.shipped_at + timedelta(hours=self.rng.uniform(lo, hi)),
                open_=8,
                close=20,
                saturday=True,
            )
            # Customer service checks the carrier's website a day or so later.
            checked = self._working(
                arrives + timedelta(hours=self.rng.uniform(1, 8)), open_=8, close=18
            )
            self._later(checked, functools.partial(self.deliver, shipment_id=s.pk), p)
            self.clock.now += timedelta(minutes=self.rng.randrange(10, 90))

    def _follow_tracking(self, s: Shipment) -> None:
        """Poll the carrier as the beat task does (every half hour): each of the carrier's
        events is recorded at the first poll after it happened, at the carrier's time."""
        events = self.post.timeline(s.tracking_number, shipped_at=s.shipped_at)
        self._tracked[s.pk] = events
        polls = sorted({e.occurred_at + timedelta(minutes=self.rng.uniform(1, 30)) for e in events})
        for when in polls:
            self._later(when, functools.partial(self.poll, shipment_id=s.pk))

    def poll(self, _plan=None, *, shipment_id: int) -> None:
        pending = self._tracked.get(shipment_id, [])
        now = self.clock.now
        new = [e for e in pending if e.occurred_at <= now]
        if not new:
            return
        self._tracked[shipment_id] = [e for e in pending if e.occurred_at > now]
        s = Shipment.objects.get(pk=shipment_id)
        tracking_events_record(shipment=s, events=new)
        Shipment.objects.filter(pk=shipment_id).update(last_synced_at=now)
        if any(e.status == ShipmentStatus.DELIVERED for e in new):
            self._after_delivery(s.order_id)

    def deliver(self, p: Plan, shipment_id: int) -> None:
        """A manual carrier: customer service sees it delivered on the carrier's website."""
        s = Shipment.objects.select_related("carrier").get(pk=shipment_id)
        if s.status != ShipmentStatus.SHIPPED:
            return
        shipment_mark_delivered(
            shipment=s,
            actor=self.actor(roles.CUSTOMER_SERVICE),
            source=EventSource.STAFF,
            note=f"{s.carrier.name} tracking shows it delivered.",
        )
        self._after_delivery(s.order_id)

    def late_notify(self, _plan=None) -> None:
        shipments_late_notify()

    # ------------------------------------------------------------------ feedback

    def _after_delivery(self, order_id: int) -> None:
        """Once the whole order has arrived, the hourly beat task asks for a rating
        FEEDBACK_REQUEST_DAYS later (at the first run after that moment)."""
        order = Order.objects.only("fulfillment_status").get(pk=order_id)
        if order.fulfillment_status != FulfillmentStatus.DELIVERED:
            return
        last = max(
            Shipment.objects.filter(order_id=order_id, status=ShipmentStatus.DELIVERED).values_list(
                "delivered_at", flat=True
            )
        )
        due = last + timedelta(days=settings.FEEDBACK_REQUEST_DAYS)
        sweep = due.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1, seconds=20)
        if sweep not in self._feedback_sweeps:
            self._feedback_sweeps.add(sweep)
            self._later(sweep, self.feedback_sweep)

    def feedback_sweep(self, _plan=None) -> None:
        started = self.clock.now
        if not feedback_requests_due():
            return
        asked = Notification.objects.filter(
            kind=NotificationKind.FEEDBACK_REQUEST, created_at__gte=started
        )
        for order_id in asked.values_list("order_id", flat=True).order_by("order_id"):
            if self.rng.random() < FEEDBACK_SHARE:
                when = started + timedelta(hours=self.rng.uniform(0.5, 40))
                self._later(when, functools.partial(self.feedback_rate, order_id=order_id))

    def feedback_rate(self, _plan=None, *, order_id: int) -> None:
        """The customer follows the email's link and rates the delivery on the status page."""
        order = Order.objects.get(pk=order_id)
        problem = (
            TrackingEvent.objects.filter(shipment__order=order, status=ShipmentStatus.EXCEPTION)
            .values_list("carrier_status", flat=True)
            .first()
        )
        table = FEEDBACK_AFTER_PROBLEM.get(problem, FEEDBACK)
        rating, _, comments = _weighted(self.rng, [(row, row[1]) for row in table])
        feedback_submit(order=order, rating=rating, comment=self.rng.choice(comments))

    def close_manifests(self) -> None:
        """The warehouse closed each earlier day's manifests at 18:00; today's are still open."""
        from fulfillment.manifests import manifest_close, manifests_pending

        now = self.clock.now
        for row in manifests_pending(day=timezone.localdate(), days_back=14):
            if row["today"]:
                continue
            self.clock.now = timezone.make_aware(
                datetime.combine(row["day"], datetime.min.time())
            ) + timedelta(hours=18)
            manifest_close(
                carrier=row["carrier"],
                warehouse=row["warehouse"],
                day=row["day"],
                actor=self.actor(roles.WAREHOUSE),
            )
        self.clock.now = now

    def request_return(self, p: Plan) -> None:
        order = self._order(p)
        if order.shipments.exclude(status__in=["cancelled", "delivered"]).exists():
            return  # a parcel never arrived (returned to sender): nothing to send back
        lines = [ln for ln in order.lines.all() if ln.quantity_shipped > ln.quantity_returned]
        if p.full_return or sum(ln.quantity_shipped - ln.quantity_returned for ln in lines) < 2:
            quantities = {ln.pk: ln.quantity_shipped - ln.quantity_returned for ln in lines}
        else:
            line = self.rng.choice(lines)
            quantities = {line.pk: 1}
        reason = _weighted(self.rng, RETURN_REASONS)
        by_customer = self.rng.random() < 0.5
        p.rma = return_request_create(
            order=order,
            quantities=quantities,
            reason=reason,
            note=RETURN_NOTES[reason],
            actor=None if by_customer else self.actor(roles.CUSTOMER_SERVICE),
            source=EventSource.CUSTOMER if by_customer else EventSource.STAFF,
        )

    def receive_return(self, p: Plan) -> None:
        if p.rma is None:
            return
        return_receive(
            return_request=p.rma,
            actor=self.actor(roles.WAREHOUSE),
            restock=p.rma.reason != "damaged",
        )

    def refund_return(self, p: Plan) -> None:
        if p.rma is None:
            return
        return_refund(return_request=p.rma, actor=self.actor(roles.FINANCE))

    def reject_return(self, p: Plan) -> None:
        if p.rma is None:
            return
        return_reject(
            return_request=p.rma,
            reason=self.rng.choice(REJECT_REASONS),
            actor=self.actor(roles.CUSTOMER_SERVICE),
        )


class Command(BaseCommand):
    help = "Fill an empty database with a demo shop: users per role, catalogue, stock, customers, orders."

    def add_arguments(self, parser):
        parser.add_argument(
            "--orders", type=int, default=300, help="How many orders to create (default 300)."
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=2024,
            help="Random seed: the same seed gives the same shop (relative to today).",
        )
        parser.add_argument(
            "--force-demo-users",
            action="store_true",
            help="Create the demo users (password orderline-demo) even when DEBUG is off.",
        )

    def handle(self, *args, orders: int, seed: int, force_demo_users: bool, **options):
        started = time.monotonic()
        marker = Sequence.objects.filter(name=MARKER).first()
        if marker is not None:
            self.stdout.write(
                f"Demo data is already there ({marker.last_value} orders); nothing changed."
            )
            return
        if Order.objects.exists():
            self.stdout.write(
                self.style.WARNING(
                    "The database already holds orders that seed_demo did not create; it only fills an empty "
                    "database. Nothing changed."
                )
            )
            return
        users_allowed = settings.DEBUG or force_demo_users
        if orders < 0:
            orders = 0

        real_now = timezone.now()
        clock = Clock(real_now)
        seeder = Seeder(rng=random.Random(seed), orders=orders, real_now=real_now, clock=clock)
        with ExitStack() as stack:
            stack.enter_context(mock.patch("django.utils.timezone.now", clock))
            stack.enter_context(mock.patch("celery.app.task.Task.apply_async", _drop_task))
            stack.enter_context(transaction.atomic())
            clock.now = seeder.start - timedelta(days=10)
            created_users = seeder.users(create=users_allowed)
            seeder.catalogue()
            seeder.opening_stock()
            customers = seeder.customers()
            seeder.plan_orders(customers)
            seeder.schedule_stock_events()
            seeder.run()
            clock.now = real_now
            seeder.close_manifests()
            Sequence.objects.create(name=MARKER, last_value=Order.objects.count())
            api_token = None
            if users_allowed:
                # A token for the marketplace integration, so the JSON API can be tried at once.
                _, api_token = api_token_create(
                    name="Demo marketplace sync",
                    channel=SalesChannel.objects.get(slug="amazon"),
                    actor=None,
                )

        if users_allowed:
            self._write_logins(api_token)
        else:
            self.stdout.write(
                self.style.WARNING(
                    "DEBUG is off: no demo users were created (they share a public password). "
                    "Use --force-demo-users to create them anyway."
                )
            )
        self._summary(seeder, created_users, time.monotonic() - started)

    def _write_logins(self, api_token: str | None = None) -> None:
        lines = []
        for username, role, _, _ in DEMO_USERS:
            if User.objects.filter(username=username).exists():
                lines.append(f"{username} / {DEMO_PASSWORD}  ({roles.ROLE_LABELS[role]})")
        if api_token:
            lines.append(f"API token (Amazon marketplace channel): {api_token}  -> /api/v1/docs")
        path = settings.VAR_DIR / "demo-logins.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.stdout.write(f"Demo logins written to {path}")

    def _summary(self, seeder: Seeder, created_users: list[User], seconds: float) -> None:
        out = self.stdout.write

        def by(rows, field_name: str) -> str:
            """How many rows (a model or a queryset) per value of ``field_name``, most first,
            with readable labels."""
            qs = rows.objects.all() if isinstance(rows, type) else rows
            field = qs.model._meta.get_field(field_name) if "__" not in field_name else None
            labels = dict(field.choices or []) if field else {}
            rows = qs.values_list(field_name).annotate(n=Count("pk")).order_by("-n", field_name)
            return ", ".join(f"{labels.get(value, value)} {n}" for value, n in rows) or "none"

        active = list(Product.objects.filter(active=True).values_list("pk", flat=True))
        available = [a.available for a in availability_for(product_ids=active).values()]
        problems = stock_discrepancies()
        out(self.style.SUCCESS(f"Demo shop seeded in {seconds:.1f} s on {connection.vendor}."))
        if created_users:
            names = ", ".join(u.username for u in created_users)
            out(f"  users: {names} (password {DEMO_PASSWORD})")
        out(
            f"  catalogue: {Product.objects.count()} products "
            f"({sum(1 for a in available if a <= 0)} out of stock, "
            f"{sum(1 for a in available if 0 < a <= 5)} low), {Warehouse.objects.count()} warehouses, "
            f"{Carrier.objects.count()} carriers, {SalesChannel.objects.count()} channels"
        )
        out(f"  customers: {Customer.objects.count()}")
        out(f"  orders: {Order.objects.count()}")
        out(f"    status: {by(Order, 'status')}")
        out(f"    fulfillment: {by(Order, 'fulfillment_status')}")
        out(f"    payment: {by(Order, 'payment_status')}")
        out(f"    channel: {by(Order, 'channel__name')}")
        out(f"  shipments: {by(Shipment, 'status')}")
        shipped = Shipment.objects.filter(shipped_at__isnull=False)
        out(f"    carriers: {by(shipped, 'carrier__name')}")
        labelled = Shipment.objects.exclude(label="").count()
        out(
            f"    parcels: {Parcel.objects.count()} weighed and measured; {labelled} labels bought "
            "(their PDFs are drawn on first download)"
        )
        lists = PickList.objects.count()
        done = PickList.objects.filter(status=PickListStatus.COMPLETED).count()
        shorts = OrderEvent.objects.filter(type=EventType.SHORT_PICKED).count()
        out(
            f"    picking: {lists} morning pick lists ({done} completed), "
            f"{shipped.filter(pick_list__isnull=False).count()} shipments picked on them, {shorts} short picks"
        )
        in_flight = Shipment.objects.filter(status__in=IN_FLIGHT_STATUSES)
        out(
            f"    tracking: {TrackingEvent.objects.count()} carrier events; in flight now: {by(in_flight, 'status')}"
        )
        rated = DeliveryFeedback.objects.aggregate(n=Count("pk"), avg=Avg("rating"))
        asked = Notification.objects.filter(kind=NotificationKind.FEEDBACK_REQUEST).count()
        average = f", average {rated['avg']:.1f}/5" if rated["n"] else ""
        out(f"  delivery feedback: {asked} requests emailed, {rated['n']} ratings{average}")
        out(f"  returns: {by(ReturnRequest, 'status')}")
        out(
            f"  invoices: {Invoice.objects.count()}, credit notes: {CreditNote.objects.count()} "
            "(their PDFs are rendered by the worker once it runs)"
        )
        out(f"  payments: {Payment.objects.count()}, refunds: {Refund.objects.count()}")
        out(f"  customer emails: {seeder.emails_sent} marked sent (none left the machine)")
        ledger = "levels match the ledger" if not problems else f"{len(problems)} DISCREPANCIES"
        out(f"  stock ledger: {StockMovement.objects.count()} movements; {ledger}")
        if seeder.failures:
            skipped = ", ".join(f"{k} {v}" for k, v in seeder.failures.most_common())
            out(self.style.WARNING(f"  skipped steps: {skipped}"))
            for name, example in seeder.failure_examples.items():
                out(f"    {name}, e.g. {example}")
