"""Customer distress: pre-failure signs of customers, and salespeople whose portfolios gather them."""
