"""Carrier clients: `client_for(carrier)` returns the client for a Carrier row's adapter.
See `base.py` for the interface; `simulated.py` is the built-in carrier used in the demo and tests."""

from collections.abc import Callable

from ..choices import CarrierAdapter
from .base import CarrierClient, CarrierError

_FACTORIES: dict[str, Callable[..., CarrierClient]] = {}
_SELLS_LABELS: set[str] = set()


def register(
    adapter: str, factory: Callable[..., CarrierClient], *, sells_labels: bool = True
) -> None:
    """Make `client_for` build `factory(carrier)` for carriers with this adapter."""
    _FACTORIES[adapter] = factory
    if sells_labels:
        _SELLS_LABELS.add(adapter)
    else:
        _SELLS_LABELS.discard(adapter)


def _simulated(carrier) -> CarrierClient:
    from .simulated import SimulatedCarrier

    return SimulatedCarrier(
        carrier_name=carrier.name,
        service_names={s.code: s.name for s in carrier.services.all()} if carrier.pk else {},
    )


def _easypost(carrier) -> CarrierClient:
    from . import easypost  # engineer track's module: it registers its client, or offers one

    factory = getattr(easypost, "client_for", None) or getattr(easypost, "EasyPostClient", None)
    if factory is None:
        raise CarrierError(f"{carrier.name}: the EasyPost client is not available.")
    return factory(carrier)


register(CarrierAdapter.SIMULATED, _simulated)
register(
    CarrierAdapter.EASYPOST, _easypost, sells_labels=False
)  # tracking by webhook only, for now


def client_for(carrier) -> CarrierClient:
    """The client for a carrier; CarrierError for a carrier Orderline cannot talk to
    (a manual carrier: its labels come from elsewhere and its tracking number is typed in)."""
    if carrier is None:
        raise CarrierError("Choose a carrier first.")
    factory = _FACTORIES.get(carrier.adapter)
    if factory is None:
        raise CarrierError(
            f"{carrier.name} is a manual carrier: buy its label outside Orderline and enter the tracking number."
        )
    return factory(carrier)


def label_adapters() -> set[str]:
    """The adapters Orderline buys labels through."""
    return set(_SELLS_LABELS)


def sells_labels(carrier) -> bool:
    return carrier is not None and carrier.adapter in _SELLS_LABELS
