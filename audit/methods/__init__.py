"""Shared statistical methods: Benford tests, the anomaly ensemble, the financial-statement model."""
