"""Packing: scans checked against a shipment's lines, parcels, packing slips."""
