"""`pgw scorecard --month` and `pgw scorecard close --month` on the embedded default."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner, Result

from gateway.bootstrap import build_container
from gateway.cli import app as cli
from gateway.persistence.migrate import upgrade
from gateway.scorecards.months import month_of
from gateway.settings import Settings
from tests.conftest import PARTNERS_DIR
from tests.gateway.scorecards.conftest import MIN_RATINGS, SAMPLE, Partners, seed, standard_month

runner = CliRunner()
MONTH = "2025-06"


@pytest.fixture
def embedded_env(embedded_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI's environment on a fresh embedded SQLite file with the sample registry."""
    monkeypatch.setenv("PGW_DATA_DIR", str(embedded_settings.data_dir))
    monkeypatch.setenv("PGW_PARTNERS_DIR", str(PARTNERS_DIR))
    monkeypatch.setenv("PGW_SCORECARD_MIN_RATINGS", str(MIN_RATINGS))
    for name in ("PGW_DATABASE_URL", "PGW_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    return embedded_settings


def _invoke(args: list[str]) -> Result:
    return runner.invoke(cli, args)


async def test_scorecard_table_and_close(embedded_env: Settings) -> None:
    container = build_container(embedded_env)
    try:
        await upgrade(container.engine)
        sample = Partners({a.id: a.id for a in SAMPLE}, SAMPLE)
        await seed(container, MONTH, *standard_month(sample, MONTH))
    finally:
        await container.aclose()

    # The CLI runs its own event loop: call it from a thread, as a shell would.
    shown = await asyncio.to_thread(_invoke, ["scorecard", "--month", MONTH])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"scorecards of {MONTH} (provisional")
    assert lines[1].split()[:4] == ["PARTNER", "TIER", "NEXT", "(2025-07)"]
    swift = lines[2].split()  # best score first
    assert swift[:5] == ["swiftrent", "*", "gold", "gold", "94.23"]
    assert swift[5:] == ["76.9%", "5.00", "(10)", "0.0%", "14"]
    city = next(line.split() for line in lines if line.startswith("citycar"))
    assert city[:4] == ["citycar", "*", "bronze", "yellow_card"]
    assert city[-1] == "5" and city[-2] == "40.0%"

    closed = await asyncio.to_thread(_invoke, ["scorecard", "close", "--month", MONTH])
    assert closed.exit_code == 0, closed.output
    assert "*" not in closed.stdout.splitlines()[2]
    assert f"{MONTH} closed; 1 tier change(s) from 2025-07" in closed.stdout
    assert "citycar: rating 3.40 is not > 4.0" in closed.stdout

    again = await asyncio.to_thread(_invoke, ["scorecard", "close", "--month", MONTH])
    assert again.exit_code == 1 and "already closed" in again.output
    current = month_of(datetime.now(UTC))
    early = await asyncio.to_thread(_invoke, ["scorecard", "close", "--month", current])
    assert early.exit_code == 1 and "close it after that" in early.output
    invalid = await asyncio.to_thread(_invoke, ["scorecard", "--month", "June"])
    assert invalid.exit_code == 1 and "YYYY-MM" in invalid.output
