"""`pgw settlement --month` and `pgw settlement close --month` on the embedded default.

The CLI runs on the test's own SQLite file with the sample registry (plans in force
from 2025-01), so the month it closes, 2025-09, is closed in no other test's database.
"""

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
from tests.gateway.ledger.conftest import SAMPLE, at, complete

runner = CliRunner()
MONTH = "2025-09"  # the test's own database: no other test closes it


@pytest.fixture
def embedded_env(embedded_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI's environment on a fresh embedded SQLite file with the sample registry."""
    monkeypatch.setenv("PGW_DATA_DIR", str(embedded_settings.data_dir))
    monkeypatch.setenv("PGW_PARTNERS_DIR", str(PARTNERS_DIR))
    for name in ("PGW_DATABASE_URL", "PGW_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    return embedded_settings


def _invoke(args: list[str]) -> Result:
    return runner.invoke(cli, args)


def _rows(output: str) -> dict[str, list[str]]:
    """The table's rows by partner id (the header and title left out)."""
    partners = {a.id for a in SAMPLE}
    return {
        cells[0]: cells[1:]
        for cells in (line.split() for line in output.splitlines())
        if cells and cells[0] in partners
    }


async def test_settlement_table_and_close(embedded_env: Settings) -> None:
    container = build_container(embedded_env)
    try:
        await upgrade(container.engine)
        # starcharge (canonical events): 6 % of 100.00 = 6.00 CNY receivable.
        await complete(container, "starcharge", 10000, occurred_at=at(MONTH, day=3))
        # citycar resells 3 days: buys 300.00 (payable), keeps 60.00 (retained).
        await complete(container, "citycar", 36000, occurred_at=at(MONTH, day=4), days=3)
    finally:
        await container.aclose()

    # The CLI runs its own event loop: call it from a thread, as a shell would.
    shown = await asyncio.to_thread(_invoke, ["settlement", "--month", MONTH])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0] == f"settlement statements of {MONTH} (draft: the month is not closed)"
    assert lines[1].split() == [
        "PARTNER",
        "ENTRIES",
        "RECEIVABLE",
        "PAYABLE",
        "NET",
        "OWED",
        "BY",
        "RETAINED",
    ]
    rows = _rows(shown.stdout)
    assert set(rows) == {a.id for a in SAMPLE}
    assert rows["starcharge"] == [
        "1",
        "6.00",
        "CNY",
        "0.00",
        "CNY",
        "6.00",
        "CNY",
        "partner",
        "0.00",
        "CNY",
    ]
    assert rows["citycar"] == [
        "2",
        "0.00",
        "CNY",
        "300.00",
        "CNY",
        "-300.00",
        "CNY",
        "oem",
        "60.00",
        "CNY",
    ]
    # Fixed fees are accrued when the month closes (or by the server's accrual): none yet.
    assert rows["voltgrid"] == ["0", "-", "-", "-", "nobody", "-"]
    assert rows["roadmap"] == ["0", "-", "-", "-", "nobody", "-"]

    closed = await asyncio.to_thread(_invoke, ["settlement", "close", "--month", MONTH])
    assert closed.exit_code == 0, closed.output
    lines = closed.stdout.splitlines()
    assert lines[0] == f"settlement statements of {MONTH} (closed)"
    assert lines[-1] == f"{MONTH} closed; later effects settle in the next open month"
    rows = _rows(closed.stdout)
    assert rows["starcharge"][:2] == ["1", "6.00"] and rows["citycar"][5] == "-300.00"
    # Closing accrued the month's platform fee (voltgrid) and outcome base fee (roadmap).
    assert rows["voltgrid"][:8] == [
        "1",
        "20000.00",
        "CNY",
        "0.00",
        "CNY",
        "20000.00",
        "CNY",
        "partner",
    ]
    assert rows["roadmap"][:8] == [
        "1",
        "0.00",
        "CNY",
        "50000.00",
        "CNY",
        "-50000.00",
        "CNY",
        "oem",
    ]

    frozen = await asyncio.to_thread(_invoke, ["settlement", "--month", MONTH])
    assert frozen.exit_code == 0, frozen.output
    assert frozen.stdout.splitlines()[0] == f"settlement statements of {MONTH} (closed)"
    assert _rows(frozen.stdout) == rows

    again = await asyncio.to_thread(_invoke, ["settlement", "close", "--month", MONTH])
    assert again.exit_code == 1 and f"{MONTH} is already closed" in again.output
    current = month_of(datetime.now(UTC))
    early = await asyncio.to_thread(_invoke, ["settlement", "close", "--month", current])
    assert early.exit_code == 1, early.output
    assert f"{current} ends at" in early.output and "close it after that" in early.output
    assert "closed;" not in early.stdout
    invalid = await asyncio.to_thread(_invoke, ["settlement", "--month", "Sept"])
    assert invalid.exit_code == 1 and "YYYY-MM" in invalid.output
