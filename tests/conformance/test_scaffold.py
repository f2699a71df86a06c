"""``pgw partners new``: scaffolded partners pass the conformance kit before anyone edits them.

Everything is scaffolded into a copy of ``adapters/``, ``partners/`` and the
test configuration under ``tmp_path``; the repository itself is never written.
The generated modules are imported from the copy (the ``adapters`` package
path is extended for the test), checked in this process, and the generated
test modules run in a pytest subprocess over the copy, where the copy's own
``adapters`` package (and so its registry) is the one imported.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

import adapters
import adapters.sandbox
from adapters.conformance import failures, format_report, live_checks, static_checks
from adapters.registry import (
    ADAPTERS,
    WEBHOOK_TRANSLATORS,
    DialectRegistrationError,
    discover_dialect_packages,
)
from adapters.sandbox import Sandbox, sandbox_secret
from contracts import PartnerAgreement, ServiceCategory
from gateway.onboarding.cli import onboarding_app
from gateway.onboarding.kit import check_partner, gateway_masker, partner_client
from gateway.onboarding.scaffold import ScaffoldError, package_name, scaffold_partner
from gateway.registry import load_registry

REPO = Path(__file__).resolve().parents[2]
CUSTOM = {
    "acme-cars": ServiceCategory.RENTAL,
    "shield-ins": ServiceCategory.INSURANCE,
    "bolt-power": ServiceCategory.CHARGING,
    "perk-club": ServiceCategory.LIFESTYLE,
}
_COPIED_TESTS = (
    "conftest.py",
    "adapters/conftest.py",
    "adapters/test_webhook_translator_conformance.py",
)


def _ignore(_directory: str, names: list[str]) -> set[str]:
    return {name for name in names if name == "__pycache__"}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the parts of the repository a scaffold touches, and the test configuration."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "adapters", root / "adapters", ignore=_ignore)
    shutil.copytree(REPO / "partners", root / "partners", ignore=_ignore)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    for name in _COPIED_TESTS:
        (root / "tests" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "tests" / name, root / "tests" / name)
    return root


def _scaffold(tree: Path, partner_id: str, category: ServiceCategory, dialect: Any) -> list[Path]:
    return scaffold_partner(
        partner_id,
        category,
        dialect,
        partners_dir=tree / "partners",
        adapters_root=tree / "adapters",
        tests_root=tree / "tests",
        today=date(2030, 1, 1),
    )


def _agreement(tree: Path, partner_id: str) -> PartnerAgreement:
    text = (tree / "partners" / f"{partner_id}.yaml").read_text("utf-8")
    return PartnerAgreement.model_validate(yaml.safe_load(text))


@pytest.fixture
def from_tree(tree: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Import modules of the copy as ``adapters.<name>``; forgotten again afterwards."""
    monkeypatch.setattr(adapters, "__path__", [*adapters.__path__, str(tree / "adapters")])
    monkeypatch.setattr(
        adapters.sandbox,
        "__path__",
        [*adapters.sandbox.__path__, str(tree / "adapters" / "sandbox")],
    )
    before = set(sys.modules)

    def load(name: str) -> ModuleType:
        return importlib.import_module(name)

    yield load
    for name in set(sys.modules) - before:
        del sys.modules[name]


class TestCustomDialect:
    def test_generated_adapter_sandbox_and_tests_pass_in_the_same_run(
        self, tree: Path, from_tree: Any
    ) -> None:
        for partner_id, category in CUSTOM.items():
            written = _scaffold(tree, partner_id, category, "custom")
            package = package_name(partner_id)
            assert tree / "partners" / f"{partner_id}.yaml" in written
            assert tree / "tests" / "adapters" / f"test_{package}.py" in written
            assert all(path.is_relative_to(tree) for path in written)

            agreement = _agreement(tree, partner_id)
            module = from_tree(f"adapters.{package}")
            simulator = from_tree(module.SANDBOX).DIALECT
            assert module.DIALECT == f"{partner_id}.v1" == agreement.api.dialect
            findings = static_checks(
                agreement,
                module.API,
                tree / "adapters" / package / "fixtures",
                masker=gateway_masker(),
                translator=module.WEBHOOKS,
                sandbox=simulator,
            )
            assert not failures(findings), format_report(findings)
            assert any(f.check.startswith("round-trip:") for f in findings)

        generated = [f"tests/adapters/test_{package_name(pid)}.py" for pid in CUSTOM]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-v",
                "-p",
                "no:randomly",
                "-p",
                "no:cacheprovider",
                *generated,
                "tests/adapters/test_webhook_translator_conformance.py",
            ],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        for module in generated:
            for test in (
                "test_is_registered_in_the_one_registry",
                "test_passes_the_static_conformance_checks",
                "test_its_sandbox_answers_every_operation",
            ):
                assert f"{module}::{test} PASSED" in result.stdout, result.stdout[-4000:]
        # The copy's registry holds the new dialects: the translator suite covers them too.
        assert "TestEveryTranslator::test_has_fixtures[acme-cars.v1] PASSED" in result.stdout

    async def test_the_generated_sandbox_answers_the_generated_adapter(
        self, tree: Path, from_tree: Any
    ) -> None:
        _scaffold(tree, "acme-cars", ServiceCategory.RENTAL, "custom")
        agreement = _agreement(tree, "acme-cars")
        module = from_tree("adapters.acme_cars")
        secret = sandbox_secret("acme_cars_api_key")
        sandbox = Sandbox(agreement, from_tree(module.SANDBOX).DIALECT, secret=secret)
        sandbox.config.webhooks = False
        base = "http://acme-cars.test"
        transport = httpx.ASGITransport(app=sandbox.app)
        async with partner_client(agreement, base, secret, transport=transport) as http:
            findings = await live_checks(
                agreement, base, http, masker=gateway_masker(), adapter=module.API
            )
        await sandbox.aclose()
        assert [f.check for f in findings] == [
            "live:courtesy_car.book",
            "live:cancel",
            "live:latency",
        ]
        assert not failures(findings), format_report(findings)

    def test_the_copy_registers_it_by_discovery(self, tree: Path, from_tree: Any) -> None:
        _scaffold(tree, "acme-cars", ServiceCategory.RENTAL, "custom")
        found = [
            p for p in discover_dialect_packages(tree / "adapters") if p.package == "acme_cars"
        ]
        [package] = found
        assert package.dialect == "acme-cars.v1"
        assert package.sandbox == "adapters.sandbox.acme_cars"
        assert package.api is not None and package.webhooks is not None
        assert "acme-cars.v1" not in ADAPTERS  # the repository's own registry is untouched


class TestCanonicalDialect:
    @pytest.mark.parametrize("category", list(ServiceCategory))
    def test_the_agreement_alone_passes_the_kit(
        self, tree: Path, category: ServiceCategory
    ) -> None:
        partner_id = f"new-{category.value}"
        written = _scaffold(tree, partner_id, category, "canonical")
        assert written == [tree / "partners" / f"{partner_id}.yaml"]
        agreement = load_registry(tree / "partners").get(partner_id)
        assert agreement.api.dialect == agreement.webhook.dialect == "canonical"
        findings = check_partner(agreement)
        assert not failures(findings), format_report(findings)


class TestTheAgreement:
    def test_every_clause_is_present_and_commented(self, tree: Path) -> None:
        _scaffold(tree, "acme-cars", ServiceCategory.RENTAL, "custom")
        text = (tree / "partners" / "acme-cars.yaml").read_text("utf-8")
        raw = yaml.safe_load(text)
        for clause in ("sla", "commission", "data", "exclusivity", "validity", "contacts"):
            assert clause in raw, clause
        assert raw["sla"]["terms"] and "breach_credit_percent" in raw["sla"]
        assert raw["status"] == "suspended" and raw["tier"] == "bronze"
        for comment in (
            "# Service SLA",
            "# Pricing",
            "# Data sharing",
            "# Liability",
            "# Exclusivity",
        ):
            assert comment in text, comment

    def test_a_name_is_quoted(self, tree: Path) -> None:
        scaffold_partner(
            "odd-name",
            "rental",
            "canonical",
            partners_dir=tree / "partners",
            adapters_root=tree / "adapters",
            tests_root=tree / "tests",
            name="Odd: # Name",
        )
        assert load_registry(tree / "partners").get("odd-name").name == "Odd: # Name"


class TestRefusals:
    @pytest.mark.parametrize(
        "partner_id", ["A-b", "ab", "1abc", "ab_c", "abc-", "a" * 41, "ab c", "ab.c"]
    )
    def test_invalid_ids(self, tree: Path, partner_id: str) -> None:
        with pytest.raises(ScaffoldError, match="partner id"):
            _scaffold(tree, partner_id, ServiceCategory.RENTAL, "custom")
        assert not (tree / "partners" / f"{partner_id}.yaml").exists()

    @pytest.mark.parametrize("partner_id", ["swiftrent", "citycar"])
    def test_an_existing_partner(self, tree: Path, partner_id: str) -> None:
        before = (tree / "partners" / f"{partner_id}.yaml").read_bytes()
        with pytest.raises(ScaffoldError, match="exists already"):
            _scaffold(tree, partner_id, ServiceCategory.RENTAL, "canonical")
        assert (tree / "partners" / f"{partner_id}.yaml").read_bytes() == before

    @pytest.mark.parametrize("partner_id", ["sandbox", "conformance", "canonical", "import"])
    def test_reserved_package_names(self, tree: Path, partner_id: str) -> None:
        with pytest.raises(ScaffoldError, match=r"package name|reserved"):
            _scaffold(tree, partner_id, ServiceCategory.RENTAL, "custom")
        assert not (tree / "partners" / f"{partner_id}.yaml").exists()

    def test_an_existing_file_is_never_overwritten(self, tree: Path) -> None:
        (tree / "tests" / "adapters" / "test_acme_cars.py").write_text("# mine\n", "utf-8")
        with pytest.raises(ScaffoldError, match="refusing to overwrite"):
            _scaffold(tree, "acme-cars", ServiceCategory.RENTAL, "custom")
        assert (tree / "tests" / "adapters" / "test_acme_cars.py").read_text() == "# mine\n"
        assert not (tree / "partners" / "acme-cars.yaml").exists()
        assert not (tree / "adapters" / "acme_cars").exists()

    def test_a_second_scaffold_of_the_same_id(self, tree: Path) -> None:
        _scaffold(tree, "acme-cars", ServiceCategory.RENTAL, "custom")
        with pytest.raises(ScaffoldError, match="exists already"):
            _scaffold(tree, "acme-cars", ServiceCategory.LIFESTYLE, "custom")

    def test_an_unknown_category_or_dialect(self, tree: Path) -> None:
        with pytest.raises(ScaffoldError, match="category"):
            _scaffold(tree, "acme-cars", "parking", "custom")  # type: ignore[arg-type]
        with pytest.raises(ScaffoldError, match="dialect"):
            _scaffold(tree, "acme-cars", ServiceCategory.RENTAL, "grpc")


class TestDiscovery:
    def test_a_package_declaring_a_dialect_it_does_not_implement(
        self, tmp_path: Path, from_tree: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        broken = tmp_path / "extra" / "broken_dialect"
        broken.mkdir(parents=True)
        (broken / "__init__.py").write_text('DIALECT = "broken.v1"\nAPI = object()\n', "utf-8")
        monkeypatch.setattr(adapters, "__path__", [*adapters.__path__, str(tmp_path / "extra")])
        with pytest.raises(DialectRegistrationError, match=r"adapters\.broken_dialect\.API"):
            discover_dialect_packages(tmp_path / "extra")

    def test_every_discovered_package_of_the_repository_is_registered(self) -> None:
        for package in discover_dialect_packages():
            assert package.api is None or ADAPTERS[package.dialect] is package.api
            assert package.webhooks is None or (
                WEBHOOK_TRANSLATORS[package.dialect] is package.webhooks
            )


class TestCommand:
    def test_partners_new_writes_and_lists_the_files(self, tree: Path) -> None:
        result = CliRunner().invoke(
            onboarding_app,
            [
                "new",
                "acme-cars",
                "--category",
                "rental",
                "--dialect",
                "custom",
                "--dir",
                str(tree / "partners"),
                "--root",
                str(tree),
            ],
        )
        assert result.exit_code == 0, result.output
        assert f"wrote {tree / 'partners' / 'acme-cars.yaml'}" in result.output
        assert f"wrote {tree / 'adapters' / 'sandbox' / 'acme_cars.py'}" in result.output

    def test_partners_new_refuses_with_the_reason(self, tree: Path) -> None:
        result = CliRunner().invoke(
            onboarding_app,
            ["new", "swiftrent", "--category", "rental", "--dir", str(tree / "partners")],
        )
        assert result.exit_code == 1
        assert "exists already" in result.output

    def test_partners_new_custom_needs_the_repository(self, tree: Path, tmp_path: Path) -> None:
        result = CliRunner().invoke(
            onboarding_app,
            [
                "new",
                "acme-cars",
                "--category",
                "rental",
                "--dialect",
                "custom",
                "--dir",
                str(tree / "partners"),
                "--root",
                str(tmp_path / "elsewhere"),
            ],
        )
        assert result.exit_code == 1
        assert "holds no adapters/" in result.output
        assert not (tree / "partners" / "acme-cars.yaml").exists()
