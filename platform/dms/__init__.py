"""Dealer management: organisation, dealers, customers, catalogue, stock, orders, credit,
contracts, after-sales service. ``domain`` holds the rules (plain Python, no I/O)."""
