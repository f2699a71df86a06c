"""The one registry of adapters: outbound APIs and webhook translators, by dialect id.

The dialects shipped with the gateway are listed below by hand. Any other
package directly under ``adapters/`` that declares a module-level ``DIALECT``
(its dialect id) is registered too, when this module is first imported: its
``API`` (a ``PartnerAdapter``) in ``ADAPTERS``, its ``WEBHOOKS`` (a
``WebhookTranslator``) in ``WEBHOOK_TRANSLATORS`` and its ``SANDBOX`` (the
module name of its simulator) in ``DIALECT_SANDBOX_MODULES``. That is how a
package written by ``pgw partners new ID --dialect custom`` joins the registry
without anyone editing this file. A package that declares ``DIALECT`` but
breaks these rules, or a dialect id registered twice, stops the import with a
``DialectRegistrationError`` naming the package.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final, TypeVar

from adapters.canonical import CanonicalApi
from adapters.meilife import MeiLifeApi, MeiLifeWebhooks
from adapters.pingsure import PingSureApi, PingSureWebhooks
from adapters.protocol import PartnerAdapter, WebhookTranslator
from adapters.swiftrent import SwiftRentApi, SwiftRentWebhooks
from adapters.voltgrid import VoltGridApi, VoltGridWebhooks

__all__ = [
    "ADAPTERS",
    "DIALECT_PACKAGES",
    "DIALECT_SANDBOX_MODULES",
    "WEBHOOK_TRANSLATORS",
    "DialectPackage",
    "DialectRegistrationError",
    "UnknownDialect",
    "adapter_for",
    "discover_dialect_packages",
    "translator_for",
]

_T = TypeVar("_T")

# Packages under adapters/ that hold no dialect.
_NOT_DIALECTS: Final = frozenset({"sandbox", "conformance"})


class DialectRegistrationError(ImportError):
    """A package under ``adapters/`` declares a dialect it does not implement properly."""


@dataclass(frozen=True, slots=True)
class DialectPackage:
    """A dialect package found by discovery: what it registers."""

    package: str
    dialect: str
    api: PartnerAdapter | None
    webhooks: WebhookTranslator | None
    sandbox: str | None


def discover_dialect_packages(directory: Path | None = None) -> tuple[DialectPackage, ...]:
    """Every package in ``directory`` (default: ``adapters/``) declaring ``DIALECT``, by name."""
    directory = directory or Path(__file__).parent
    found: list[DialectPackage] = []
    for info in sorted(pkgutil.iter_modules([str(directory)]), key=lambda i: i.name):
        if not info.ispkg or info.name in _NOT_DIALECTS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"adapters.{info.name}")
        dialect = getattr(module, "DIALECT", None)
        if dialect is None:
            continue
        declared = _declared(info.name, dialect, module.__dict__)
        twin = next((p for p in found if p.dialect == declared.dialect), None)
        if twin is not None:
            raise DialectRegistrationError(
                f"adapters.{info.name} and adapters.{twin.package} both declare {dialect!r}"
            )
        found.append(declared)
    return tuple(found)


def _declared(package: str, dialect: object, names: Mapping[str, object]) -> DialectPackage:
    where = f"adapters.{package}"
    if not isinstance(dialect, str) or not dialect:
        raise DialectRegistrationError(f"{where}.DIALECT must be a dialect id string")
    api, webhooks, sandbox = names.get("API"), names.get("WEBHOOKS"), names.get("SANDBOX")
    if api is not None and not (isinstance(api, PartnerAdapter) and api.dialect == dialect):
        raise DialectRegistrationError(f"{where}.API must be a PartnerAdapter of {dialect!r}")
    if webhooks is not None and not (
        isinstance(webhooks, WebhookTranslator) and webhooks.dialect == dialect
    ):
        raise DialectRegistrationError(
            f"{where}.WEBHOOKS must be a WebhookTranslator of {dialect!r}"
        )
    if sandbox is not None and not isinstance(sandbox, str):
        raise DialectRegistrationError(f"{where}.SANDBOX must be a module name")
    if api is None and webhooks is None:
        raise DialectRegistrationError(f"{where} declares {dialect!r} but neither API nor WEBHOOKS")
    return DialectPackage(package, dialect, api, webhooks, sandbox)


_SHIPPED_ADAPTERS: Final[dict[str, PartnerAdapter]] = {
    "canonical": CanonicalApi(),
    "swiftrent.v2": SwiftRentApi(),
    "pingsure.v1": PingSureApi(),
    "voltgrid.ocpi-lite": VoltGridApi(),
    "meilife.v1": MeiLifeApi(),
}
_SHIPPED_TRANSLATORS: Final[dict[str, WebhookTranslator]] = {
    "swiftrent.v2": SwiftRentWebhooks(),
    "pingsure.v1": PingSureWebhooks(),
    "voltgrid.ocpi-lite": VoltGridWebhooks(),
    "meilife.v1": MeiLifeWebhooks(),
}


def _registered(
    shipped: Mapping[str, _T], discovered: Mapping[str, _T], what: str
) -> dict[str, _T]:
    clash = sorted(set(shipped) & set(discovered))
    if clash:
        raise DialectRegistrationError(f"{what} {', '.join(clash)} registered twice")
    return {**shipped, **discovered}


DIALECT_PACKAGES: Final[tuple[DialectPackage, ...]] = discover_dialect_packages()
"""The dialect packages registered by discovery (not the shipped ones), by package name."""

ADAPTERS: Final[Mapping[str, PartnerAdapter]] = MappingProxyType(
    _registered(
        _SHIPPED_ADAPTERS,
        {p.dialect: p.api for p in DIALECT_PACKAGES if p.api is not None},
        "API dialect",
    )
)
"""Every partner API dialect the gateway can call, ``canonical`` included."""

WEBHOOK_TRANSLATORS: Final[Mapping[str, WebhookTranslator]] = MappingProxyType(
    _registered(
        _SHIPPED_TRANSLATORS,
        {p.dialect: p.webhooks for p in DIALECT_PACKAGES if p.webhooks is not None},
        "webhook dialect",
    )
)
"""Every partner webhook dialect we translate; ``canonical`` is parsed by the gateway itself."""

DIALECT_SANDBOX_MODULES: Final[Mapping[str, str]] = MappingProxyType(
    {p.dialect: p.sandbox for p in DIALECT_PACKAGES if p.sandbox is not None}
)
"""The simulator module of each discovered dialect (the shipped ones: ``adapters.sandbox``)."""


class UnknownDialect(KeyError):
    """No webhook translator is registered for the dialect id."""

    def __init__(self, dialect: str) -> None:
        super().__init__(dialect)
        self.dialect = dialect

    def __str__(self) -> str:
        # KeyError would print the bare quoted key; this reads as a sentence in logs.
        known = ", ".join(sorted(set(WEBHOOK_TRANSLATORS) | set(ADAPTERS)))
        return f"no adapter for dialect {self.dialect!r}; known: {known}"


def adapter_for(dialect: str) -> PartnerAdapter:
    """The outbound adapter of ``dialect``; raises ``UnknownDialect`` when none is registered."""
    try:
        return ADAPTERS[dialect]
    except KeyError:
        raise UnknownDialect(dialect) from None


def translator_for(dialect: str) -> WebhookTranslator:
    """The translator of ``dialect``; raises ``UnknownDialect`` when none is registered."""
    try:
        return WEBHOOK_TRANSLATORS[dialect]
    except KeyError:
        raise UnknownDialect(dialect) from None
