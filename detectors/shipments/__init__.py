"""Shipments: goods leaving the warehouse without a matching invoice."""
