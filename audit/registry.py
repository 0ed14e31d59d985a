"""Find detectors and writers through entry points, so plug-ins register the same way built-ins do.

``[project.entry-points."sales_audit.detectors"]`` names modules or packages; every concrete
:class:`~audit.detector.Detector` and :class:`~audit.analysis.Analysis` subclass defined in them (or
their submodules) is registered.
``sales_audit.writers`` names modules exposing ``WRITERS``: a mapping of format name to a function
``write(result, out_dir) -> list[Path]``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from functools import cache
from importlib.metadata import entry_points

from audit.analysis import Analysis
from audit.detector import Detector

DETECTOR_GROUP = "sales_audit.detectors"
WRITER_GROUP = "sales_audit.writers"


class RegistryError(RuntimeError):
    pass


def _modules(root_name: str):
    root = importlib.import_module(root_name)
    yield root
    if hasattr(root, "__path__"):
        for info in pkgutil.walk_packages(root.__path__, prefix=root.__name__ + "."):
            yield importlib.import_module(info.name)


def _entry_point_targets(group: str) -> list[str]:
    targets = sorted(ep.value for ep in entry_points(group=group))
    if not targets:
        raise RegistryError(f"nothing is registered under {group!r}: install the package "
                            "(pip install -e .) so its entry points exist")
    return targets


def _classes(base: type) -> tuple[type, ...]:
    found: dict[str, type] = {}
    for target in _entry_point_targets(DETECTOR_GROUP):
        for module in _modules(target):
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if not issubclass(cls, base) or inspect.isabstract(cls) or cls.__module__ != module.__name__:
                    continue
                other = found.get(cls.code)
                if other is not None and other is not cls:
                    raise RegistryError(f"code {cls.code} is used by both {other.__module__}."
                                        f"{other.__name__} and {cls.__module__}.{cls.__name__}")
                found[cls.code] = cls
    return tuple(found[code] for code in sorted(found))


@cache
def detector_classes() -> tuple[type[Detector], ...]:
    """Every registered detector class, ordered by code."""
    return _classes(Detector)


@cache
def analysis_classes() -> tuple[type[Analysis], ...]:
    """Every registered analysis class (found beside the detectors), ordered by code."""
    return _classes(Analysis)


def get_detector(code_or_pattern: str) -> type[Detector]:
    for cls in detector_classes():
        if code_or_pattern in (cls.code, cls.pattern, cls.__name__):
            return cls
    raise RegistryError(f"no detector {code_or_pattern!r}; see `audit detectors`")


@cache
def writers() -> dict:
    found = {}
    for target in _entry_point_targets(WRITER_GROUP):
        module = importlib.import_module(target)
        found.update(getattr(module, "WRITERS", {}))
    return found
