"""Payment detectors: receipts, their allocations to invoices and the cheques behind them."""
