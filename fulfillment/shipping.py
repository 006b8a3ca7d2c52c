"""Shipping: address check, rate choice and label purchase for a packed shipment."""
