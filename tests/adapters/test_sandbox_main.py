"""`python -m adapters.sandbox`: arguments, agreement loading and credentials, no server started."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import pytest

from adapters.sandbox import SandboxCredentials, sandbox_secret
from adapters.sandbox.__main__ import (
    CREDENTIAL_VARIABLES,
    SandboxSetupError,
    build,
    main,
    parse_args,
)

PARTNERS = Path(__file__).resolve().parents[2] / "partners"
_CREDENTIALS = {
    "SANDBOX_CLIENT_ID": "cli_citycar",
    "SANDBOX_CLIENT_SECRET": "client-secret",
    "SANDBOX_WEBHOOK_SECRET": "whsec_c2VjcmV0",
}


def _args(*extra: str) -> list[str]:
    return ["citycar", "--partners-dir", str(PARTNERS), *extra]


def test_defaults() -> None:
    args = parse_args(["citycar"])
    assert args.partner_id == "citycar"
    assert args.partners_dir == Path("partners")
    assert (args.host, args.port) == ("127.0.0.1", 9100)
    assert args.gateway_url is None
    assert args.no_webhooks is False
    assert args.secret is None


def test_every_option() -> None:
    args = parse_args(
        [
            "swiftrent", "--partners-dir", "/srv/partners", "--host", "0.0.0.0", "--port", "9200",
            "--gateway-url", "http://gw:8000", "--no-webhooks", "--secret", "s3cret",
        ]
    )  # fmt: skip
    assert args.partner_id == "swiftrent"
    assert args.partners_dir == Path("/srv/partners")
    assert (args.host, args.port) == ("0.0.0.0", 9200)
    assert args.gateway_url == "http://gw:8000"
    assert args.no_webhooks is True
    assert args.secret == "s3cret"


@pytest.mark.parametrize("argv", [[], ["citycar", "--port", "0"], ["citycar", "--port", "x"]])
def test_bad_command_lines_exit_with_usage(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2


def test_builds_the_partners_sandbox_with_the_development_secret() -> None:
    sandbox = build(parse_args(_args()), environ={})
    assert sandbox.partner_id == "citycar"
    assert sandbox.agreement.api.dialect == "canonical"
    assert sandbox.dialect.dialect == "canonical"
    assert sandbox.secret == sandbox_secret("citycar_api_key")
    assert sandbox.gateway is None
    assert sandbox.config.webhooks is True


def test_secret_and_no_webhooks() -> None:
    sandbox = build(parse_args(_args("--secret", "s3cret", "--no-webhooks")), environ={})
    assert sandbox.secret == "s3cret"
    assert sandbox.config.webhooks is False


def test_sandbox_answers_with_the_secret_it_was_given() -> None:
    sandbox = build(parse_args(_args("--secret", "s3cret", "--no-webhooks")), environ={})

    async def post(key: str) -> int:
        transport = httpx.ASGITransport(app=sandbox.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
            response = await http.post(
                "/v1/orders", json={}, headers={"X-CityCar-Key": key, "Idempotency-Key": "k"}
            )
            return response.status_code

    assert asyncio.run(post(sandbox_secret("citycar_api_key"))) == 401
    assert asyncio.run(post("s3cret")) == 422  # past auth: the empty body is refused


def test_gateway_url_takes_the_credentials_from_the_environment() -> None:
    sandbox = build(parse_args(_args("--gateway-url", "http://gw:8000/")), environ=_CREDENTIALS)
    assert sandbox.gateway is not None
    link = sandbox.gateway
    assert link.base_url == "http://gw:8000"

    async def issued() -> SandboxCredentials:
        return await link.credentials()

    expected = SandboxCredentials("cli_citycar", "client-secret", "whsec_c2VjcmV0")
    assert asyncio.run(issued()) == expected


@pytest.mark.parametrize("missing", CREDENTIAL_VARIABLES)
def test_gateway_url_without_credentials_is_a_clear_error(missing: str) -> None:
    environ = {k: v for k, v in _CREDENTIALS.items() if k != missing}
    with pytest.raises(SandboxSetupError, match=missing) as refused:
        build(parse_args(_args("--gateway-url", "http://gw:8000")), environ=environ)
    assert "pgw partners credentials create" in str(refused.value)


def test_credentials_are_not_needed_without_a_gateway() -> None:
    assert build(parse_args(_args("--no-webhooks")), environ={}).gateway is None


def test_main_reports_missing_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert main(_args("--gateway-url", "http://gw:8000")) == 2
    assert "SANDBOX_CLIENT_ID" in capsys.readouterr().err


def test_unknown_partner(tmp_path: Path) -> None:
    with pytest.raises(SandboxSetupError, match="no agreement"):
        build(parse_args(["nobody", "--partners-dir", str(tmp_path)]), environ={})


def test_partner_id_is_a_file_name_not_a_path() -> None:
    with pytest.raises(SandboxSetupError, match="no agreement"):
        build(parse_args([f"../{PARTNERS.name}/citycar", "--partners-dir", str(PARTNERS)]))


def test_invalid_agreement(tmp_path: Path) -> None:
    (tmp_path / "citycar.yaml").write_text("id: citycar\nname: [unclosed\n", "utf-8")
    with pytest.raises(SandboxSetupError, match="not a valid agreement"):
        build(parse_args(["citycar", "--partners-dir", str(tmp_path)]), environ={})


def test_file_of_another_partner(tmp_path: Path) -> None:
    shutil.copy(PARTNERS / "citycar.yaml", tmp_path / "othercar.yaml")
    with pytest.raises(SandboxSetupError, match="agreement of 'citycar'"):
        build(parse_args(["othercar", "--partners-dir", str(tmp_path)]), environ={})


def test_dialect_without_a_sandbox(tmp_path: Path) -> None:
    text = (PARTNERS / "citycar.yaml").read_text("utf-8")
    patched = text.replace("dialect: canonical ", "dialect: nosuch.v1 ", 1)
    assert patched != text
    (tmp_path / "citycar.yaml").write_text(patched, "utf-8")
    with pytest.raises(SandboxSetupError, match="no sandbox speaks"):
        build(parse_args(["citycar", "--partners-dir", str(tmp_path)]), environ={})
