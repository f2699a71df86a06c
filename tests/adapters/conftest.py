"""Helpers shared by the dialect tests: recorded fixtures and malformed variants of them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import ModuleType
from typing import Any

MISSING = object()
"""Pass as the value to `mutated` to remove the key instead of replacing it."""


def fixtures_of(package: ModuleType) -> Path:
    """The recorded webhook fixtures of a dialect package."""
    assert package.__file__ is not None
    return Path(package.__file__).parent / "fixtures" / "webhooks"


def load(fixtures: Path, name: str) -> dict[str, Any]:
    """One recorded payload."""
    payload: dict[str, Any] = json.loads((fixtures / f"{name}.json").read_text("utf-8"))
    return payload


def mutated(fixtures: Path, name: str, path: str, value: object) -> dict[str, Any]:
    """The fixture with the value at dotted `path` replaced, or removed for `MISSING`."""
    payload = copy.deepcopy(load(fixtures, name))
    *parents, last = path.split(".")
    target = payload
    for key in parents:
        target = target[key]
    if value is MISSING:
        del target[last]
    else:
        target[last] = value
    return payload
