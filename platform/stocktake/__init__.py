"""Continuous stocktaking: sensed counts from shelf scales, RFID zone counts, discrepancies
against the book, stocktake sessions. Pure domain (no I/O)."""
