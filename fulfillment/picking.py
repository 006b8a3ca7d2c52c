"""Pick lists: batches of ready shipments in one warehouse, sorted by bin; pick confirmation and short picks."""
