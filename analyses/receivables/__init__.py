"""Receivables: open items, aging, collections ladder, bad-debt reserve, credit exposure, problem receivables."""
