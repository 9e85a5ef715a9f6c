"""Domain rules of the dealer network, plain Python without I/O (tested with hypothesis)."""
