"""`pgw partners credentials`, `pgw clients create`, `pgw keys rotate`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app as cli
from gateway.settings import Settings
from tests.gateway.oauth.conftest import AppOn

REPO = Path(__file__).resolve().parents[3]
runner = CliRunner()


@pytest.fixture
def embedded_env(embedded_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI's environment pointing at the embedded default of `embedded_settings`."""
    monkeypatch.setenv("PGW_DATA_DIR", str(embedded_settings.data_dir))
    monkeypatch.setenv("PGW_PARTNERS_DIR", str(REPO / "partners"))
    for name in ("PGW_DATABASE_URL", "PGW_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    return embedded_settings


def _json(args: list[str]) -> dict[str, object]:
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    printed: dict[str, object] = json.loads(result.stdout)
    return printed


class TestPartnerCredentials:
    async def test_json_credentials_work_at_the_token_endpoint(
        self, embedded_env: Settings, app_on: AppOn
    ) -> None:
        # The CLI runs its own event loop: call it from a thread, as a shell would from outside.
        issued = await asyncio.to_thread(
            _json, ["partners", "credentials", "create", "swiftrent", "--json"]
        )
        assert set(issued) == {"client_id", "client_secret", "webhook_secret"}
        assert str(issued["webhook_secret"]).startswith("whsec_")
        rotated = await asyncio.to_thread(
            _json, ["partners", "credentials", "rotate", "swiftrent", "--json"]
        )
        assert rotated["client_id"] == issued["client_id"]
        assert rotated["client_secret"] != issued["client_secret"]
        async with app_on(embedded_env) as (_, http):
            for secret in (issued["client_secret"], rotated["client_secret"]):
                response = await http.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(str(issued["client_id"]), str(secret)),
                )
                assert response.status_code == 200, response.text

    def test_readable_output_says_the_secrets_are_shown_once(self, embedded_env: Settings) -> None:
        result = runner.invoke(cli, ["partners", "credentials", "create", "pingsure"])
        assert result.exit_code == 0, result.output
        assert "client_secret" in result.stdout and "whsec_" in result.stdout
        assert "shown once" in result.stdout
        rotated = runner.invoke(cli, ["partners", "credentials", "rotate", "pingsure"])
        assert "stay valid until" in rotated.stdout

    def test_revoke_then_create_again(self, embedded_env: Settings) -> None:
        issued = _json(["partners", "credentials", "create", "citycar", "--json"])
        again = runner.invoke(cli, ["partners", "credentials", "create", "citycar"])
        assert again.exit_code == 1 and "rotate" in again.output
        revoked = _json(["partners", "credentials", "revoke", "citycar", "--json"])
        assert revoked == {"partner_id": "citycar", "revoked": [issued["client_id"]]}
        assert _json(["partners", "credentials", "create", "citycar", "--json"])["client_id"]

    def test_unknown_partner_fails_with_a_hint(self, embedded_env: Settings) -> None:
        result = runner.invoke(cli, ["partners", "credentials", "create", "nobody"])
        assert result.exit_code == 1
        assert "nobody" in result.output and "pgw partners list" in result.output


class TestClients:
    def test_json_has_a_null_webhook_secret(self, embedded_env: Settings) -> None:
        issued = _json(
            ["clients", "create", "OEM app", "--scopes", "services:write orders:read", "--json"]
        )
        assert set(issued) == {"client_id", "client_secret", "webhook_secret"}
        assert issued["webhook_secret"] is None
        assert str(issued["client_id"]).startswith("pgw_app_")

    def test_unknown_scope_fails(self, embedded_env: Settings) -> None:
        result = runner.invoke(cli, ["clients", "create", "tool", "--scopes", "orders:write"])
        assert result.exit_code == 1 and "orders:write" in result.output

    def test_works_on_postgresql(
        self,
        settings: Settings,
        postgres_url: str,
        redis_url: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("PGW_DATABASE_URL", postgres_url)
        monkeypatch.setenv("PGW_REDIS_URL", redis_url)
        monkeypatch.setenv("PGW_REDIS_PREFIX", settings.redis_prefix)
        monkeypatch.setenv("PGW_PARTNERS_DIR", str(REPO / "partners"))
        issued = _json(
            ["clients", "create", "Manager tool", "--scopes", "scorecards:read", "--json"]
        )
        assert issued["webhook_secret"] is None


class TestKeys:
    async def test_rotate_names_the_new_and_retired_keys(
        self, embedded_env: Settings, app_on: AppOn
    ) -> None:
        async with app_on(embedded_env) as (_, http):
            before = {k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]}
        result = await asyncio.to_thread(runner.invoke, cli, ["keys", "rotate"])
        assert result.exit_code == 0, result.output
        assert "New signing key" in result.stdout
        assert all(kid in result.stdout for kid in before) and "published until" in result.stdout
        async with app_on(embedded_env) as (_, http):
            after = {k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]}
        assert before < after
