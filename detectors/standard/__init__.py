"""Standard audit tests auditors expect from ACL / IDEA: Benford's law, duplicates, number gaps, round
amounts, postings on days off and amounts kept just below the approval limit.

They read the whole ledger rather than one fraud scheme, so most of them weigh less in the ranking than
the specific fraud patterns (see each detector's ``rank_weight`` and ``docs/ranking.md``).
"""
