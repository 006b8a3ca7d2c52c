"""PDFs that leave the warehouse: pick lists, packing slips and bulk prints."""
