"""Pricing: prices that differ from the list."""
