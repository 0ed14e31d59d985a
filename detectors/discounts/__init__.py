"""Discounts: volume tiers, promotions and manual discounts against the policy."""
