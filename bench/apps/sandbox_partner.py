"""The standalone sandbox partner of `python -m adapters.sandbox`, as a uvicorn factory.

`PGW_BENCH_SANDBOX_ARGS` holds its command line (e.g. `citycar --partners-dir
partners --no-webhooks --secret S`); the sandbox is built by the same `build()`
as `python -m adapters.sandbox` (`--host` and `--port` are the harness's to
choose). Two accommodations for a benchmark, neither touching the partner API:

- the record read at `GET /_received` keeps every request (the sandbox keeps
  the last 500; one benchmark run sends thousands, all of which are counted);
- `DELETE /_bench/orders` forgets the orders taken, between runs: the canonical
  sandbox checks a new order's `Idempotency-Key` against every order it holds,
  so without it each call would cost more than the one before.
"""

from __future__ import annotations

import os
import shlex
from collections import deque
from typing import Any

from fastapi import FastAPI, Response

from adapters.sandbox.__main__ import build, parse_args


def create_app() -> FastAPI:
    """The sandbox's app, built from `PGW_BENCH_SANDBOX_ARGS`."""
    sandbox = build(parse_args(shlex.split(os.environ["PGW_BENCH_SANDBOX_ARGS"])))
    sandbox.received = deque[dict[str, Any]]()

    @sandbox.app.delete("/_bench/orders", status_code=204, tags=["bench"])
    async def forget_orders() -> Response:
        """Forget every order taken (a benchmark's order ids are never reused)."""
        sandbox.orders.clear()
        sandbox.by_order_id.clear()
        return Response(status_code=204)

    return sandbox.app
