"""Address validation before a label: required fields and postal-code patterns per country."""
