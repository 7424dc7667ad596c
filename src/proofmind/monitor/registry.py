"""Detectors are found through the ``proofmind.detectors`` entry-point group.

A package adds its own by declaring, in its pyproject.toml::

    [project.entry-points."proofmind.detectors"]
    my-detector = "my_package.module:MyDetector"
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from proofmind.errors import InputError
from proofmind.monitor.api import Detector

GROUP = "proofmind.detectors"


def available() -> dict[str, str]:
    """Entry-point name → ``module:Class`` of every installed detector."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def detector_class(name: str) -> type[Detector]:
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        raise InputError(
            f"no detector named {name!r}",
            hint=f"installed detectors: {', '.join(sorted(available())) or 'none'}",
        )
    loaded = found[0].load()
    if not (isinstance(loaded, type) and issubclass(loaded, Detector)):
        raise InputError(
            f"entry point {name!r} ({found[0].value}) is not a proofmind Detector class",
            hint="subclass proofmind.monitor.Detector",
        )
    return loaded


def load_detectors(
    names: list[str], params: dict[str, dict[str, Any]] | None = None
) -> list[Detector]:
    """Build the named detectors, each with its keyword parameters from ``params``."""
    params = params or {}
    detectors = []
    for name in names:
        cls = detector_class(name)
        try:
            detectors.append(cls(**params.get(name, {})))
        except TypeError as exc:
            raise InputError(f"bad parameters for detector {name!r}: {exc}") from exc
    return detectors
