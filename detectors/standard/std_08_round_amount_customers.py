"""STD-08: customers whose amounts are round far more often than the company's."""

from __future__ import annotations

from detectors.standard.std_04_round_amount import _RoundAmount


class CustomerRoundAmount(_RoundAmount):
    """A customer whose invoices or cash receipts are in round figures far more often than the ledger's.

    What it finds
    -------------
    The same rule as STD-04 (round = at most ``max_significant_digits`` significant digits and at least
    ``min_zero_digits`` zeros in the ledger's unit; totals whose lines are all round at the same step do
    not count), compared per customer with the rate of the other customers: at least
    ``min_round_count`` round records, ``min_ratio`` times the expected number, binomial p-value below
    ``alpha``.

    Why it matters
    --------------
    A real shop's orders add up to whatever its goods cost; an account billed in round sums, or paying in
    round cash sums, is one where someone chose the figures — a made-up customer or one used to park
    sales and cash.

    Flagged
    -------
    A customer with 4 of its 10 invoices at exactly 100,000,000, 150,000,000, 200,000,000 and
    250,000,000 from mixed lines, where 0.1 % of the ledger's invoices are round: flagged.

    Not flagged
    -----------
    A customer that always buys 10 cartons of one product priced 5,000,000: every total is round, but
    because the price is (each line is a multiple of the same step). A customer who paid once in a round
    sum.

    Evidence
    --------
    As STD-04: per test the counts, rates, expected count, p-value and excess value; the round records.
    """

    code = "STD-08"
    entity_type = "customer"
    group_column = "customer_id"
