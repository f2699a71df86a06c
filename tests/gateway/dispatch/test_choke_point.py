"""Every payload to a partner is built by the one masking choke point."""

from __future__ import annotations

import ast
from pathlib import Path

GATEWAY = Path(__file__).resolve().parents[3] / "gateway"
CHOKE_POINT = GATEWAY / "dispatch" / "disclosure.py"


def test_only_the_choke_point_builds_outbound_calls() -> None:
    builders = []
    for path in GATEWAY.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "OutboundCall":
                builders.append(path)
    assert builders == [CHOKE_POINT]


def test_adapters_are_called_only_with_choke_point_calls() -> None:
    service = (GATEWAY / "dispatch" / "service.py").read_text(encoding="utf-8")
    assert "disclose(" in service
    assert ".payload" not in service
