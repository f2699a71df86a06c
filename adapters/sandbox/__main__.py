"""Serve one sandbox partner alone: ``python -m adapters.sandbox PARTNER_ID [options]``.

The agreement is read from ``<partners-dir>/<PARTNER_ID>.yaml``; the sandbox
expects the development secret ``sandbox_secret(<auth.secret_ref>)`` unless
``--secret`` names another. With ``--gateway-url`` it posts its lifecycle
webhooks to that gateway with the partner's gateway credentials, read from
``SANDBOX_CLIENT_ID``, ``SANDBOX_CLIENT_SECRET`` and ``SANDBOX_WEBHOOK_SECRET``
(``pgw partners credentials create PARTNER_ID --json`` issues them); without
it, or with ``--no-webhooks``, it sends none.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import uvicorn
import yaml
from pydantic import ValidationError

from adapters.sandbox import (
    SANDBOX_MODULES,
    GatewayLink,
    Sandbox,
    SandboxCredentials,
    create_sandbox,
)
from contracts import PartnerAgreement

__all__ = ["CREDENTIAL_VARIABLES", "SandboxSetupError", "build", "load_agreement", "parse_args"]

CREDENTIAL_VARIABLES: Final = (
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SANDBOX_WEBHOOK_SECRET",
)
"""The partner's gateway credentials, needed to post webhooks (``--gateway-url``)."""


class SandboxSetupError(Exception):
    """The sandbox cannot be built from the arguments and environment given."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (``sys.argv[1:]`` when ``argv`` is None)."""
    parser = argparse.ArgumentParser(
        prog="python -m adapters.sandbox", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("partner_id", metavar="PARTNER_ID", help="e.g. citycar")
    parser.add_argument("--partners-dir", type=Path, default=Path("partners"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--gateway-url", help="post webhooks to this gateway's intake")
    parser.add_argument("--no-webhooks", action="store_true", help="send no lifecycle webhooks")
    parser.add_argument("--secret", help="the outbound secret to expect (default: the dev secret)")
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error("--port must be 1 to 65535")
    return args


def load_agreement(partners_dir: Path, partner_id: str) -> PartnerAgreement:
    """The agreement in ``<partners_dir>/<partner_id>.yaml``, validated."""
    path = partners_dir / f"{partner_id}.yaml"
    if partner_id != Path(partner_id).name or not path.is_file():
        raise SandboxSetupError(f"no agreement {path}")
    try:
        agreement = PartnerAgreement.model_validate(yaml.safe_load(path.read_text("utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise SandboxSetupError(f"{path} is not a valid agreement: {exc}") from exc
    if agreement.id != partner_id:
        raise SandboxSetupError(f"{path} is the agreement of {agreement.id!r}, not {partner_id!r}")
    if agreement.api.dialect not in SANDBOX_MODULES:
        raise SandboxSetupError(
            f"no sandbox speaks {partner_id}'s dialect {agreement.api.dialect!r} "
            f"(there are: {', '.join(sorted(SANDBOX_MODULES))})"
        )
    return agreement


def gateway_link(base_url: str, environ: Mapping[str, str]) -> GatewayLink:
    """The link to the gateway at ``base_url`` with the credentials found in ``environ``."""
    missing = [name for name in CREDENTIAL_VARIABLES if not environ.get(name)]
    if missing:
        raise SandboxSetupError(
            f"--gateway-url needs the partner's gateway credentials: set {', '.join(missing)} "
            "(`pgw partners credentials create PARTNER_ID --json` issues them)"
        )
    credentials = SandboxCredentials(*(environ[name] for name in CREDENTIAL_VARIABLES))

    async def issued() -> SandboxCredentials:
        return credentials

    return GatewayLink(base_url=base_url.rstrip("/"), credentials=issued)


def build(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Sandbox:
    """The sandbox the arguments describe (``environ`` defaults to ``os.environ``)."""
    agreement = load_agreement(args.partners_dir, args.partner_id)
    gateway = None
    if args.gateway_url:
        gateway = gateway_link(args.gateway_url, os.environ if environ is None else environ)
    sandbox = create_sandbox(agreement, secret=args.secret, gateway=gateway)
    if args.no_webhooks:
        sandbox.config.webhooks = False
    return sandbox


async def _serve(sandbox: Sandbox, host: str, port: int) -> None:
    server = uvicorn.Server(uvicorn.Config(sandbox.app, host=host, port=port, log_level="info"))
    try:
        await server.serve()
    finally:
        await sandbox.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    """Build the sandbox and serve it until interrupted."""
    args = parse_args(argv)
    try:
        sandbox = build(args)
    except SandboxSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    webhooks = "off" if sandbox.gateway is None or not sandbox.config.webhooks else "on"
    print(
        f"{sandbox.partner_id} sandbox ({sandbox.dialect.dialect}) on "
        f"http://{args.host}:{args.port}; webhooks {webhooks}; controls under /_",
        file=sys.stderr,
    )
    asyncio.run(_serve(sandbox, args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
