"""Detectors are found through the ``proofmind.detectors`` entry-point group.

A package adds its own by declaring, in its pyproject.toml::

    [project.entry-points."proofmind.detectors"]
    my-detector = "my_package.module:MyDetector"
"""

from __future__ import annotations

import inspect
import json
import math
import typing
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
        given = params.get(name, {})
        check_names(cls, given)
        check_params(cls, given)
        try:
            detectors.append(cls(**given))
        except TypeError as exc:
            raise InputError(f"bad parameters for detector {name!r}: {exc}") from exc
    return detectors


def check_names(cls: type[Detector], given: dict[str, Any]) -> None:
    """Every parameter the detector needs is given, and none it does not take: an
    `InputError` in a user's words (not the constructor's TypeError) otherwise."""
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):  # a plugin's constructor without a signature: unchecked
        return
    takes = [
        p for p in list(signature.parameters.values())[1:]
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]  # fmt: skip
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return  # takes any keyword: its own to check
    names = [p.name for p in takes]
    unknown = [key for key in given if key not in names]
    if unknown:
        raise InputError(
            f"detector {cls.name!r} has no parameter {', '.join(map(repr, unknown))}",
            hint=f"its parameters: {', '.join(names) or 'none'} (see `proofmind monitor "
            "detectors`)",
        )
    missing = [p.name for p in takes if p.default is p.empty and p.name not in given]
    if missing:
        example = json.dumps({cls.name: {key: "…" for key in missing}}, ensure_ascii=False)
        raise InputError(
            f"detector {cls.name!r} needs {', '.join(missing)}",
            hint=f"give {'it' if len(missing) == 1 else 'them'} with --params '{example}' "
            "(see `proofmind monitor detectors`)",
        )


def check_params(cls: type[Detector], given: dict[str, Any], owner: str | None = None) -> None:
    """Each parameter in ``given`` of the type ``cls.__init__`` declares (an int is a float;
    a bool, a string or ``null`` is not a number), every number in it finite and ≥ 0, those in
    ``cls.positive`` > 0 and those in ``cls.fractions`` ≤ 1: an `InputError` naming the
    detector, the parameter and the value otherwise. A parameter the constructor does not
    take is left to it (it says so). ``owner`` names whose parameters they are, when not the
    detector's own (the ratio detector's inner depeg parameters)."""
    from pydantic import PydanticSchemaGenerationError, TypeAdapter, ValidationError

    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - a plugin's annotations that do not resolve: no checks
        hints = {}
    for key, value in given.items():
        hint = hints.get(key)
        if hint is None:
            continue
        try:
            adapter = TypeAdapter(hint)
        except PydanticSchemaGenerationError:  # a type pydantic cannot check: left to the class
            continue

        def bad(what: str, key: str = key, value: Any = value) -> InputError:
            return InputError(
                f"bad parameters for {owner or f'detector {cls.name!r}'}: {key} must be "
                f"{what}, got {json.dumps(value, default=str)}",
                hint="see `proofmind monitor detectors` and docs/monitor.md for each parameter",
            )

        try:
            adapter.validate_python(value, strict=True)
        except ValidationError as exc:
            raise bad(_kind(hint)) from exc
        for number in _numbers(value):
            if not math.isfinite(number) or number < 0:
                raise bad("finite and not negative")
            if key in cls.positive and number <= 0:
                raise bad("more than 0")
            if key in cls.fractions and number > 1:
                raise bad("at most 1 (a fraction)")


def _numbers(value: Any) -> list[float]:
    """The numbers in a parameter's value (bools are not numbers), nested ones included."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value) if abs(value) < 1e308 else math.inf]  # a 400-digit int overflows
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list | tuple):
        return [n for v in value for n in _numbers(v)]
    return []


def _kind(hint: Any) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}
    if hint in names:
        return names[hint]
    return f"of type {str(hint).replace('typing.', '')}"
