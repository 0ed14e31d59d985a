"""Analyses: computed views of the ledger and the facts several components share (see audit.analysis)."""
