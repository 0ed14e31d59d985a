"""Invoices: what was billed against what the customer ordered."""
