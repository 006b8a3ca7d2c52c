"""CSV cells that are safe to open in a spreadsheet."""


def csv_safe(value: str) -> str:
    """A cell a spreadsheet would run as a formula (=, +, -, @, or a leading tab or carriage
    return) is prefixed with an apostrophe. Names, addresses and external ids come from
    outside (channels, customers, imports)."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value
