"""What the behaviour-anomaly detectors share (see detectors/anomaly)."""
