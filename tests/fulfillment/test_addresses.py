"""Address validation before a label: required fields and postal codes per country."""

import pytest

from customers.addresses import address_validate, normalise_postal_code


def _addr(country, postal_code, region="", **extra):
    return {
        "name": "Ada Lovelace",
        "line1": "Main Street 1",
        "city": "Somewhere",
        "region": region,
        "postal_code": postal_code,
        "country": country,
        **extra,
    }


@pytest.mark.parametrize(
    ("country", "code", "region", "normalised"),
    [
        ("US", "94107", "CA", "94107"),
        ("US", "94107-1234", "ny", "94107-1234"),
        ("CA", "k1a0b1", "ON", "K1A 0B1"),
        ("CA", "M5V 3L9", "on", "M5V 3L9"),
        ("GB", "sw1a1aa", "", "SW1A 1AA"),
        ("GB", "M1 1AE", "", "M1 1AE"),
        ("GB", "CA12 5DQ", "", "CA12 5DQ"),
        ("GB", "EH1  1YZ", "", "EH1 1YZ"),
        ("DE", "20457", "", "20457"),
        ("DE", "04109", "", "04109"),
        ("FR", "75011", "", "75011"),
        ("NL", "1012ab", "", "1012 AB"),
        ("NL", "3511 AA", "", "3511 AA"),
        ("BR", "01310-100", "", "01310-100"),
        ("BR", "01310100", "", "01310-100"),
        ("AT", "1010", "", "1010"),
        ("JP", "100-0001", "", "100-0001"),  # no rule of its own: the default
    ],
)
def test_good_addresses_pass_and_are_normalised(country, code, region, normalised):
    check = address_validate(_addr(country, code, region))
    assert check.ok, check.errors
    assert check.address["postal_code"] == normalised
    if region:
        assert check.address["region"] == region.upper()


@pytest.mark.parametrize(
    ("country", "code", "region", "field", "message"),
    [
        (
            "US",
            "9410",
            "CA",
            "postal_code",
            "ZIP code 9410 is not a US ZIP code (like 94107 or 94107-1234).",
        ),
        ("US", "94107-12", "CA", "postal_code", "is not a US ZIP code"),
        (
            "US",
            "94107",
            "",
            "region",
            "State is missing: a US address needs the state (two letters, like CA).",
        ),
        ("US", "94107", "XX", "region", "State XX is not a US state code"),
        (
            "CA",
            "K1A 0B",
            "ON",
            "postal_code",
            "Postal code K1A 0B is not a Canadian postal code (like K1A 0B1).",
        ),
        ("CA", "D1A 0B1", "ON", "postal_code", "is not a Canadian postal code"),  # D is never used
        ("CA", "K1A 0B1", "", "region", "Province is missing"),
        ("GB", "SW1A", "", "postal_code", "Postcode SW1A is not a UK postcode (like SW1A 1AA)."),
        ("GB", "QA1 1AA", "", "postal_code", "is not a UK postcode"),
        (
            "DE",
            "2045",
            "",
            "postal_code",
            "Postal code 2045 is not a German postal code (like 10115).",
        ),
        ("DE", "2045A", "", "postal_code", "is not a German postal code"),
        (
            "FR",
            "750011",
            "",
            "postal_code",
            "Postal code 750011 is not a French postal code (like 75011).",
        ),
        (
            "NL",
            "1234",
            "",
            "postal_code",
            "Postal code 1234 is not a Dutch postal code (like 1234 AB).",
        ),
        ("NL", "0123 AB", "", "postal_code", "is not a Dutch postal code"),
        (
            "BR",
            "1234-567",
            "",
            "postal_code",
            "CEP 1234-567 is not a Brazilian CEP (like 12345-678).",
        ),
        ("AT", "10100", "", "postal_code", "is not an Austrian postal code"),
        ("JP", "!", "", "postal_code", "Postal code ! does not look like a postal code"),
    ],
)
def test_bad_postal_codes_and_regions_name_the_field(country, code, region, field, message):
    check = address_validate(_addr(country, code, region))
    assert not check.ok
    assert any(message in m for m in check.errors[field]), check.errors


def test_missing_fields_are_each_named():
    check = address_validate(
        {"name": " ", "line1": "", "city": "", "postal_code": "", "country": "DE"}
    )
    assert set(check.errors) == {"name", "line1", "city", "postal_code"}
    assert check.errors["line1"] == [
        "Address line 1 is missing: enter the street and house number."
    ]
    assert check.errors["postal_code"] == [
        "Postal code is missing: a German address needs one (like 10115)."
    ]


def test_country_is_required_and_two_letters():
    assert address_validate(_addr("", "12345")).errors["country"] == [
        "Country is missing: choose the destination country."
    ]
    assert (
        "not a two-letter country code"
        in address_validate(_addr("DEU", "12345")).errors["country"][0]
    )


def test_countries_without_postal_codes_need_none():
    assert address_validate(_addr("IE", "")).ok
    assert not address_validate(_addr("JP", "")).ok


def test_order_fields_with_prefix_keep_the_prefix_in_errors():
    data = {
        "ship_name": "Ada",
        "ship_line1": "Kerkstraat 1",
        "ship_city": "Utrecht",
        "ship_region": "",
        "ship_postal_code": "1234",
        "ship_country": "nl",
    }
    check = address_validate(data, prefix="ship_")
    assert list(check.errors) == ["ship_postal_code"]
    assert check.address["country"] == "NL"
    assert "Dutch postal code" in check.summary()


def test_whitespace_and_case_are_normalised():
    check = address_validate(_addr(" gb ", "  sw1a   1aa "))
    assert check.ok
    assert (check.address["country"], check.address["postal_code"]) == ("GB", "SW1A 1AA")
    assert normalise_postal_code("DE", " 20 457 ") == "20457"
