"""k-anonymous aggregates: no group smaller than k is shown."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masking import k_anonymous


def test_small_groups_are_suppressed_and_counted() -> None:
    records = [{"station": "A", "part": "morning", "wh": 1000}] * 5 + [
        {"station": "B", "part": "night", "wh": 500}
    ] * 2
    export = k_anonymous(records, by=("station", "part"), sums=("wh",), k=5)
    assert [c.as_json(export.by) for c in export.cells] == [
        {"station": "A", "part": "morning", "count": 5, "wh": 5000}
    ]
    assert export.suppressed_groups == 1 and export.suppressed_records == 2


def test_records_missing_a_key_are_never_placed() -> None:
    export = k_anonymous([{"station": None}] * 9, by=("station",), k=2)
    assert export.cells == () and export.suppressed_records == 9


@pytest.mark.parametrize(("by", "k"), [((), 5), (("a",), 1)])
def test_refuses_a_meaningless_export(by: tuple[str, ...], k: int) -> None:
    with pytest.raises(ValueError):
        k_anonymous([], by=by, k=k)


@settings(max_examples=100, derandomize=True)
@given(
    st.lists(st.tuples(st.sampled_from("ABCD"), st.sampled_from(["am", "pm"])), max_size=60),
    st.integers(min_value=2, max_value=10),
)
def test_every_shown_cell_has_at_least_k_and_totals_add_up(
    pairs: list[tuple[str, str]], k: int
) -> None:
    records = [{"s": s, "p": p} for s, p in pairs]
    export = k_anonymous(records, by=("s", "p"), k=k)
    assert all(cell.count >= k for cell in export.cells)
    assert sum(c.count for c in export.cells) + export.suppressed_records == len(records)
