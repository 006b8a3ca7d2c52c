"""Carrier clients: `client_for(carrier)` returns the client for a Carrier row's adapter.
See `base.py` for the interface; `simulated.py` is the built-in carrier used in the demo and tests."""
