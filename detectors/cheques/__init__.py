"""Cheques: post-dated cheques, their hand-in and their maturity."""
