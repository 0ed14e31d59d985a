"""What several standard audit tests share (see detectors/standard)."""
