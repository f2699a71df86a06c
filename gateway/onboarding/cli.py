"""``pgw partners new`` and ``pgw conformance``: onboarding a partner and checking it.

Both are plain typer commands; ``gateway/cli.py`` registers them
(``partners_app.command("new")(partners_new)`` and
``app.command("conformance")(conformance)``). ``onboarding_app`` carries both
for callers that want them as one app (tests, ``python -m``-style wrappers).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from adapters.conformance import Finding, failures, format_report, summary
from contracts import ServiceCategory
from gateway.dispatch.clients import partner_secret
from gateway.onboarding.kit import check_partner, check_partner_live
from gateway.onboarding.scaffold import ScaffoldError, scaffold_partner
from gateway.registry import RegistryError, UnknownPartner, load_registry
from gateway.settings import Settings

__all__ = ["conformance", "onboarding_app", "partners_new"]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def partners_new(
    partner_id: Annotated[str, typer.Argument(metavar="ID", help="The new partner's id.")],
    category: Annotated[
        ServiceCategory, typer.Option("--category", help="The partner's service category.")
    ],
    dialect: Annotated[
        str,
        typer.Option(
            "--dialect",
            help="canonical: the partner implements the published API; custom: an adapter "
            "package of its own (it behaves as canonical until changed).",
        ),
    ] = "canonical",
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    partners_dir: Annotated[
        Path | None,
        typer.Option("--dir", help="Registry directory (default PGW_PARTNERS_DIR)."),
    ] = None,
    root: Annotated[
        Path,
        typer.Option("--root", help="Repository root holding adapters/ and tests/."),
    ] = Path(),
) -> None:
    """Scaffold a partner: its agreement and, for --dialect custom, adapter, sandbox, tests."""
    if dialect not in ("canonical", "custom"):
        raise _fail(f"--dialect must be canonical or custom, not {dialect!r}", code=2)
    directory = partners_dir or Settings().partners_dir
    if dialect == "custom" and not (root / "adapters" / "canonical").is_dir():
        raise _fail(f"{root.resolve()} holds no adapters/: run in the repository or pass --root")
    try:
        written = scaffold_partner(
            partner_id,
            category,
            "custom" if dialect == "custom" else "canonical",
            partners_dir=directory,
            adapters_root=root / "adapters",
            tests_root=root / "tests",
            name=name,
        )
    except ScaffoldError as exc:
        raise _fail(str(exc)) from exc
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(
        f"next: fill in {written[0]} (it starts suspended), then run "
        f"`pgw partners validate` and `pgw conformance --partner {partner_id}`"
    )


def conformance(
    partner: Annotated[str, typer.Option("--partner", help="Partner id in the registry.")],
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="The partner's test endpoint (or a sandbox served by `python -m "
            "adapters.sandbox`); default: an in-process sandbox of its dialect.",
        ),
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            help="Outbound secret (default: PGW_PARTNER_SECRETS, or the sandbox "
            "development secret outside production).",
            envvar="PGW_CONFORMANCE_SECRET",
        ),
    ] = None,
    token_url: Annotated[
        str | None, typer.Option("--token-url", help="OAuth token URL, if not the agreement's.")
    ] = None,
    static: Annotated[
        bool, typer.Option("--static/--no-static", help="Run the static checks.")
    ] = True,
    live: Annotated[bool, typer.Option("--live/--no-live", help="Run the live checks.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable report.")] = False,
    partners_dir: Annotated[
        Path | None,
        typer.Option("--dir", help="Registry directory (default PGW_PARTNERS_DIR)."),
    ] = None,
) -> None:
    """Check a partner against the conformance kit and print what passed and failed, and why."""
    settings = Settings()
    try:
        agreement = load_registry(partners_dir or settings.partners_dir).get(partner)
    except (RegistryError, UnknownPartner) as exc:
        raise _fail(str(exc), code=2) from exc
    findings: list[Finding] = []
    if static:
        findings.extend(check_partner(agreement))
    if live:
        chosen = secret if secret is not None else partner_secret(settings, agreement)
        if chosen is None:
            ref = getattr(agreement.api.auth, "secret_ref", "")
            raise _fail(f"no secret for {ref}: set PGW_PARTNER_SECRETS or pass --secret", code=2)
        findings.extend(
            asyncio.run(
                check_partner_live(agreement, base_url=base_url, secret=chosen, token_url=token_url)
            )
        )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "partner": agreement.id,
                    "target": base_url or "in-process sandbox",
                    "passed": not failures(findings),
                    "summary": summary(findings),
                    "findings": [
                        {"check": f.check, "ok": f.ok, "detail": f.detail} for f in findings
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        typer.echo(format_report(findings))
    if failures(findings):
        raise typer.Exit(1)


onboarding_app = typer.Typer(help="Partner onboarding.", no_args_is_help=True)
onboarding_app.command("new")(partners_new)
onboarding_app.command("conformance")(conformance)
