"""Analyses of invoice prices against the price list."""
