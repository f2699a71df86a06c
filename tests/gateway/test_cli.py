"""The `pgw` command line."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from gateway.cli import app

REPO = Path(__file__).resolve().parents[2]
PARTNERS = REPO / "partners"
runner = CliRunner()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PGW_DATA_DIR": str(tmp_path / "var"), "PGW_PARTNERS_DIR": str(PARTNERS), **extra}


class TestPartners:
    def test_validate_accepts_the_sample_registry(self) -> None:
        result = runner.invoke(app, ["partners", "validate", str(PARTNERS)])
        assert result.exit_code == 0, result.output
        assert "8 agreement(s), all valid" in result.output

    def test_validate_names_every_mistake_and_fails(self, tmp_path: Path) -> None:
        shutil.copy(PARTNERS / "swiftrent.yaml", tmp_path / "swiftrent.yaml")
        broken = (PARTNERS / "citycar.yaml").read_text(encoding="utf-8")
        broken = broken.replace("category: rental", "category: rentals", 1)
        (tmp_path / "citycar.yaml").write_text(broken, encoding="utf-8")
        (tmp_path / "bad.yaml").write_text("id: bad\nname: [unclosed\n", encoding="utf-8")
        result = runner.invoke(app, ["partners", "validate", str(tmp_path)])
        assert result.exit_code == 1
        assert "citycar.yaml: category:" in result.output
        assert "bad.yaml" in result.output
        assert "swiftrent.yaml" not in result.output

    def test_list_prints_a_table_and_json(self) -> None:
        table = runner.invoke(app, ["partners", "list", "--dir", str(PARTNERS)])
        assert table.exit_code == 0, table.output
        assert table.output.splitlines()[0].startswith("ID")
        assert all(p in table.output for p in ("swiftrent", "pingsure", "voltgrid", "roadmap"))
        rows = json.loads(
            runner.invoke(app, ["partners", "list", "--dir", str(PARTNERS), "--json"]).output
        )
        assert len(rows) == 8 and {r["category"] for r in rows} == {
            "rental",
            "insurance",
            "charging",
            "lifestyle",
        }


class TestServe:
    def test_refuses_several_workers_without_redis(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for key, value in _env(tmp_path).items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("PGW_REDIS_URL", raising=False)
        result = runner.invoke(app, ["serve", "--workers", "2"])
        assert result.exit_code == 1
        assert "PGW_REDIS_URL" in result.output

    def test_refuses_an_invalid_registry_and_says_why(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / "x.yaml").write_text("id: x\n", encoding="utf-8")
        monkeypatch.setenv("PGW_PARTNERS_DIR", str(tmp_path))
        monkeypatch.setenv("PGW_DATA_DIR", str(tmp_path / "var"))
        result = runner.invoke(app, ["serve"])
        assert result.exit_code == 2
        assert "refusing to start" in result.output and "x.yaml" in result.output


class TestDb:
    def test_upgrade_creates_the_embedded_database_then_is_a_no_op(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for key, value in _env(tmp_path).items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("PGW_DATABASE_URL", raising=False)
        first = runner.invoke(app, ["db", "upgrade"])
        assert first.exit_code == 0, first.output
        assert "upgraded from empty" in first.output
        second = runner.invoke(app, ["db", "upgrade"])
        assert "already at" in second.output
        assert (tmp_path / "var" / "gateway.db").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestFreshStart:
    def test_pgw_serve_on_a_fresh_data_dir_becomes_ready(self, tmp_path: Path) -> None:
        """What `make run` does: a real process, embedded defaults, /readyz answers 200."""
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PGW_")}
        env.update(_env(tmp_path, PGW_PORT=str(port)))
        pgw = Path(sys.executable).with_name("pgw")
        process = subprocess.Popen(
            [str(pgw), "serve"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        try:
            deadline = time.monotonic() + 30
            status = None
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    status = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code
                    if status == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            assert status == 200
        finally:
            process.terminate()
            output = process.communicate(timeout=15)[0].decode()
        # uvicorn re-raises the terminating signal after a clean shutdown.
        assert process.returncode in (0, -15), output
        assert "Application shutdown complete" in output
        lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        assert any(line["event"] == "gateway.started" for line in lines)
        assert any(line["event"] == "hot_state.in_process" for line in lines)


class TestEventsReplay:
    def test_replay_reports_what_still_fails_and_exits_non_zero(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import asyncio

        from gateway.bootstrap import build_container
        from gateway.persistence.migrate import upgrade
        from gateway.settings import Settings

        for key, value in _env(tmp_path).items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("PGW_DATABASE_URL", raising=False)
        monkeypatch.delenv("PGW_REDIS_URL", raising=False)

        async def dead_letter_one() -> None:
            container = build_container(Settings())
            await upgrade(container.engine)
            intake_body = b'{"eventType": "CAR_TELEPORTED"}'
            from gateway.webhooks.intake import WebhookIntake

            async def no_secrets(_partner: str, _now: object) -> list[str]:
                return []

            intake = WebhookIntake(container, secrets=no_secrets)
            stored = await intake.store(
                partner_id="swiftrent", webhook_id="msg_cli", headers={}, body=intake_body
            )
            await intake.process(stored.row.id)
            await container.aclose()

        asyncio.run(dead_letter_one())
        result = runner.invoke(app, ["events", "replay", "--partner", "swiftrent"])
        assert result.exit_code == 1, result.output
        assert "0 resolved, 1 still failing" in result.output
        assert "CAR_TELEPORTED" in result.output or "failing   #" in result.output
        bad = runner.invoke(app, ["events", "replay", "--since", "last tuesday"])
        assert bad.exit_code == 2 and "ISO 8601" in bad.output
