"""The built-in detectors, one module per detector, grouped by family (one sub-package each).

The registry (:mod:`audit.registry`) finds every :class:`audit.detector.Detector` subclass defined
here through the ``sales_audit.detectors`` entry point.
"""
