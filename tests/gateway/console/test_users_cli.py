"""`pgw users create NAME --role manager|admin [--password-stdin]`: console accounts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner, Result

from gateway.bootstrap import build_container
from gateway.cli import app as cli
from gateway.console.auth import BadCredentials, Role, authenticate
from gateway.settings import Settings

runner = CliRunner()
PASSWORD = "a long enough password"


def _name(prefix: str = "cli") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(autouse=True)
def _keep_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    # The command configures logging for a terminal; in this process that would fix the
    # level of every logger first used afterwards (structlog caches them), so it is skipped.
    monkeypatch.setattr("gateway.console.cli.configure_logging", lambda **_: None)


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The CLI's environment pointing at the run's PostgreSQL database and Redis prefix."""
    assert settings.database_url is not None and settings.redis_url is not None
    values = {
        "PGW_ENVIRONMENT": "test",
        "PGW_DATABASE_URL": settings.database_url.get_secret_value(),
        "PGW_REDIS_URL": settings.redis_url.get_secret_value(),
        "PGW_REDIS_PREFIX": settings.redis_prefix,
        "PGW_DATA_DIR": str(settings.data_dir),
        "PGW_PARTNERS_DIR": str(settings.partners_dir),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    yield settings


@pytest.fixture
def embedded_env(embedded_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI's environment on the embedded default (an SQLite file in a fresh data dir)."""
    monkeypatch.setenv("PGW_ENVIRONMENT", "test")
    monkeypatch.setenv("PGW_DATA_DIR", str(embedded_settings.data_dir))
    monkeypatch.setenv("PGW_PARTNERS_DIR", str(embedded_settings.partners_dir))
    for key in ("PGW_DATABASE_URL", "PGW_REDIS_URL"):
        monkeypatch.delenv(key, raising=False)
    return embedded_settings


async def _pgw(*args: str, stdin: str | None = None) -> Result:
    # The CLI runs its own event loop: call it from a thread, as a shell would from outside.
    return await asyncio.to_thread(lambda: runner.invoke(cli, list(args), input=stdin))


async def _authenticate(settings: Settings, name: str, password: str) -> Role:
    container = build_container(settings)
    try:
        return await authenticate(container, name, password)
    finally:
        await container.aclose()


async def test_creates_a_manager_who_can_sign_in(cli_env: Settings) -> None:
    name = _name()
    result = await _pgw(
        "users", "create", name, "--role", "manager", "--password-stdin", stdin=f"{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"console user {name} created (manager)"
    assert PASSWORD not in result.output
    assert await _authenticate(cli_env, name, PASSWORD) is Role.MANAGER
    with pytest.raises(BadCredentials):
        await _authenticate(cli_env, name, PASSWORD + "!")


async def test_creates_an_admin_and_strips_only_the_line_end(cli_env: Settings) -> None:
    name = _name("admin")
    password = "  spaces count  "
    result = await _pgw(
        "users", "create", name, "--role", "admin", "--password-stdin", stdin=f"{password}\r\n"
    )
    assert result.exit_code == 0, result.output
    assert "(admin)" in result.stdout
    assert await _authenticate(cli_env, name, password) is Role.ADMIN
    with pytest.raises(BadCredentials):
        await _authenticate(cli_env, name, password.strip())


async def test_refuses_a_duplicate(cli_env: Settings) -> None:
    name = _name()
    args = ("users", "create", name, "--role", "manager", "--password-stdin")
    assert (await _pgw(*args, stdin=f"{PASSWORD}\n")).exit_code == 0
    again = await _pgw(*args[:4], "admin", "--password-stdin", stdin="another password\n")
    assert again.exit_code == 1
    assert "exists already" in again.output
    # The first account is untouched: same role, same password.
    assert await _authenticate(cli_env, name, PASSWORD) is Role.MANAGER


async def test_refuses_a_short_password(cli_env: Settings) -> None:
    name = _name()
    result = await _pgw(
        "users", "create", name, "--role", "manager", "--password-stdin", stdin="123456789\n"
    )
    assert result.exit_code == 1
    assert "at least 10 characters" in result.output
    with pytest.raises(BadCredentials):
        await _authenticate(cli_env, name, "123456789")


@pytest.mark.parametrize(
    "name", ["Upper", "<script>", "a", "has space", "x" * 65, "名字", "a/b", 'quo"te']
)
async def test_refuses_a_bad_name(cli_env: Settings, name: str) -> None:
    result = await _pgw(
        "users", "create", name, "--role", "manager", "--password-stdin", stdin=f"{PASSWORD}\n"
    )
    assert result.exit_code == 1, result.output
    assert "2 to 64 characters" in result.output


@pytest.mark.parametrize("role", ["root", "Admin", ""])
async def test_refuses_an_unknown_role(cli_env: Settings, role: str) -> None:
    name = _name()
    result = await _pgw(
        "users", "create", name, "--role", role, "--password-stdin", stdin=f"{PASSWORD}\n"
    )
    assert result.exit_code == 2, result.output
    assert "--role" in result.output
    with pytest.raises(BadCredentials):
        await _authenticate(cli_env, name, PASSWORD)


async def test_the_role_is_required(cli_env: Settings) -> None:
    result = await _pgw("users", "create", _name(), "--password-stdin", stdin=f"{PASSWORD}\n")
    assert result.exit_code == 2
    assert "--role" in result.output


async def test_prompts_twice_and_refuses_differing_passwords(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    name = _name()
    result = await _pgw("users", "create", name, "--role", "manager")
    assert result.exit_code == 1
    assert "the passwords differ" in result.output
    with pytest.raises(BadCredentials):
        await _authenticate(cli_env, name, PASSWORD)


async def test_prompts_twice_and_creates(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return PASSWORD

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    name = _name()
    result = await _pgw("users", "create", name, "--role", "manager")
    assert result.exit_code == 0, result.output
    assert prompts == ["Password: ", "Again: "]
    assert await _authenticate(cli_env, name, PASSWORD) is Role.MANAGER


async def test_creates_the_embedded_database_when_needed(embedded_env: Settings) -> None:
    name = _name()
    result = await _pgw(
        "users", "create", name, "--role", "admin", "--password-stdin", stdin=f"{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert (embedded_env.data_dir / "gateway.db").exists()
    assert await _authenticate(embedded_env, name, PASSWORD) is Role.ADMIN
