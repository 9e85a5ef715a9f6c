"""Solver engines: OR-Tools, PyVRP and a portfolio of both."""
