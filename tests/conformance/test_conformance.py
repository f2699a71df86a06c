"""The conformance kit over the sample registry: every partner, a broken fixture, live calls."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from adapters.canonical import CanonicalApi
from adapters.conformance import (
    Finding,
    failures,
    format_report,
    live_checks,
    static_checks,
)
from adapters.protocol import OutboundCall
from adapters.sandbox import create_sandbox, sandbox_secret
from contracts import (
    EXAMPLE_PHONE,
    PartnerAgreement,
    ServiceCategory,
    ServiceResult,
    SlaTerms,
    operations_of,
)
from gateway.onboarding.cli import onboarding_app
from gateway.onboarding.kit import (
    check_partner,
    check_partner_live,
    gateway_masker,
    partner_client,
    registered_parts,
)
from gateway.registry import load_registry

REPO = Path(__file__).resolve().parents[2]
PARTNERS_DIR = REPO / "partners"
SAMPLES = load_registry(PARTNERS_DIR).all()
Verdict = Callable[..., None]
runner = CliRunner()


def _secret(agreement: PartnerAgreement) -> str:
    return sandbox_secret(getattr(agreement.api.auth, "secret_ref", ""))


def test_the_sample_registry_is_eight_partners_two_per_category() -> None:
    assert len(SAMPLES) == 8
    assert Counter(a.category for a in SAMPLES) == {category: 2 for category in ServiceCategory}
    assert sorted(a.id for a in SAMPLES) == [
        "citycar",
        "meilife",
        "pingsure",
        "roadmap",
        "starcharge",
        "swiftrent",
        "taicover",
        "voltgrid",
    ]


@pytest.mark.parametrize("agreement", SAMPLES, ids=lambda a: a.id)
def test_every_sample_partner_passes_the_static_checks(
    agreement: PartnerAgreement, known_gaps: dict[str, dict[str, str]], verdict: Verdict
) -> None:
    findings = check_partner(agreement)
    checks = {f.check for f in findings}
    assert {"protocol:adapter", "protocol:sandbox", "operations", "sla:terms"} <= checks
    assert any(c.startswith("disclosure:") for c in checks)
    assert any(c.startswith("round-trip:") for c in checks)
    verdict(agreement.id, findings, known_gaps.get(agreement.id))


class TestABrokenFixtureIsNamed:
    """Copies swiftrent's fixtures, breaks one, and reads the finding."""

    @pytest.fixture
    def fixtures(self, tmp_path: Path, agreements: dict[str, PartnerAgreement]) -> Path:
        source = registered_parts(agreements["swiftrent"]).fixtures_dir
        assert source is not None
        return Path(shutil.copytree(source, tmp_path / "fixtures"))

    def _failed(self, agreement: PartnerAgreement, fixtures: Path) -> list[Finding]:
        return failures(check_partner(agreement, fixtures_dir=fixtures))

    def test_the_intact_copy_passes(
        self, agreements: dict[str, PartnerAgreement], fixtures: Path
    ) -> None:
        assert self._failed(agreements["swiftrent"], fixtures) == []

    def test_a_deleted_response_fixture(
        self, agreements: dict[str, PartnerAgreement], fixtures: Path, verdict: Verdict
    ) -> None:
        (fixtures / "operations" / "courtesy_car.book.response.json").unlink()
        failed = self._failed(agreements["swiftrent"], fixtures)
        assert [(f.partner_id, f.check) for f in failed] == [
            ("swiftrent", "fixture:courtesy_car.book.response")
        ]
        assert "missing fixture operations/courtesy_car.book.response.json" in failed[0].detail
        with pytest.raises(AssertionError) as caught:
            verdict("swiftrent", check_partner(agreements["swiftrent"], fixtures_dir=fixtures))
        assert "swiftrent: fixture:courtesy_car.book.response: missing fixture" in str(caught.value)

    def test_a_corrupt_webhook_fixture(
        self, agreements: dict[str, PartnerAgreement], fixtures: Path
    ) -> None:
        (fixtures / "webhooks" / "car_delivered.json").write_text("{not json", "utf-8")
        failed = {f.check: f.detail for f in self._failed(agreements["swiftrent"], fixtures)}
        assert "is not JSON" in failed["webhook:car_delivered.json"]
        # No fixture is left for the delivered event, and the sandbox's one is unmatched.
        assert "rental.vehicle.delivered" in failed["events:rental"]
        assert "rental.vehicle.delivered" in failed["round-trip:courtesy_car.book"]

    def test_a_webhook_fixture_that_no_longer_translates(
        self, agreements: dict[str, PartnerAgreement], fixtures: Path
    ) -> None:
        path = fixtures / "webhooks" / "order_accepted.json"
        payload = json.loads(path.read_text("utf-8"))
        del payload["oemOrderNo"]
        path.write_text(json.dumps(payload), "utf-8")
        failed = {f.check: f.detail for f in self._failed(agreements["swiftrent"], fixtures)}
        assert failed["webhook:order_accepted.json"].startswith("does not translate: oemOrderNo")

    def test_a_stale_request_fixture(
        self, agreements: dict[str, PartnerAgreement], fixtures: Path
    ) -> None:
        path = fixtures / "operations" / "courtesy_car.book.request.json"
        recorded = json.loads(path.read_text("utf-8"))
        recorded["carClassCode"] = recorded.pop("carClass")
        path.write_text(json.dumps(recorded), "utf-8")
        failed = {f.check: f.detail for f in self._failed(agreements["swiftrent"], fixtures)}
        detail = failed["fixture:courtesy_car.book.request"]
        assert "stale" in detail and "carClass" in detail and "carClassCode" in detail

    def test_a_missing_fixture_of_a_canonical_partner(
        self, agreements: dict[str, PartnerAgreement], tmp_path: Path
    ) -> None:
        source = registered_parts(agreements["starcharge"]).fixtures_dir
        assert source is not None
        copy = Path(shutil.copytree(source, tmp_path / "canonical"))
        (copy / "operations" / "charging.stop.request.json").unlink()
        failed = self._failed(agreements["starcharge"], copy)
        assert [(f.partner_id, f.check) for f in failed] == [
            ("starcharge", "fixture:charging.stop.request")
        ]


class _LeakyApi(CanonicalApi):
    """The canonical adapter, plus the customer's real phone number in every order."""

    async def call(self, http: httpx.AsyncClient, call: OutboundCall) -> ServiceResult:
        payload = {**call.payload, "notes": f"call {EXAMPLE_PHONE}"}
        leaky = OutboundCall(
            call.partner_id, call.order_id, call.operation, payload, call.idempotency_key
        )
        return await super().call(http, leaky)


class TestTheRules:
    def test_a_leaking_adapter_is_caught(self, agreements: dict[str, PartnerAgreement]) -> None:
        agreement = agreements["citycar"]
        parts = registered_parts(agreement)
        assert parts.fixtures_dir is not None
        findings = static_checks(
            agreement,
            _LeakyApi(),
            parts.fixtures_dir,
            masker=gateway_masker(),
            sandbox=parts.sandbox,
        )
        failed = {f.check: f.detail for f in failures(findings)}
        assert "customer.phone" in failed["disclosure:courtesy_car.book"]
        assert "withheld or changed" in failed["disclosure:courtesy_car.book"]

    def test_an_object_that_is_no_adapter(self, agreements: dict[str, PartnerAgreement]) -> None:
        findings = static_checks(
            agreements["citycar"], object(), Path("nowhere"), masker=gateway_masker()
        )
        assert (findings[0].check, findings[0].ok) == ("protocol:adapter", False)
        assert "lacks dialect, operations, retry_safe, call, cancel" in findings[0].detail

    def test_an_operation_without_sla_terms_or_api_targets(
        self, agreements: dict[str, PartnerAgreement]
    ) -> None:
        pingsure = agreements["pingsure"]
        unstated = pingsure.model_copy(update={"sla": SlaTerms(terms=pingsure.sla.terms)})
        failed = {f.check: f.detail for f in failures(check_partner(unstated))}
        assert set(failed) == {"sla:insurance.quote"}
        assert "no sla.terms entry for insurance.quote" in failed["sla:insurance.quote"]

    def test_a_custom_dialect_without_a_translator(
        self, agreements: dict[str, PartnerAgreement]
    ) -> None:
        agreement = agreements["swiftrent"]
        parts = registered_parts(agreement)
        assert parts.adapter is not None and parts.fixtures_dir is not None
        findings = static_checks(
            agreement, parts.adapter, parts.fixtures_dir, masker=gateway_masker()
        )
        failed = {f.check: f.detail for f in failures(findings)}
        assert (
            "no WebhookTranslator for webhook.dialect 'swiftrent.v2'"
            in failed["protocol:translator"]
        )
        assert "no sandbox simulator" in failed["protocol:sandbox"]

    def test_the_report_lists_failures_first_and_sums_up(self) -> None:
        report = format_report(
            [Finding("p", "a", True, "fine"), Finding("p", "b", False, "missing x")]
        )
        assert report.splitlines() == [
            "FAIL p: b: missing x",
            "PASS p: a: fine",
            "1 passed, 1 failed",
        ]


class TestLive:
    @pytest.mark.parametrize("partner", ["swiftrent", "pingsure", "starcharge"])
    async def test_the_in_process_sandbox_answers_every_operation(
        self, partner: str, agreements: dict[str, PartnerAgreement], verdict: Verdict
    ) -> None:
        agreement = agreements[partner]
        findings = await check_partner_live(agreement, base_url=None, secret=_secret(agreement))
        operations = {f.check for f in findings if f.check.startswith("live:")}
        parts = registered_parts(agreement)
        assert parts.adapter is not None
        claimed = {
            f"live:{op}"
            for op in parts.adapter.operations()
            if op in operations_of(agreement.category)
        }
        assert claimed <= operations and "live:latency" in operations
        verdict(partner, findings)

    async def test_a_failing_partner_is_reported_with_the_reason(
        self, agreements: dict[str, PartnerAgreement]
    ) -> None:
        agreement = agreements["swiftrent"]
        sandbox = create_sandbox(agreement, secret=_secret(agreement))
        sandbox.config.webhooks = False
        sandbox.config.error_rate = 1.0
        base = "http://swiftrent.test"
        transport = httpx.ASGITransport(app=sandbox.app)
        async with partner_client(agreement, base, _secret(agreement), transport=transport) as http:
            findings = await live_checks(agreement, base, http, masker=gateway_masker())
        await sandbox.aclose()
        [finding] = findings
        assert (finding.partner_id, finding.check, finding.ok) == (
            "swiftrent",
            "live:courtesy_car.book",
            False,
        )
        assert finding.detail.startswith("PartnerUnavailable:")

    async def test_wrong_credentials_are_reported(
        self, agreements: dict[str, PartnerAgreement]
    ) -> None:
        agreement = agreements["citycar"]
        sandbox = create_sandbox(agreement, secret=_secret(agreement))
        sandbox.config.webhooks = False
        transport = httpx.ASGITransport(app=sandbox.app)
        async with partner_client(agreement, "http://c.test", "wrong", transport=transport) as http:
            findings = await live_checks(agreement, "http://c.test", http, masker=gateway_masker())
        await sandbox.aclose()
        assert [f.ok for f in findings] == [False]
        assert "PartnerAuthFailed" in findings[0].detail
        assert "check the secret" in findings[0].detail

    async def test_a_standalone_sandbox_by_its_base_url(
        self, agreements: dict[str, PartnerAgreement], standalone: Callable[[str], str]
    ) -> None:
        agreement = agreements["swiftrent"]  # OAuth: its token endpoint moves with the sandbox
        base_url = standalone("swiftrent")
        findings = await check_partner_live(agreement, base_url=base_url, secret=_secret(agreement))
        assert [f.check for f in findings] == [
            "live:courtesy_car.book",
            "live:cancel",
            "live:latency",
        ]
        assert not failures(findings), format_report(findings)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def standalone() -> Iterator[Callable[[str], str]]:
    """Start ``python -m adapters.sandbox PARTNER --port N``; its base URL."""
    started: list[subprocess.Popen[bytes]] = []

    def start(partner: str) -> str:
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "adapters.sandbox", partner, "--port", str(port)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        started.append(process)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return f"http://127.0.0.1:{port}"
            except OSError:
                if process.poll() is not None:
                    break
                time.sleep(0.1)
        pytest.fail(f"the {partner} sandbox did not start on port {port}")

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


class TestCommand:
    def test_conformance_of_a_partner_passes(self) -> None:
        result = runner.invoke(
            onboarding_app,
            ["conformance", "--partner", "citycar", "--dir", str(PARTNERS_DIR)],
        )
        assert result.exit_code == 0, result.output
        assert "PASS citycar: live:courtesy_car.book" in result.output
        assert result.output.rstrip().splitlines()[-1].endswith("0 failed")

    def test_conformance_reports_failures_and_exits_1(self, tmp_path: Path) -> None:
        shutil.copy(PARTNERS_DIR / "citycar.yaml", tmp_path / "citycar.yaml")
        closed = f"http://127.0.0.1:{_free_port()}"
        result = runner.invoke(
            onboarding_app,
            [
                "conformance",
                "--partner",
                "citycar",
                "--dir",
                str(tmp_path),
                "--base-url",
                closed,
                "--no-static",
                "--json",
            ],
        )
        assert result.exit_code == 1, result.output
        report: dict[str, Any] = json.loads(result.output)
        assert report["partner"] == "citycar" and report["passed"] is False
        assert report["target"] == closed
        [finding] = report["findings"]
        assert finding["check"] == "live:courtesy_car.book" and not finding["ok"]
        assert f"nothing answers at {closed}" in finding["detail"]

    def test_conformance_of_an_unknown_partner(self) -> None:
        result = runner.invoke(
            onboarding_app, ["conformance", "--partner", "nobody", "--dir", str(PARTNERS_DIR)]
        )
        assert result.exit_code == 2
        assert "no partner 'nobody'" in result.output
