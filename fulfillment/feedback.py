"""Delivery feedback: the request after delivery and the customer's rating."""
