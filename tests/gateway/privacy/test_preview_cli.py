"""`pgw masking preview` prints a partner's view and the decision for each field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contracts import EXAMPLE_PHONE, EXAMPLE_REQUESTS, Operation
from gateway.cli import app

PARTNERS = Path(__file__).resolve().parents[3] / "partners"


@pytest.fixture
def record(tmp_path: Path) -> Path:
    path = tmp_path / "car.json"
    path.write_text(EXAMPLE_REQUESTS[Operation.COURTESY_CAR_BOOK].model_dump_json())
    return path


def test_preview_shows_the_view_and_every_decision(
    record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGW_PARTNERS_DIR", str(PARTNERS))
    result = CliRunner().invoke(app, ["masking", "preview", "--partner", "swiftrent", str(record)])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["purpose"] == "courtesy_car_delivery" and shown["agreed"] is True
    assert shown["view"]["customer"]["phone"] == "<relay number bound to the order>"
    assert EXAMPLE_PHONE not in result.output
    operators = {f["path"]: f["operator"] for f in shown["fields"]}
    assert operators["customer.national_id"] == "drop"


def test_preview_names_what_is_wrong(record: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGW_PARTNERS_DIR", str(PARTNERS))
    unknown = CliRunner().invoke(app, ["masking", "preview", "--partner", "nobody", str(record)])
    assert unknown.exit_code == 1 and "nobody" in unknown.output
    purpose = CliRunner().invoke(
        app, ["masking", "preview", "--partner", "swiftrent", "--purpose", "x", str(record)]
    )
    assert purpose.exit_code == 1 and "not a purpose" in purpose.output
