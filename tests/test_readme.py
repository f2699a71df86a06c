"""The README's configuration table lists exactly the settings the code reads."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_configuration_table_matches_settings() -> None:
    documented = set(
        re.findall(r"^\| `(PGW_[A-Z_]+)` \|", README.read_text(encoding="utf-8"), re.M)
    )
    declared = {f"PGW_{name.upper()}" for name in Settings.model_fields}
    assert documented == declared


def test_every_problem_type_in_the_code_is_documented() -> None:
    root = README.parent
    catalogue = (root / "docs" / "problems.md").read_text(encoding="utf-8")
    code = "\n".join(p.read_text(encoding="utf-8") for p in (root / "gateway").rglob("*.py"))
    used = set(re.findall(r'slug(?: =|=)\s*"([a-z-]+)"', code)) | set(
        re.findall(r'problem_type\("([a-z-]+)"\)', code)
    )
    used.discard("error")  # the abstract base class default
    missing = sorted(slug for slug in used if f"`/problems/{slug}`" not in catalogue)
    assert used and missing == []
