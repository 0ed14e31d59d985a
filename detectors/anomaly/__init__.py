"""Behaviour anomalies: salesperson-months, customer-months and invoices unlike the rest of the ledger.

Feature builders (``features``), the shared ensemble step (``base``), the records behind a finding
(``records``) and one detector per module: ANO-01 ``salesperson_anomaly``, ANO-02
``customer_anomaly``, ANO-03 ``invoice_anomaly``. See docs/anomaly.md.
"""
