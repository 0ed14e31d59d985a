"""Roll-ups: findings of the other detectors summed up per salesperson."""
