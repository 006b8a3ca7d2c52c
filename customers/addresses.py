"""Address validation before a label: required fields and postal-code patterns per country.

A pure module (no database): `address_validate(data)` normalises an address (trimmed, upper
case where the post wants it, postal codes spaced the way the country writes them) and returns
the per-field errors, each naming the field and saying what a good value looks like."""

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CountryRule:
    name: str  # the adjective used in messages: "a Dutch postal code"
    postal_pattern: str  # matched against the normalised code (upper case, single spaces)
    example: str
    region_label: str = ""  # "state", "province": required when set
    regions: frozenset[str] = frozenset()  # accepted codes (empty: any non-empty value)
    region_example: str = ""
    postal_label: str = "Postal code"
    article: str = "a"
    normalise: str = "plain"  # plain | us | ca | gb | nl | br


US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "PR",
        "VI",
        "GU",
        "AS",
        "MP",
        "AA",
        "AE",
        "AP",
    ]
)
CA_PROVINCES = frozenset(
    ["AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"]
)

# UK postcodes: outward code (area letters, district) + inward code (digit, two letters).
_GB = r"(GIR 0AA|[A-PR-UWYZ](?:[0-9][0-9A-HJKPS-UW]?|[A-HK-Y][0-9][0-9ABEHMNPRV-Y]?) [0-9][ABD-HJLNP-UW-Z]{2})"

RULES: dict[str, CountryRule] = {
    "US": CountryRule(
        "US",
        r"\d{5}(-\d{4})?",
        "94107 or 94107-1234",
        region_label="state",
        regions=US_STATES,
        region_example="CA",
        postal_label="ZIP code",
        normalise="us",
    ),
    "CA": CountryRule(
        "Canadian",
        r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] \d[ABCEGHJ-NPRSTV-Z]\d",
        "K1A 0B1",
        region_label="province",
        regions=CA_PROVINCES,
        region_example="ON",
        normalise="ca",
    ),
    "GB": CountryRule("UK", _GB, "SW1A 1AA", postal_label="Postcode", normalise="gb"),
    "DE": CountryRule("German", r"\d{5}", "10115"),
    "FR": CountryRule("French", r"\d{5}", "75011"),
    "NL": CountryRule("Dutch", r"[1-9]\d{3} (?!SA|SD|SS)[A-Z]{2}", "1234 AB", normalise="nl"),
    "BR": CountryRule("Brazilian", r"\d{5}-\d{3}", "12345-678", postal_label="CEP", normalise="br"),
    "AT": CountryRule("Austrian", r"\d{4}", "1010", article="an"),
    "BE": CountryRule("Belgian", r"\d{4}", "1000"),
    "CH": CountryRule("Swiss", r"\d{4}", "8001"),
    "DK": CountryRule("Danish", r"\d{4}", "1050"),
    "ES": CountryRule("Spanish", r"\d{5}", "28001"),
    "IT": CountryRule("Italian", r"\d{5}", "00184", article="an"),
    "PL": CountryRule("Polish", r"\d{2}-\d{3}", "00-950"),
    "SE": CountryRule("Swedish", r"\d{3} \d{2}", "114 55"),
}

# Countries whose post works without postal codes.
NO_POSTAL_CODE = frozenset(
    [
        "AE",
        "AG",
        "AO",
        "AW",
        "BS",
        "BZ",
        "FJ",
        "GD",
        "GH",
        "HK",
        "IE",
        "JM",
        "KI",
        "QA",
        "TT",
        "UG",
        "ZW",
    ]
)
_DEFAULT_POSTAL = re.compile(r"[A-Z0-9][A-Z0-9 \-]{1,8}[A-Z0-9]")

FIELD_LABELS = {
    "name": "Recipient",
    "line1": "Address line 1",
    "city": "City",
    "region": "Region",
    "postal_code": "Postal code",
    "country": "Country",
}


@dataclass
class AddressCheck:
    """The normalised address and what is wrong with it (field -> messages)."""

    address: dict
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        """One sentence for a hold reason or a refusal."""
        return " ".join(m for msgs in self.errors.values() for m in msgs)


def _squash(value: str) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip()


def normalise_postal_code(country: str, code: str) -> str:
    """The code as the country's post writes it: upper case, spaced where it belongs."""
    code = _squash(code).upper()
    rule = RULES.get(country)
    compact = code.replace(" ", "")
    if rule is None:
        return code
    if rule.normalise == "ca" and len(compact) == 6:
        return f"{compact[:3]} {compact[3:]}"
    if rule.normalise == "gb" and 5 <= len(compact) <= 7:
        return f"{compact[:-3]} {compact[-3:]}"
    if rule.normalise == "nl" and len(compact) == 6:
        return f"{compact[:4]} {compact[4:]}"
    if rule.normalise == "br" and len(compact) == 8 and compact.isdigit():
        return f"{compact[:5]}-{compact[5:]}"
    if rule.normalise == "us":
        return compact.replace(" ", "")
    if country == "SE" and len(compact) == 5:
        return f"{compact[:3]} {compact[3:]}"
    if country == "PL" and len(compact) == 5 and compact.isdigit():
        return f"{compact[:2]}-{compact[2:]}"
    return compact


def address_validate(data: dict, *, prefix: str = "") -> AddressCheck:
    """Check an address for a label. `data` has name, line1, line2, city, region,
    postal_code, country (an order's `ship_*` fields can be passed with `prefix="ship_"`).
    Error keys carry the same prefix, so a form can show each next to its field."""
    get = lambda key: _squash(data.get(f"{prefix}{key}", ""))  # noqa: E731
    address = {
        k: get(k) for k in ("name", "line1", "line2", "city", "region", "postal_code", "country")
    }
    address["country"] = address["country"].upper()
    country = address["country"]
    errors: dict[str, list[str]] = {}

    def err(key: str, message: str) -> None:
        errors.setdefault(f"{prefix}{key}", []).append(message)

    if not country:
        err("country", "Country is missing: choose the destination country.")
    elif len(country) != 2 or not country.isalpha():
        err("country", f"Country {country} is not a two-letter country code (like DE or US).")
    for key, what in (
        ("name", "the recipient's name"),
        ("line1", "the street and house number"),
        ("city", "the city"),
    ):
        if not address[key]:
            err(key, f"{FIELD_LABELS[key]} is missing: enter {what}.")

    rule = RULES.get(country)
    raw_code = address["postal_code"]
    code = normalise_postal_code(country, raw_code)
    address["postal_code"] = code
    label = rule.postal_label if rule else "Postal code"
    if rule:
        if not code:
            err(
                "postal_code",
                f"{label} is missing: {rule.article} {rule.name} address needs one (like {rule.example}).",
            )
        elif not re.fullmatch(rule.postal_pattern, code):
            noun = label if label.isupper() or label.startswith("ZIP") else label.lower()
            err(
                "postal_code",
                f"{label} {_squash(raw_code)} is not {rule.article} {rule.name} {noun} "
                f"(like {rule.example}).",
            )
        if rule.region_label:
            region = address["region"].upper()
            address["region"] = region
            if not region:
                err(
                    "region",
                    f"{rule.region_label.capitalize()} is missing: {rule.article} {rule.name} address needs "
                    f"the {rule.region_label} (two letters, like {rule.region_example}).",
                )
            elif rule.regions and region not in rule.regions:
                err(
                    "region",
                    f"{rule.region_label.capitalize()} {region} is not a {rule.name} "
                    f"{rule.region_label} code (two letters, like {rule.region_example}).",
                )
    elif country and country not in NO_POSTAL_CODE and len(country) == 2:
        if not code:
            err("postal_code", "Postal code is missing: enter the postal code.")
        elif not _DEFAULT_POSTAL.fullmatch(code):
            err(
                "postal_code",
                f"Postal code {raw_code} does not look like a postal code "
                "(3 to 10 letters and digits).",
            )
    return AddressCheck(address=address, errors=errors)


def order_address(order) -> dict:
    """An order's delivery address as `address_validate` takes it."""
    return {
        k: getattr(order, f"ship_{k}")
        for k in ("name", "line1", "line2", "city", "region", "postal_code", "country")
    }
