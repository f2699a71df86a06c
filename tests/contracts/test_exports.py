"""The package surface: every exported name exists, and contracts stays dependency-free."""

import ast
from pathlib import Path

import contracts

_PACKAGE = Path(contracts.__file__).parent
_FORBIDDEN = ("fastapi", "sqlalchemy", "redis", "gateway", "adapters", "masking", "sla", "httpx")


def test_all_names_exist() -> None:
    for name in contracts.__all__:
        assert hasattr(contracts, name), name


def test_all_is_unique() -> None:
    assert len(contracts.__all__) == len(set(contracts.__all__))


def test_every_module_declares_all() -> None:
    for module in _PACKAGE.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        names = {
            t.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        assert "__all__" in names, module.name


def test_imports_nothing_of_ours_nor_infrastructure() -> None:
    for module in _PACKAGE.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                roots = [node.module.split(".")[0]]
            else:
                continue
            for root in roots:
                assert root not in _FORBIDDEN, f"{module.name} imports {root}"


def test_ships_type_marker() -> None:
    assert (_PACKAGE / "py.typed").exists()
