"""End of day: one manifest per carrier and warehouse of the shipments that leave today."""
