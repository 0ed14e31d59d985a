"""Visits: planned customer visits, check-ins and the phone's positions."""
