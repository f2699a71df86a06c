"""Masking a 30-field customer record for one partner (`masking.mask_json`) against validating
the same record with its pydantic model (`model_validate` of the same dict, as from JSON),
both in this process (no HTTP, no server), timed with `time.perf_counter_ns` in alternating
batches of the same number of calls (the order swapped each round, garbage collection off
within a batch), medians of the per-call times over the rounds. The record is the example
courtesy-car request with every optional field set (customer's national ID, e-mail, birth
date, address and member tier; plate; pickup address and district; notes; repair order),
masked for `swiftrent` (its agreement's data tier, purpose `courtesy_car_delivery`); a second
figure masks the example insurance bind request for `pingsure` (`insurance_underwriting`).
Keys: `MaskingKeys.development()` (per-partner keys derived once and cached, as in the
gateway). Target: masking costs at most 2x the validation. When it costs more, the notes list
the functions with the most own time under cProfile.
"""

from __future__ import annotations

import cProfile
import gc
import json
import pstats
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from pydantic import BaseModel

from bench.context import Context
from bench.figures import Figure
from contracts import (
    EXAMPLE_REQUESTS,
    CourtesyCarRequest,
    InsuranceBindRequest,
    Operation,
    PartnerAgreement,
    Purpose,
    sensitivity_map,
)
from gateway.registry import load_registry
from masking import MaskedView, MaskingKeys, mask_json

TARGET_RATIO: Final = 2.0
GAP = """
What remains is the pure-Python walk over the record beside its sensitivity map (about
40 %), two HMAC pseudonyms with base32 encoding (about 15 %), and the address and name
operators. Next: compile one closure per (model, purpose, tier) plan so the walk does no
lookups, and encode pseudonyms without base64.b32encode's pure-Python loop. Decision 0009.
"""
ROUNDS: Final = 7
BATCH_SHARE: Final = 0.1
"""Each batch of masking calls lasts about this share of the run's round duration."""
MIN_CALLS: Final = 100
PROFILE_CALLS: Final = 1000
PROFILE_TOP: Final = 6
TODAY: Final = date(2030, 5, 20)
"""The example window's day: ages are computed against it, so the output never moves."""
NOTES: Final = "Please call 10 minutes before arriving; the gate code is 4711."
BASELINE: Final = "pydantic model_validate"


@dataclass(frozen=True)
class Case:
    """One record masked for one partner, and its model to validate it with."""

    label: str
    model: type[BaseModel]
    record: dict[str, Any]
    agreement: PartnerAgreement
    purpose: Purpose
    keys: MaskingKeys

    def mask(self) -> MaskedView:
        return mask_json(
            self.record,
            self.model,
            partner_id=self.agreement.id,
            tier=self.agreement.data.tier,
            purpose=self.purpose,
            agreed_purposes=self.agreement.data.purposes,
            keys=self.keys,
            today=TODAY,
        )

    def validate(self) -> BaseModel:
        return self.model.model_validate(self.record)


@dataclass(frozen=True)
class Timing:
    """Per-call nanoseconds of each round, subject and baseline."""

    calls: int
    subject_ns: tuple[float, ...]
    baseline_ns: tuple[float, ...]

    @property
    def subject_us(self) -> float:
        return statistics.median(self.subject_ns) / 1000

    @property
    def baseline_us(self) -> float:
        return statistics.median(self.baseline_ns) / 1000

    def paired_ratios(self) -> list[float]:
        return [s / b for s, b in zip(self.subject_ns, self.baseline_ns, strict=True) if b]


def _as_json(model: BaseModel) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(model.model_dump_json(exclude_none=True))
    return record


def _leaves(record: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of the record's leaf values (lists count as one leaf, as in the map)."""
    out: list[str] = []
    for key, value in record.items():
        if isinstance(value, dict):
            out += _leaves(value, f"{prefix}{key}.")
        else:
            out.append(f"{prefix}{key}")
    return out


def courtesy_car_record() -> dict[str, Any]:
    """The example courtesy-car request, pinned to swiftrent, with notes: every field set."""
    example = EXAMPLE_REQUESTS[Operation.COURTESY_CAR_BOOK]
    request = CourtesyCarRequest.model_validate(
        {**example.model_dump(), "partner_id": "swiftrent", "notes": NOTES}
    )
    return _as_json(request)


def insurance_bind_record() -> dict[str, Any]:
    """The example insurance bind request (pingsure, every customer field set)."""
    return _as_json(EXAMPLE_REQUESTS[Operation.INSURANCE_BIND])


def cases(ctx: Context) -> list[Case]:
    """Both records with their partners' agreements from partners/."""
    registry = load_registry(ctx.root / "partners")
    keys = MaskingKeys.development()
    return [
        Case(
            "courtesy car for swiftrent",
            CourtesyCarRequest,
            courtesy_car_record(),
            registry.get("swiftrent"),
            Purpose.COURTESY_CAR_DELIVERY,
            keys,
        ),
        Case(
            "insurance bind for pingsure",
            InsuranceBindRequest,
            insurance_bind_record(),
            registry.get("pingsure"),
            Purpose.INSURANCE_UNDERWRITING,
            keys,
        ),
    ]


def check(case: Case) -> int:
    """Fail unless the record is complete and both sides do their work; the leaf count."""
    paths = sensitivity_map(case.model)
    leaves = _leaves(case.record)
    unset = sorted(set(paths) - set(leaves))
    unknown = sorted(set(leaves) - set(paths))
    if unset or unknown:
        raise RuntimeError(f"{case.label}: fields not set {unset}, not in the map {unknown}")
    if _as_json(case.validate()) != case.record:
        raise RuntimeError(f"{case.label}: validation does not give the record back")
    view = case.mask()
    decided = {d.path for d in view.fields}
    if not set(leaves) <= decided:
        raise RuntimeError(f"{case.label}: no decision for {sorted(set(leaves) - decided)}")
    if view.payload == case.record:
        raise RuntimeError(f"{case.label}: masking left the record as it was")
    return len(leaves)


def _batch(call: Callable[[], object], calls: int) -> float:
    """Nanoseconds per call of `calls` calls, garbage collection off (as timeit does)."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter_ns()
        for _ in range(calls):
            call()
        elapsed = time.perf_counter_ns() - started
    finally:
        gc.enable()
    return elapsed / calls


def _warm_up(call: Callable[[], object], seconds: float) -> float:
    """Call repeatedly for `seconds`; nanoseconds per call of the last pass."""
    calls, deadline = 10, time.perf_counter() + seconds
    per_call = _batch(call, calls)
    while time.perf_counter() < deadline:
        per_call = _batch(call, calls)
        calls = min(calls * 2, 1_000)
    return per_call


def measure(ctx: Context, case: Case) -> Timing:
    """Warm both up, then ROUNDS rounds of one batch each, the order swapped every round."""
    settings = ctx.settings
    mask_ns = _warm_up(case.mask, settings.warmup / 2)
    _warm_up(case.validate, settings.warmup / 2)
    calls = max(MIN_CALLS, round(settings.duration * BATCH_SHARE * 1e9 / mask_ns))
    subject: list[float] = []
    baseline: list[float] = []
    for round_no in range(ROUNDS):
        order: list[tuple[Callable[[], object], list[float]]] = [
            (case.validate, baseline),
            (case.mask, subject),
        ]
        if round_no % 2:
            order.reverse()
        for call, results in order:
            results.append(_batch(call, calls))
        ctx.log(
            f"{case.label} round {round_no + 1}/{ROUNDS}: mask {subject[-1] / 1000:.1f} us,"
            f" validate {baseline[-1] / 1000:.1f} us per call"
        )
    return Timing(calls, tuple(subject), tuple(baseline))


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def figure(case: Case, timing: Timing, leaves: int) -> Figure:
    """Median masking time per call against the median validation time per call."""
    ratio = timing.subject_us / timing.baseline_us
    return Figure(
        f"mask_json, {case.label}", timing.subject_us, "us", BASELINE, timing.baseline_us,
        higher_is_better=False,
        reading=f"masking costs {ratio:.2f}x the validation; target <= {TARGET_RATIO:g}x: "
        f"{_met(ratio <= TARGET_RATIO)}",
        note=f"{leaves} leaf fields (contracts.sensitivity_map), all set; purpose "
        f"{case.purpose.value}, tier {case.agreement.data.tier.value}; one process, no HTTP; "
        f"{ROUNDS} rounds of {timing.calls:,} calls each",
    )  # fmt: skip


def profile_note(case: Case) -> str:
    """The functions with the most own time over PROFILE_CALLS maskings, under cProfile."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(PROFILE_CALLS):
        case.mask()
    profiler.disable()
    functions = pstats.Stats(profiler).get_stats_profile().func_profiles
    total = sum(f.tottime for f in functions.values()) or 1.0
    top = sorted(functions.items(), key=lambda item: item[1].tottime, reverse=True)
    parts = []
    for name, stats in top[:PROFILE_TOP]:
        where = stats.file_name.rsplit("/", 2)[-2:]
        parts.append(
            f"{'/'.join(where)}:{stats.line_number} {name} {stats.tottime / total:.0%} own, "
            f"{stats.cumtime / total:.0%} with callees ({stats.ncalls} calls)"
        )
    return (
        f"{case.label}, target missed; most own time under cProfile over {PROFILE_CALLS:,} "
        "maskings: " + "; ".join(parts)
    )


def run(ctx: Context) -> list[Figure]:
    """Check both records, time masking against validation, return one figure each."""
    out = []
    for case in cases(ctx):
        leaves = check(case)
        timing = measure(ctx, case)
        paired = timing.paired_ratios()
        ctx.note(
            f"{case.label}: mask/validate per round: median {statistics.median(paired):.2f}, "
            f"range {min(paired):.2f}..{max(paired):.2f}"
        )
        if timing.subject_us > TARGET_RATIO * timing.baseline_us:
            ctx.note(profile_note(case))
        out.append(figure(case, timing, leaves))
    return out
