"""Money: Decimal amounts with two places and one currency per order. Rounding happens here."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_decimal(value) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError("money is never a float")
    return Decimal(str(value))


def quantize(value) -> Decimal:
    """Round a money amount to cents, half up. The one rounding rule of the project."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def tax_of(net, rate) -> Decimal:
    """Tax on a net amount at ``rate`` (a fraction: 0.20 for 20 %)."""
    return quantize(to_decimal(net) * to_decimal(rate))


CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CAD": "CA$", "BRL": "R$"}


def format_money(amount, currency: str) -> str:
    amount = quantize(amount)
    sign = "-" if amount < 0 else ""
    text = f"{abs(amount):,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    if symbol:
        return f"{sign}{symbol}{text}"
    return f"{sign}{text} {currency}"
