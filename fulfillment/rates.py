"""Rate tables: the carrier services that can take a parcel to an address, their price and transit days."""
