"""`pgw masking preview`: a partner's view of a record, as the gateway would send it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from contracts import OPERATION_PURPOSE, SERVICE_REQUEST_ADAPTER, Purpose
from gateway.bootstrap import MaskingKeysMissing, build_masking_keys
from gateway.dispatch.disclosure import partner_view
from gateway.registry import RegistryError, UnknownPartner, load_registry
from gateway.settings import Settings

__all__ = ["masking_app"]

masking_app = typer.Typer(help="The disclosure policy.", no_args_is_help=True)

RELAY_PLACEHOLDER = "<relay number bound to the order>"


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(1)


@masking_app.command("preview")
def preview(
    record: Annotated[
        Path, typer.Argument(help="A service request as JSON (its `operation` picks the model).")
    ],
    partner: Annotated[str, typer.Option("--partner", help="Partner id.")],
    purpose: Annotated[
        str | None,
        typer.Option("--purpose", help="Purpose (default: the operation's own purpose)."),
    ] = None,
) -> None:
    """Print what the partner would receive, and each field's class and operator."""
    settings = Settings()
    try:
        registry = load_registry(settings.partners_dir)
        agreement = registry.get(partner)
        keys = build_masking_keys(settings)
    except (RegistryError, UnknownPartner, MaskingKeysMissing) as exc:
        raise _fail(str(exc)) from exc
    try:
        request = SERVICE_REQUEST_ADAPTER.validate_json(record.read_bytes())
    except OSError as exc:
        raise _fail(f"{record}: {exc.strerror}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise _fail(f"{record}: {where}: {first['msg']}") from exc
    try:
        chosen = Purpose(purpose) if purpose else OPERATION_PURPOSE[request.operation]
    except ValueError as exc:
        known = ", ".join(p.value for p in Purpose)
        raise _fail(f"--purpose {purpose!r} is not a purpose; known: {known}") from exc
    view = partner_view(agreement, chosen, request, keys=keys, now=datetime.now(UTC))
    shown: dict[str, Any] = view.with_relays({r.path: RELAY_PLACEHOLDER for r in view.relays})
    typer.echo(
        json.dumps(
            {
                "partner": agreement.id,
                "data_tier": agreement.data.tier.value,
                "purpose": chosen.value,
                "agreed": chosen in agreement.data.purposes,
                "policy_version": view.policy_version,
                "view": shown,
                "fields": [d.record() for d in view.fields],
            },
            ensure_ascii=False,
            indent=2,
        )
    )
