"""The monthly distress signs and score of each customer (DST-H1) that the distress detectors read."""
