"""The package arrows of docs/ARCHITECTURE.md, checked by parsing every import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OURS = {"contracts", "masking", "sla", "adapters", "gateway"}
FRAMEWORKS = {
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "redis",
    "asyncpg",
    "aiosqlite",
    "uvicorn",
}
ALLOWED_OURS = {
    "contracts": set(),
    "masking": {"contracts"},
    "sla": {"contracts"},
    "adapters": {"contracts"},
}


def _imports(package: str) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for path in sorted((REPO / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.extend((path, alias.name.split(".")[0]) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path, node.module.split(".")[0]))
    return found


# The sandbox partners are small web apps by nature (simulated partner APIs); they
# may use the web framework, but still import nothing of ours beyond contracts.
SANDBOX = REPO / "adapters" / "sandbox"
SANDBOX_FRAMEWORKS = {"fastapi", "starlette", "uvicorn"}


def _framework_allowed(path: Path, module: str) -> bool:
    return path.is_relative_to(SANDBOX) and module in SANDBOX_FRAMEWORKS


@pytest.mark.parametrize("package", sorted(ALLOWED_OURS))
def test_domain_packages_import_no_framework(package: str) -> None:
    offending = [
        f"{p.relative_to(REPO)}: {m}"
        for p, m in _imports(package)
        if m in FRAMEWORKS and not _framework_allowed(p, m)
    ]
    assert offending == []


@pytest.mark.parametrize("package", sorted(ALLOWED_OURS))
def test_domain_packages_import_only_what_the_arrows_allow(package: str) -> None:
    allowed = ALLOWED_OURS[package] | {package}
    offending = [
        f"{p.relative_to(REPO)}: {m}"
        for p, m in _imports(package)
        if m in OURS and m not in allowed
    ]
    assert offending == []
