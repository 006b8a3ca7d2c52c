"""Domain errors. Services raise these; views turn them into form errors, messages or
problem+json. Nothing is half-saved: a service raises before or inside its transaction."""


class DomainError(Exception):
    """A refused action, with a message a user can act on."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class ValidationFailed(DomainError):
    """Several problems at once, keyed by field name ("" for the whole form)."""

    def __init__(self, errors: dict[str, list[str]]):
        first = next((m for msgs in errors.values() for m in msgs), "Invalid input")
        super().__init__(first, code="validation")
        self.errors = errors


class InvalidTransition(DomainError):
    def __init__(self, message: str):
        super().__init__(message, code="invalid_transition")


class OutOfStock(DomainError):
    def __init__(
        self, message: str, *, shortages: list[dict] | None = None, field: str | None = None
    ):
        super().__init__(message, field=field, code="out_of_stock")
        self.shortages = shortages or []


class NotAllowed(DomainError):
    """The acting user's role does not allow this action."""

    def __init__(self, message: str = "Your role does not allow this action."):
        super().__init__(message, code="forbidden")
