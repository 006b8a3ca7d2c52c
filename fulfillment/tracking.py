"""Tracking events: stored once, in any order; a shipment's status only moves forward."""
