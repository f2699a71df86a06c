"""Run every `bench/bench_*.py` module, print its figures, and write docs/benchmarks.md.

Usage (from the repository root): `.venv/bin/python -m bench.run [-k NAME] [--quick]`.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import pkgutil
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import bench
from bench.context import Context, RunSettings
from bench.figures import Figure
from bench.loaders import choose_load_generator
from bench.machine import describe_machine
from bench.report import BenchmarkOutcome, format_figure, render_markdown, write_markdown

ROOT = Path(__file__).resolve().parent.parent
COMMAND = ".venv/bin/python -m bench.run"

BenchmarkRun = Callable[[Context], list[Figure]]


def discover(only: Sequence[str] = ()) -> list[ModuleType]:
    """Import the `bench_*` modules of this package, sorted, optionally filtered by name."""
    names = sorted(
        info.name for info in pkgutil.iter_modules(bench.__path__) if info.name.startswith("bench_")
    )
    if only:
        names = [n for n in names if any(o in n for o in only)]
    modules = [importlib.import_module(f"bench.{name}") for name in names]
    for module in modules:
        if not callable(getattr(module, "run", None)):
            raise TypeError(f"{module.__name__} has no run(ctx) function")
    return modules


def _placement(pin: bool) -> tuple[frozenset[int] | None, frozenset[int] | None, str]:
    """Servers on the first usable CPU, the load generator on the others."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not pin or len(cpus) < 2:
        return None, None, "not pinned (servers and load generator share all CPUs)"
    server, load = frozenset(cpus[:1]), frozenset(cpus[1:])
    text = (
        f"server under test on CPU {cpus[0]}, "
        f"load generator on CPU {','.join(map(str, sorted(load)))}"
    )
    return server, load, text


def _summary(module: ModuleType) -> str:
    return (module.__doc__ or module.__name__).strip()


def run_one(module: ModuleType, ctx: Context) -> BenchmarkOutcome:
    """Run one benchmark module with its own notes; a failure is reported, not raised."""
    name = module.__name__.rsplit(".", 1)[-1].removeprefix("bench_")
    ctx = dataclasses.replace(ctx, notes=[])
    print(f"== {name}", flush=True)
    started = time.monotonic()
    run: BenchmarkRun = module.run
    try:
        figures = run(ctx)
    except Exception as exc:
        traceback.print_exc()
        return BenchmarkOutcome(name, _summary(module), (), (), f"{type(exc).__name__}: {exc}")
    for figure in figures:
        print(format_figure(figure), flush=True)
    ctx.log(f"{name} took {time.monotonic() - started:.0f}s")
    gap = str(getattr(module, "GAP", "")).strip()
    return BenchmarkOutcome(name, _summary(module), figures, tuple(ctx.notes), gap=gap)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("-k", "--only", action="append", default=[], help="run matching only")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per round")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per server")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per side")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s (smoke test)")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.rounds = 1.0, 0.5, 1
    if not (0 < args.duration <= 30 and 0 < args.warmup <= 10 and 1 <= args.rounds <= 10):
        parser.error("bounds: duration in (0, 30] s, warmup in (0, 10] s, rounds in [1, 10]")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Discover, run, print, write; exit 1 if any benchmark failed."""
    args = _parse(argv)
    modules = discover(args.only)
    if not modules:
        print("no benchmark matched", file=sys.stderr)
        return 1
    settings = RunSettings(args.duration, args.warmup, args.rounds, args.connections)
    server_cpus, load_cpus, pinning = _placement(not args.no_pin)

    def log(message: str) -> None:
        print(f"  . {message}", file=sys.stderr, flush=True)

    loadgen = choose_load_generator(
        args.loadgen, allow_install=not args.no_install, cpus=load_cpus, log=log
    )
    machine = describe_machine()
    print(f"load generator: {loadgen.description}")
    print(f"placement: {pinning}")
    for label, value in machine.rows():
        print(f"{label}: {value}")
    ctx = Context(ROOT, settings, loadgen, server_cpus)
    outcomes = [run_one(module, ctx) for module in modules]
    if not args.no_write:
        text = render_markdown(
            machine=machine,
            loadgen=loadgen.description,
            settings=settings,
            pinning=pinning,
            command=shlex.join([*COMMAND.split(), *(sys.argv[1:] if argv is None else argv)]),
            outcomes=outcomes,
        )
        write_markdown(args.output, text)
        print(f"wrote {args.output}")
    return 1 if any(o.error for o in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
