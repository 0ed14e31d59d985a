"""STD-07: customers whose amounts' leading digits stray from Benford's law."""

from __future__ import annotations

from detectors.standard.std_01_benford_deviation import _BenfordDeviation


class CustomerBenfordDeviation(_BenfordDeviation):
    """A customer's invoice amounts whose digits depart from Benford's law beyond sampling noise.

    What it finds
    -------------
    The same digit tests as STD-01, per customer with at least ``min_group_size`` posted invoices: first
    digit, second digit, first two and last two digits (first three from ``first_three_min_n``
    invoices), flagged only on the sample-size-aware verdict; amounts read in the ledger's unit; a test
    more than ``shared_share`` of the customers fail is not judged and, for customers whose amounts span
    less than ``min_span_decades`` orders of magnitude, neither are the leading-digit tests (Benford's
    law needs amounts spread over orders of magnitude, which one shop's orders seldom are).

    Why it matters
    --------------
    An account whose invoices are made up (a fictitious customer) or steered (split to stay under a
    limit, or to fit a promotion) carries amounts a real buyer's orders would not produce.

    Flagged
    -------
    A customer with 120 invoices from 3,000,000 to 9,000,000,000 whose first digits are mostly 4 and
    9 (amounts kept under 5,000,000,000 and 10,000,000,000): flagged, with the surplus invoices listed.

    Not flagged
    -----------
    A shop that buys the same basket every week: its amounts sit in a narrow band, where Benford's law
    does not apply, so its leading digits are not judged. A customer with 20 invoices.

    Evidence
    --------
    As STD-01: per flagged test the digit table and figures for the chart, the over-represented digits
    and their value, the amount unit, the tests left out and why, the whole ledger's results.
    """

    code = "STD-07"
    entity_type = "customer"
    group_column = "customer_id"
