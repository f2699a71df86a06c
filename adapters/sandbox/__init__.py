"""Sandbox partners: a simulator of each partner API dialect, for demos and tests.

``create_sandbox(agreement, ...)`` builds the simulator of the agreement's
``api.dialect``; the gateway mounts one per sample partner under
``/sandbox/{partner}`` in the embedded default, and ``python -m
adapters.sandbox PARTNER`` serves one alone.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import Final

from adapters.registry import DIALECT_SANDBOX_MODULES
from adapters.sandbox.kit import (
    GatewayLink,
    Sandbox,
    SandboxConfig,
    SandboxCredentials,
    SandboxDialect,
    SandboxFault,
    SandboxOrder,
    sandbox_secret,
)
from contracts import PartnerAgreement

__all__ = [
    "SANDBOX_MODULES",
    "GatewayLink",
    "Sandbox",
    "SandboxConfig",
    "SandboxCredentials",
    "SandboxDialect",
    "SandboxFault",
    "SandboxOrder",
    "create_sandbox",
    "sandbox_dialect",
    "sandbox_secret",
]

SANDBOX_MODULES: Final = MappingProxyType(
    {
        "canonical": "adapters.sandbox.canonical",
        "swiftrent.v2": "adapters.sandbox.swiftrent",
        "pingsure.v1": "adapters.sandbox.pingsure",
        "voltgrid.ocpi-lite": "adapters.sandbox.voltgrid",
        "meilife.v1": "adapters.sandbox.meilife",
        # Dialect packages added under adapters/ (``pgw partners new``) bring their own.
        **DIALECT_SANDBOX_MODULES,
    }
)
"""The simulator module of each API dialect; each exports ``DIALECT``."""


def sandbox_dialect(dialect: str) -> SandboxDialect:
    """The simulator of ``dialect``; ``KeyError`` when there is none."""
    module = importlib.import_module(SANDBOX_MODULES[dialect])
    simulator: SandboxDialect = module.DIALECT
    return simulator


def create_sandbox(
    agreement: PartnerAgreement, *, secret: str | None = None, gateway: GatewayLink | None = None
) -> Sandbox:
    """A sandbox of ``agreement``'s partner, expecting ``secret`` (default: the dev secret)."""
    auth = agreement.api.auth
    ref = getattr(auth, "secret_ref", None)
    if secret is None:
        secret = sandbox_secret(ref) if ref else ""
    return Sandbox(
        agreement, sandbox_dialect(agreement.api.dialect), secret=secret, gateway=gateway
    )
