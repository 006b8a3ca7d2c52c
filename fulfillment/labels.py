"""4x6 inch shipping labels with a Code 128 barcode of the tracking number."""
