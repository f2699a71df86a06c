"""Shared pieces of the fault harness (`python -m harness.faults`).

- private servers: `PrivatePostgres` (its own cluster from `initdb`, stopped with
  `pg_ctl stop -m immediate` for a crash-like outage) and `PrivateRedis`
  (`redis-server` without persistence; a restart comes back empty); the shared
  PostgreSQL and Redis are never touched;
- processes: `Processes` starts every server in its own process group and kills
  what is left on exit (also on Ctrl-C and failures); `GatewayProcess` runs
  `pgw serve --workers N` and can be SIGKILLed as a group and started again;
  `SandboxProcess` runs a sandbox partner (`bench.apps.sandbox_partner`, whose
  record of received calls is unbounded) with its fault controls;
- staging: `write_partners` (a partners directory for the run), `prepare_database`,
  credentials through the bench helpers (`bench.bench_webhooks`, `bench.bench_dispatch`);
- senders: `send_with_retries` retries like a Standard Webhooks sender (same
  webhook-id and body, new timestamp and signature per attempt, exponential
  backoff with jitter, on connection errors, timeouts, 5xx and 429) or like the
  OEM app (same `Idempotency-Key`), keeping every attempt in a `RequestRecord`;
- accounting: `account` (accepted / refused with a reason / failed after retries,
  per stream), `Check`, `ScenarioResult` and the markdown rendering; the storage
  checks (`check_webhooks_stored`, `check_dispatch_stored`) compare the senders'
  records with PostgreSQL and with what the partner sandboxes booked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

import asyncpg
import httpx
import orjson
import yaml

from contracts import EVENT_STATUS, EventType, PartnerAgreement, new_event_id, progress_rank
from gateway.webhooks.signature import sign

__all__ = [
    "ROOT",
    "Attempt",
    "Check",
    "GatewayProcess",
    "PrivatePostgres",
    "PrivateRedis",
    "Processes",
    "RequestRecord",
    "RetryPolicy",
    "SandboxProcess",
    "ScenarioResult",
    "Timeline",
    "account",
    "backoff_seconds",
    "check_dispatch_stored",
    "check_webhooks_stored",
    "dispatch_retryable",
    "free_port",
    "rental_events",
    "send_with_retries",
    "webhook_retryable",
    "write_partners",
]

ROOT: Final = Path(__file__).resolve().parent.parent
# uvicorn closes a connection idle for 5 s; a sender waiting out Retry-After (5 s) and then
# reusing its pooled connection would race that close and read a reset, not an answer.
_KEEPALIVE_EXPIRY_S: Final = 2.0
WEBHOOK_PARTNER: Final = "citycar"
"""The partner whose signed canonical events the webhook senders post."""

_READY_TIMEOUT_S: Final = 60.0


# -- processes -----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Processes:
    """Every process the harness started, each in its own process group; `close` kills them."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []
        self._cleanups: list[Callable[[], None]] = []

    def start(
        self, command: Sequence[str], *, env: Mapping[str, str], log: Path, cwd: Path = ROOT
    ) -> subprocess.Popen[bytes]:
        """Start `command` in a new session (its own process group), output appended to `log`."""
        with log.open("ab") as out:
            proc = subprocess.Popen(
                list(command), cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        self._procs.append(proc)
        return proc

    def on_close(self, cleanup: Callable[[], None]) -> None:
        """Run `cleanup` on close (last registered first)."""
        self._cleanups.append(cleanup)

    @staticmethod
    def kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the process group of `proc` and reap it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)

    def close(self) -> None:
        """Kill every process group still running, then run the cleanups."""
        for proc in reversed(self._procs):
            if proc.poll() is None:
                self.kill_group(proc, signal.SIGTERM)
            # Workers of a killed supervisor may outlive it: the whole group goes.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self._procs.clear()
        while self._cleanups:
            with contextlib.suppress(Exception):
                self._cleanups.pop()()


def _pg_bin() -> Path:
    base = Path("/usr/lib/postgresql")
    versions = sorted(
        (p for p in base.glob("*/bin/initdb")), key=lambda p: int(p.parent.parent.name)
    )
    if not versions:
        raise RuntimeError(f"no PostgreSQL server binaries under {base}")
    return versions[-1].parent


def _as_postgres(command: Sequence[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command]


class PrivatePostgres:
    """A PostgreSQL cluster of the harness's own, in a temporary directory owned by postgres."""

    def __init__(self, processes: Processes, workdir: Path) -> None:
        self.bin = _pg_bin()
        self.root = workdir / "postgres"
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = workdir / "postgres.log"
        self.port = free_port()
        self._processes = processes

    def dsn(self, database: str = "postgres") -> str:
        """The asyncpg DSN of `database` on this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(
            _as_postgres([str(self.bin / args[0]), *args[1:]]),
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")

    def init(self) -> None:
        """`initdb` (trust auth) and the first start; stopped again by `Processes.close`."""
        pw = _postgres_ids()
        self.root.mkdir(parents=True)
        self.data.mkdir()
        self.sockets.mkdir()
        for path in (self.root, self.data, self.sockets):
            os.chown(path, *pw)
        self.root.parent.chmod(0o755)
        self.log.touch()
        os.chown(self.log, *pw)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self._processes.on_close(lambda: self.stop(immediate=True))
        self.start()

    def start(self) -> None:
        """Start the cluster and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                  "-t", "60", "start")  # fmt: skip

    def stop(self, *, immediate: bool) -> None:
        """Stop the cluster: `immediate` is a crash-like stop (recovery runs on the next start)."""
        if not (self.data / "postmaster.pid").exists():
            return
        mode = "immediate" if immediate else "fast"
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")


def _postgres_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


class PrivateRedis:
    """`redis-server` of the harness's own, without persistence: a restart comes back empty."""

    def __init__(self, processes: Processes, workdir: Path) -> None:
        self.port = free_port()
        self.log = workdir / "redis.log"
        self._processes = processes
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The Redis URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start and wait until the port answers."""
        command = [
            shutil.which("redis-server") or "redis-server", "--port", str(self.port),
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        ]  # fmt: skip
        self._proc = self._processes.start(command, env=os.environ, log=self.log)
        deadline = time.monotonic() + 20
        while not _port_open(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start:\n" + tail(self.log))
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: everything in it is gone."""
        if self._proc is not None:
            Processes.kill_group(self._proc)
            self._proc = None

    def flush(self) -> None:
        """Forget every key (between scenarios)."""
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=5)
        try:
            client.flushall()
        finally:
            client.close()


def pgw() -> str:
    """The `pgw` script of this virtualenv."""
    script = Path(sys.executable).with_name("pgw")
    if not script.exists():
        raise RuntimeError(f"{script} not found: install the project (make setup) first")
    return str(script)


class GatewayProcess:
    """The gateway with N workers in its own process group: SIGKILLed as a whole, started again."""

    def __init__(
        self, processes: Processes, env: Mapping[str, str], log: Path, *, workers: int = 2
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "PGW_PUBLIC_BASE_URL": self.base_url}
        self.log = log
        self.workers = workers
        self.starts = 0
        self._processes = processes
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start and wait for `/healthz`; the seconds it took."""
        started = time.monotonic()
        pgw = Path(sys.executable).with_name("pgw")
        command = [
            str(pgw), "serve", "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", str(self.workers),
        ]  # fmt: skip
        self._proc = self._processes.start(command, env=self.env, log=self.log)
        self.starts += 1
        self._wait_ready("/healthz")
        return time.monotonic() - started

    def _wait_ready(self, path: str) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + _READY_TIMEOUT_S
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    raise RuntimeError(
                        f"gateway exited with code {self._proc.returncode}:\n" + tail(self.log)
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.base_url + path).status_code == 200:
                        return
                time.sleep(0.1)
        raise RuntimeError(f"gateway not ready after {_READY_TIMEOUT_S:.0f}s:\n" + tail(self.log))

    def kill(self) -> int:
        """SIGKILL the whole process group (supervisor and workers); its pid."""
        assert self._proc is not None
        pid = self._proc.pid
        Processes.kill_group(self._proc)
        self._proc = None
        deadline = time.monotonic() + 10
        while _port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        return pid

    def stop(self) -> None:
        """SIGTERM the group (a clean stop at the end of a scenario)."""
        if self._proc is not None:
            Processes.kill_group(self._proc, signal.SIGTERM)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc = None

    def url(self, path: str) -> str:
        """Absolute URL of `path`."""
        return self.base_url + path

    def log_count(self, event: str) -> int:
        """How many log lines name the structlog event `event`."""
        needle = f'"event": "{event}"'
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return 0
        return sum(1 for line in text.splitlines() if needle in line.replace('":"', '": "'))


class SandboxProcess:
    """One sandbox partner served alone (webhooks off), its calls recorded without limit."""

    def __init__(
        self, processes: Processes, partner_id: str, partners_dir: Path, secret: str, log: Path
    ) -> None:
        self.partner_id = partner_id
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._args = [partner_id, "--partners-dir", str(partners_dir), "--no-webhooks",
                      "--secret", secret]  # fmt: skip
        self._processes = processes
        self.log = log

    def start(self) -> None:
        """Start and wait for its controls."""
        env = {**os.environ, "PGW_BENCH_SANDBOX_ARGS": shlex.join(self._args)}
        command = [
            sys.executable, "-m", "uvicorn", "bench.apps.sandbox_partner:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log",
            "--log-level", "warning",
        ]  # fmt: skip
        proc = self._processes.start(command, env=env, log=self.log)
        deadline = time.monotonic() + _READY_TIMEOUT_S
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"sandbox {self.partner_id} exited:\n" + tail(self.log))
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.base_url + "/_config").status_code == 200:
                        return
                time.sleep(0.1)
        raise RuntimeError(f"sandbox {self.partner_id} not ready:\n" + tail(self.log))

    def configure(self, **changes: Any) -> dict[str, Any]:
        """`PUT /_config` with `changes` (latency, error and timeout rates, seed)."""
        with httpx.Client(base_url=self.base_url, timeout=10) as http:
            answer: dict[str, Any] = http.put("/_config", json=changes).raise_for_status().json()
            return answer

    def bookings(self) -> Counter[str]:
        """Orders the partner holds, counted by our order id (more than 1 = booked twice)."""
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            orders = http.get("/_orders").raise_for_status().json()
        return Counter(str(o["order_id"]) for o in orders)

    def calls(self) -> Counter[str]:
        """Booking calls received (retries included), counted by our order id."""
        with httpx.Client(base_url=self.base_url, timeout=60) as http:
            records = http.get("/_received").raise_for_status().json()
        counted: Counter[str] = Counter()
        for record in records:
            body = record.get("body")
            if record["method"] == "POST" and isinstance(body, dict):
                order_id = body.get("order_id") or body.get("oemOrderNo")
                if order_id:
                    counted[str(order_id)] += 1
        return counted


# -- staging ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartnerSetup:
    """How one partner of the run is reached and configured."""

    partner_id: str
    base_url: str
    tier: str
    timeouts: Mapping[str, float] | None = None
    retry: Mapping[str, Any] | None = None
    circuit_breaker: Mapping[str, float] | None = None


def write_partners(target: Path, partners: Sequence[PartnerSetup]) -> Path:
    """Copies of the shipped agreements of `partners`, pointed at their sandboxes.

    Each gets its `tier`, no volume cap, the webhook rate limit at the schema's
    maximum (the load would otherwise be throttled with 429), and the given
    timeouts, retry and breaker terms; OAuth token URLs follow the base URL.
    """
    target.mkdir(parents=True)
    for setup in partners:
        data = yaml.safe_load((ROOT / "partners" / f"{setup.partner_id}.yaml").read_text("utf-8"))
        api = data["api"]
        api["base_url"] = setup.base_url
        if api["auth"].get("type") == "oauth2_client_credentials":
            api["auth"]["token_url"] = f"{setup.base_url}/oauth/token"
        for name, value in (
            ("timeouts", setup.timeouts),
            ("retry", setup.retry),
            ("circuit_breaker", setup.circuit_breaker),
        ):
            if value is not None:
                api[name] = dict(value)
        data["tier"] = setup.tier
        data.pop("volume_cap_share", None)
        data["webhook"]["rate_limit_per_minute"] = 1_000_000
        path = target / f"{setup.partner_id}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
        PartnerAgreement.model_validate(yaml.safe_load(path.read_text("utf-8")))
    return target


def run_pgw(args: Sequence[str], env: Mapping[str, str]) -> dict[str, Any]:
    """Run `pgw ARGS` in `env`; the last JSON line it printed (or {})."""
    done = subprocess.run(
        [pgw(), *args], cwd=ROOT, env=dict(env), capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"pgw {' '.join(args)} failed: {done.stderr[-2000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return dict(json.loads(lines[-1])) if lines else {}


async def create_database(admin_dsn: str, name: str) -> None:
    """CREATE DATABASE `name` on the private cluster."""
    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def fetch_token(base_url: str, client_id: str, secret: str, scope: str) -> str:
    """An access token from the gateway's `/oauth/token` (client credentials)."""
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(
            f"{base_url}/oauth/token",
            auth=(client_id, secret),
            data={"grant_type": "client_credentials", "scope": scope},
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])


# -- senders -----------------------------------------------------------------------------------

Outcome = Literal["accepted", "refused", "failed"]


@dataclass(frozen=True)
class Attempt:
    """One HTTP attempt: when (seconds since the run's start), and what came back."""

    started: float
    ended: float
    status: int | None = None
    problem_type: str | None = None
    error: str | None = None
    retry_after: str | None = None

    @property
    def answer(self) -> str:
        """`201`, `503 /problems/service-unavailable`, or the error's name."""
        if self.status is None:
            return self.error or "no answer"
        return f"{self.status} {self.problem_type}" if self.problem_type else str(self.status)

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status is not None and 200 <= self.status < 300


@dataclass
class RequestRecord:
    """Everything one logical request went through: every attempt and the final answer."""

    stream: str
    key: str
    subject: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    final_body: dict[str, Any] | None = None
    ok_bodies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last(self) -> Attempt | None:
        """The last attempt."""
        return self.attempts[-1] if self.attempts else None

    @property
    def outcome(self) -> Outcome:
        """accepted (2xx), refused (a final non-retryable answer), failed (gave up)."""
        last = self.last
        if last is None or last.status is None:
            return "failed"
        if last.ok:
            return "accepted"
        if self.stream == "webhook":
            return "failed" if webhook_retryable(last.status, last.problem_type) else "refused"
        return "failed" if dispatch_retryable(last.status, last.problem_type) else "refused"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form for the report."""
        return {
            "stream": self.stream,
            "key": self.key,
            "subject": self.subject,
            "outcome": self.outcome,
            "attempts": [a.__dict__ for a in self.attempts],
        }


@dataclass(frozen=True)
class RetryPolicy:
    """How a sender retries: attempts, backoff, per-attempt timeout, overall deadline."""

    max_attempts: int = 60
    initial_backoff_s: float = 0.25
    max_backoff_s: float = 4.0
    attempt_timeout_s: float = 10.0
    deadline_s: float = 180.0
    max_retry_after_s: float = 5.0


def webhook_retryable(status: int | None, problem_type: str | None = None) -> bool:
    """Standard Webhooks sender: retry on no answer, 5xx and 429 (and 408); stop on the rest."""
    if status is None:
        return True
    return status >= 500 or status in (408, 429)


def dispatch_retryable(status: int | None, problem_type: str | None = None) -> bool:
    """The OEM app: as a webhook sender, plus 409 `idempotency-key-in-use` (the first request
    with the key still runs); a 502 `partners-unavailable` is the order's final answer."""
    if status == 502 and problem_type == "/problems/partners-unavailable":
        return False
    if status == 409:
        return problem_type == "/problems/idempotency-key-in-use"
    return webhook_retryable(status, problem_type)


def backoff_seconds(
    attempt: int, policy: RetryPolicy, retry_after: str | None, rng: random.Random
) -> float:
    """The pause after failed attempt number `attempt` (1-based): exponential with jitter
    (half fixed, half random), at least the answer's `Retry-After` (capped by the policy)."""
    ceiling = min(policy.max_backoff_s, policy.initial_backoff_s * 2 ** (attempt - 1))
    pause = ceiling / 2 + rng.random() * ceiling / 2
    if retry_after is not None:
        with contextlib.suppress(ValueError):
            pause = max(pause, min(float(retry_after), policy.max_retry_after_s))
    return pause


def _problem_type(response: httpx.Response) -> str | None:
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return str(body.get("type")) if isinstance(body, dict) and body.get("type") else None


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def send_with_retries(
    http: httpx.AsyncClient,
    record: RequestRecord,
    build: Callable[[], tuple[str, dict[str, str], bytes]],
    *,
    retryable: Callable[[int | None, str | None], bool],
    policy: RetryPolicy,
    clock: Callable[[], float],
    rng: random.Random,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> RequestRecord:
    """POST what `build()` returns (URL, headers, body; called again for each attempt) until
    an answer is final, attempts run out or the deadline passes; every attempt recorded."""
    deadline = clock() + policy.deadline_s
    for number in range(1, policy.max_attempts + 1):
        url, headers, body = build()
        started = clock()
        try:
            response = await http.post(
                url, content=body, headers=headers, timeout=policy.attempt_timeout_s
            )
        except httpx.HTTPError as exc:
            attempt = Attempt(started, clock(), error=type(exc).__name__)
        else:
            attempt = Attempt(
                started,
                clock(),
                status=response.status_code,
                problem_type=_problem_type(response),
                retry_after=response.headers.get("retry-after"),
            )
            record.final_body = _json(response)
            if attempt.ok and record.final_body is not None:
                record.ok_bodies.append(record.final_body)
        record.attempts.append(attempt)
        if not retryable(attempt.status, attempt.problem_type):
            return record
        pause = backoff_seconds(number, policy, attempt.retry_after, rng)
        if number == policy.max_attempts or clock() + pause > deadline:
            return record
        await sleep(pause)
    return record


# -- webhook and dispatch traffic ------------------------------------------------------------

_RENTAL_FLOW: Final = (
    EventType.RENTAL_ORDER_ACCEPTED,
    EventType.RENTAL_VEHICLE_DISPATCHED,
    EventType.RENTAL_VEHICLE_DELIVERED,
    EventType.RENTAL_COMPLETED,
)


def rental_events(order_id: str, start: datetime) -> list[tuple[str, str, bytes]]:
    """A courtesy car's life as citycar reports it: (event type, event id, canonical body)
    for accepted, dispatched, delivered and completed, one minute and one sequence apart."""
    eta = (start + timedelta(minutes=25)).isoformat()
    data: dict[EventType, dict[str, Any]] = {
        EventType.RENTAL_ORDER_ACCEPTED: {"eta": eta},
        EventType.RENTAL_VEHICLE_DISPATCHED: {"eta": eta, "vehicle_model": "Aion S"},
        EventType.RENTAL_VEHICLE_DELIVERED: {"odometer_km": 12480},
        EventType.RENTAL_COMPLETED: {"days": 3, "amount": {"amount": 36000, "currency": "CNY"}},
    }
    out = []
    for index, event_type in enumerate(_RENTAL_FLOW):
        event_id = new_event_id()
        body = {
            "event_id": event_id,
            "type": event_type.value,
            "partner_id": WEBHOOK_PARTNER,
            "order_id": order_id,
            "partner_reference": f"CC-{order_id.removeprefix('ord_')}",
            "occurred_at": (start + timedelta(minutes=index)).isoformat(),
            "sequence": index + 1,
            "data": data[event_type],
        }
        out.append((event_type.value, event_id, orjson.dumps(body)))
    return out


@dataclass
class WebhookLoad:
    """Senders posting each order's rental events, in order, each retried until final."""

    base_url: str
    token: str
    webhook_secret: str
    orders: list[str]
    senders: int
    policy: RetryPolicy
    clock: Callable[[], float]
    records: list[RequestRecord] = field(default_factory=list)
    bodies: dict[str, bytes] = field(default_factory=dict)
    orders_used: list[str] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        """Run the senders until `stop` is set; orders begun are finished."""
        pending = iter(self.orders)
        limits = httpx.Limits(
            max_connections=self.senders,
            max_keepalive_connections=self.senders,
            keepalive_expiry=_KEEPALIVE_EXPIRY_S,
        )
        async with httpx.AsyncClient(limits=limits) as http:
            await asyncio.gather(
                *(self._sender(http, pending, stop, seed) for seed in range(self.senders))
            )

    async def _sender(
        self, http: httpx.AsyncClient, pending: Iterator[str], stop: asyncio.Event, seed: int
    ) -> None:
        rng = random.Random(seed)
        url = f"{self.base_url}/v1/partners/{WEBHOOK_PARTNER}/events"
        while not stop.is_set():
            order_id = next(pending, None)
            if order_id is None:
                return
            self.orders_used.append(order_id)
            for event_type, event_id, body in rental_events(order_id, datetime.now(UTC)):
                webhook_id = f"msg_{uuid.uuid4().hex}"
                self.bodies[webhook_id] = body
                record = RequestRecord("webhook", webhook_id, f"{order_id} {event_type} {event_id}")
                self.records.append(record)

                def build(webhook_id: str = webhook_id, body: bytes = body) -> Any:
                    timestamp = int(time.time())
                    return url, {
                        "authorization": f"Bearer {self.token}",
                        "content-type": "application/json",
                        "webhook-id": webhook_id,
                        "webhook-timestamp": str(timestamp),
                        "webhook-signature": sign(self.webhook_secret, webhook_id, timestamp, body),
                    }, body  # fmt: skip

                await send_with_retries(
                    http, record, build, retryable=webhook_retryable, policy=self.policy,
                    clock=self.clock, rng=rng,
                )  # fmt: skip


@dataclass
class DispatchLoad:
    """OEM app clients placing courtesy cars, each request retried with its Idempotency-Key."""

    base_url: str
    token: str
    body: bytes
    clients: int
    policy: RetryPolicy
    clock: Callable[[], float]
    pause_s: float = 0.0
    records: list[RequestRecord] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        """Run the clients until `stop` is set; requests begun are finished."""
        limits = httpx.Limits(
            max_connections=self.clients,
            max_keepalive_connections=self.clients,
            keepalive_expiry=_KEEPALIVE_EXPIRY_S,
        )
        async with httpx.AsyncClient(limits=limits) as http:
            await asyncio.gather(*(self._client(http, stop, seed) for seed in range(self.clients)))

    async def _client(self, http: httpx.AsyncClient, stop: asyncio.Event, seed: int) -> None:
        rng = random.Random(1000 + seed)
        url = f"{self.base_url}/v1/service-requests"
        while not stop.is_set():
            key = str(uuid.uuid4())
            record = RequestRecord("dispatch", key)
            self.records.append(record)
            headers = {
                "authorization": f"Bearer {self.token}",
                "content-type": "application/json",
                "idempotency-key": key,
            }
            await send_with_retries(
                http, record, lambda h=headers: (url, h, self.body), retryable=dispatch_retryable,
                policy=self.policy, clock=self.clock, rng=rng,
            )  # fmt: skip
            if record.ok_bodies:
                record.subject = str(record.ok_bodies[-1].get("id", ""))
            elif record.final_body and record.final_body.get("order_id"):
                record.subject = str(record.final_body["order_id"])
            if self.pause_s:
                await asyncio.sleep(self.pause_s)


# -- accounting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One verified property; `critical` ones are loss or duplication."""

    name: str
    ok: bool
    detail: str
    critical: bool = False


@dataclass
class Timeline:
    """What the harness did and when (seconds since the scenario's start)."""

    clock: Callable[[], float]
    entries: list[tuple[float, str]] = field(default_factory=list)

    def note(self, text: str) -> float:
        """Record `text` now; the time."""
        at = self.clock()
        self.entries.append((at, text))
        return at


@dataclass
class StreamAccount:
    """One stream's accounting: every request sent and how it ended."""

    stream: str
    sent: int
    accepted_first: int
    accepted_retried: int
    refused: Counter[str]
    failed: Counter[str]
    attempts: int
    retried_causes: Counter[str]

    @property
    def accepted(self) -> int:
        """Accepted, first try or after retries."""
        return self.accepted_first + self.accepted_retried

    @property
    def balanced(self) -> bool:
        """Every request is in exactly one column."""
        return self.sent == self.accepted + sum(self.refused.values()) + sum(self.failed.values())


def account(stream: str, records: Sequence[RequestRecord]) -> StreamAccount:
    """Sort every request of `stream` into accepted / refused (with reason) / failed."""
    refused: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    retried: Counter[str] = Counter()
    first = after = attempts = 0
    for record in records:
        attempts += len(record.attempts)
        for attempt in record.attempts[:-1]:
            retried[attempt.answer] += 1
        outcome = record.outcome
        last = record.last
        if outcome == "accepted":
            if len(record.attempts) == 1:
                first += 1
            else:
                after += 1
        elif outcome == "refused":
            assert last is not None
            refused[last.answer] += 1
        else:
            failed[last.answer if last else "never sent"] += 1
    return StreamAccount(stream, len(records), first, after, refused, failed, attempts, retried)


def answers_between(
    records: Iterable[RequestRecord], start: float, end: float
) -> Counter[tuple[str, str, bool]]:
    """Every answer given to an attempt that ended in [start, end]: (stream, answer,
    has Retry-After) -> count."""
    counted: Counter[tuple[str, str, bool]] = Counter()
    for record in records:
        for attempt in record.attempts:
            if start <= attempt.ended <= end:
                counted[(record.stream, attempt.answer, attempt.retry_after is not None)] += 1
    return counted


def _counts(counter: Mapping[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counter.items(), key=lambda kv: -kv[1])) or "-"


@dataclass
class ScenarioResult:
    """A scenario's accounting, checks, timeline and notes."""

    name: str
    summary: str
    accounts: list[StreamAccount] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    timeline: list[tuple[float, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    @property
    def passed(self) -> bool:
        """Ran to the end and every check holds."""
        return self.error is None and all(c.ok for c in self.checks)

    @property
    def lost_or_duplicated(self) -> bool:
        """A critical check failed: something accepted lost or applied twice."""
        return any(c.critical and not c.ok for c in self.checks)

    def render(self) -> str:
        """The scenario as markdown."""
        verdict = "PASS" if self.passed else "FAIL"
        out = [f"## {self.name}: {verdict} ({self.seconds:.0f} s)", "", self.summary, ""]
        if self.error:
            out += [f"**The scenario did not complete:** {self.error}", ""]
        if self.timeline:
            out += ["Timeline:", ""]
            out += [f"- t={at:6.1f}s {text}" for at, text in self.timeline]
            out.append("")
        if self.accounts:
            out += [
                "| stream | sent | accepted 1st try | accepted after retries | refused "
                "(final answer) | failed after retries | attempts |",
                "|---|---:|---:|---:|---|---|---:|",
            ]
            for a in self.accounts:
                refused = f"{sum(a.refused.values())} ({_counts(a.refused)})" if a.refused else "0"
                failed = f"{sum(a.failed.values())} ({_counts(a.failed)})" if a.failed else "0"
                out.append(
                    f"| {a.stream} | {a.sent} | {a.accepted_first} | {a.accepted_retried} | "
                    f"{refused} | {failed} | {a.attempts} |"
                )
            out.append("")
            for a in self.accounts:
                if a.retried_causes:
                    out.append(
                        f"- {a.stream}: answers that made the sender retry: "
                        f"{_counts(a.retried_causes)}"
                    )
            out.append("")
        for title, header, rows in self.tables:
            out += [f"{title}:", "", "| " + " | ".join(header) + " |",
                    "|" + "---|" * len(header)]  # fmt: skip
            out += ["| " + " | ".join(row) + " |" for row in rows]
            out.append("")
        if self.checks:
            out += ["| check | result | detail |", "|---|---|---|"]
            for c in self.checks:
                mark = "ok" if c.ok else ("**LOST/DUPLICATE**" if c.critical else "**FAIL**")
                out.append(f"| {c.name} | {mark} | {c.detail} |")
            out.append("")
        out += [f"- {note}" for note in self.notes]
        if self.notes:
            out.append("")
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "name": self.name,
            "passed": self.passed,
            "lost_or_duplicated": self.lost_or_duplicated,
            "seconds": round(self.seconds, 1),
            "error": self.error,
            "accounts": [
                {
                    "stream": a.stream,
                    "sent": a.sent,
                    "accepted_first_try": a.accepted_first,
                    "accepted_after_retries": a.accepted_retried,
                    "refused": dict(a.refused),
                    "failed_after_retries": dict(a.failed),
                    "attempts": a.attempts,
                    "retried_causes": dict(a.retried_causes),
                }
                for a in self.accounts
            ],
            "checks": [c.__dict__ for c in self.checks],
            "timeline": [{"t": round(t, 2), "what": w} for t, w in self.timeline],
            "tables": [{"title": t, "header": h, "rows": r} for t, h, r in self.tables],
            "notes": self.notes,
        }


# -- storage checks ----------------------------------------------------------------------------


async def settle_inbox(conn: asyncpg.Connection, timeout_s: float = 30.0) -> dict[str, int]:
    """Wait until no inbox row is left received or processing (recovery applies them)."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = await conn.fetch("SELECT status, count(*) AS n FROM inbox GROUP BY status")
        counts = {str(r["status"]): int(r["n"]) for r in rows}
        if not set(counts) & {"received", "processing"} or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(0.5)


_STATUS_OF_EVENT: Final = {e.value: s for e, s in EVENT_STATUS.items() if s is not None}


async def check_webhooks_stored(
    conn: asyncpg.Connection, records: Sequence[RequestRecord]
) -> tuple[list[Check], list[str]]:
    """Every webhook-id answered 2xx is stored once and applied once; nothing twice."""
    inbox_counts = await settle_inbox(conn)
    sent: dict[str, tuple[str, str, str]] = {}
    for record in records:
        order_id, event_type, event_id = record.subject.split(" ")
        sent[record.key] = (order_id, event_type, event_id)
    order_ids = sorted({v[0] for v in sent.values()})
    inbox = await conn.fetch(
        "SELECT webhook_id, count(*) AS n, min(status) AS status FROM inbox "
        "WHERE partner_id = $1 GROUP BY webhook_id",
        WEBHOOK_PARTNER,
    )
    inbox_by_id = {str(r["webhook_id"]): (int(r["n"]), str(r["status"])) for r in inbox}
    events = await conn.fetch(
        "SELECT order_id, event_id, count(*) AS n FROM order_events "
        "WHERE order_id = ANY($1::text[]) GROUP BY order_id, event_id",
        order_ids,
    )
    events_by_id = {str(r["event_id"]): int(r["n"]) for r in events}
    events_per_order: Counter[str] = Counter()
    for r in events:
        events_per_order[str(r["order_id"])] += int(r["n"])
    statuses = {
        str(r["id"]): str(r["status"])
        for r in await conn.fetch(
            "SELECT id, status FROM orders WHERE id = ANY($1::text[])", order_ids
        )
    }
    ledger = await conn.fetch(
        "SELECT order_id, count(*) AS n FROM ledger_entries WHERE order_id = ANY($1::text[]) "
        "AND reverses_id IS NULL GROUP BY order_id",
        order_ids,
    )
    ledger_per_order = {str(r["order_id"]): int(r["n"]) for r in ledger}

    accepted = [r for r in records if r.outcome == "accepted"]
    lost = [
        r.key
        for r in accepted
        if inbox_by_id.get(r.key, (0, ""))[1] != "applied"
        or events_by_id.get(sent[r.key][2], 0) != 1
    ]
    twice_inbox = [k for k, (n, _) in inbox_by_id.items() if n > 1]
    twice_events = [k for k, n in events_by_id.items() if n > 1]
    unknown = [k for k in inbox_by_id if k not in sent]
    stored_unacked = [r.key for r in records if r.outcome != "accepted" and r.key in inbox_by_id]
    # Expected status: the most advanced event among the deliveries that are stored.
    expected: dict[str, str] = {}
    stored_per_order: Counter[str] = Counter()
    for webhook_id, (order_id, event_type, _) in sent.items():
        if webhook_id not in inbox_by_id:
            continue
        stored_per_order[order_id] += 1
        status = _STATUS_OF_EVENT[event_type]
        current = expected.get(order_id)
        if current is None or progress_rank(status) > progress_rank(type(status)(current)):
            expected[order_id] = status.value
    wrong_status = [o for o, s in expected.items() if statuses.get(o) != s]
    extra_events = [o for o in order_ids if events_per_order[o] > stored_per_order[o]]
    completed = [o for o, s in statuses.items() if s == "completed"]
    per_completed = Counter(ledger_per_order.get(o, 0) for o in completed)
    checks = [
        Check(
            "webhooks: every 2xx stored and applied once",
            not lost,
            f"{len(accepted)} webhook-ids answered 2xx; {len(lost)} without an applied inbox "
            f"row and exactly one order event" + (f" (e.g. {lost[:3]})" if lost else ""),
            critical=True,
        ),
        Check(
            "webhooks: nothing stored or applied twice",
            not (twice_inbox or twice_events or extra_events),
            f"inbox rows per webhook-id > 1: {len(twice_inbox)}; order events per event id "
            f"> 1: {len(twice_events)}; orders with more events than deliveries stored: "
            f"{len(extra_events)}",
            critical=True,
        ),
        Check(
            "webhooks: order status follows the events stored",
            not wrong_status,
            f"{len(expected)} orders, {len(wrong_status)} whose status is not that of their "
            f"most advanced stored event" + (f" (e.g. {wrong_status[:3]})" if wrong_status else ""),
            critical=True,
        ),
        Check(
            "webhooks: ledger written once per completed order",
            len(per_completed) <= 1,
            f"{len(completed)} orders completed; ledger entries per completed order: "
            + (_counts({f"{k} entries": v for k, v in per_completed.items()}) or "-"),
            critical=True,
        ),
        Check(
            "webhooks: no inbox row nobody sent, none left unapplied",
            not unknown and not set(inbox_counts) & {"received", "processing"},
            f"inbox by status: {inbox_counts}; rows for unknown webhook-ids: {len(unknown)}",
        ),
    ]
    notes = [
        f"webhooks: {len(stored_unacked)} deliveries stored although their sender saw no 2xx "
        "(it gave up or was refused after the gateway committed); they count as applied, "
        "never as lost"
    ]
    return checks, notes


async def check_dispatch_stored(
    conn: asyncpg.Connection,
    client_id: str,
    records: Sequence[RequestRecord],
    sandboxes: Sequence[SandboxProcess],
) -> tuple[list[Check], list[str], dict[str, str]]:
    """Every 201 is one order, booked once at the partner it names; nothing booked twice.

    Returns the checks, notes, and the partner of each accepted order.
    """
    for _ in range(60):
        pending = await conn.fetchval(
            "SELECT count(*) FROM orders WHERE client_id = $1 AND answer_status IS NULL", client_id
        )
        if not pending:
            break
        await asyncio.sleep(0.5)
    rows = await conn.fetch(
        "SELECT id, idempotency_key, status, partner_id, answer_status FROM orders "
        "WHERE client_id = $1",
        client_id,
    )
    by_key: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        by_key[str(row["idempotency_key"])].append(row)
    bookings: dict[str, Counter[str]] = {s.partner_id: s.bookings() for s in sandboxes}
    calls: dict[str, Counter[str]] = {s.partner_id: s.calls() for s in sandboxes}
    booked_total: Counter[str] = Counter()
    for counted in bookings.values():
        booked_total.update(counted)
    known = {str(r["id"]) for r in rows}

    accepted = [r for r in records if r.outcome == "accepted"]
    lost, mismatched, not_booked, partner_of = [], [], [], {}
    for record in accepted:
        orders = by_key.get(record.key, [])
        ids = {str(b.get("id")) for b in record.ok_bodies}
        if len(orders) != 1 or orders[0]["status"] in ("requested", "failed"):
            lost.append(record.key)
            continue
        order = orders[0]
        if ids != {str(order["id"])}:
            mismatched.append(record.key)
        partner = str(order["partner_id"])
        partner_of[str(order["id"])] = partner
        if bookings.get(partner, Counter())[str(order["id"])] != 1:
            not_booked.append(str(order["id"]))
    keys_twice = [k for k, v in by_key.items() if len(v) > 1]
    booked_twice = [o for o, n in booked_total.items() if n > 1]
    booked_unknown = [o for o in booked_total if o not in known]
    refused_booked = [
        str(o["id"])
        for r in records
        if r.outcome == "refused"
        for o in by_key.get(r.key, [])
        if booked_total[str(o["id"])]
    ]
    outcome_of = {r.key: r.outcome for r in records}
    gave_up_booked = [
        str(o["id"])
        for r in records
        if r.outcome == "failed"
        for o in by_key.get(r.key, [])
        if booked_total[str(o["id"])]
    ]
    call_counts = Counter[int]()
    for counted in calls.values():
        call_counts.update(counted.values())
    unanswered = [r for r in rows if r["answer_status"] is None]
    stuck = [
        str(r["id"]) for r in unanswered if outcome_of.get(str(r["idempotency_key"])) != "failed"
    ]
    abandoned = len(unanswered) - len(stuck)
    checks = [
        Check(
            "dispatch: every 201 is one stored order, booked at its partner",
            not lost and not not_booked,
            f"{len(accepted)} keys answered 201; {len(lost)} without a dispatched order, "
            f"{len(not_booked)} not booked exactly once at the partner the order names",
            critical=True,
        ),
        Check(
            "dispatch: no key answered with two orders, none booked twice",
            not (mismatched or keys_twice or booked_twice or booked_unknown),
            f"keys whose 2xx answers name other orders: {len(mismatched)}; keys with several "
            f"orders: {len(keys_twice)}; orders booked more than once across partners: "
            f"{len(booked_twice)}; bookings of orders the gateway does not hold: "
            f"{len(booked_unknown)}",
            critical=True,
        ),
        Check(
            "dispatch: nothing booked for a refused request",
            not refused_booked,
            f"orders of refused requests booked at a partner: {len(refused_booked)}",
            critical=True,
        ),
        Check(
            "dispatch: no order left half-placed",
            not stuck,
            f"{len(rows)} orders stored, {len(stuck)} without an answer although their "
            "client got a final answer",
        ),
    ]
    if gave_up_booked or abandoned:
        notes_extra = [
            f"dispatch: requests whose client gave up: {len(gave_up_booked)} of their orders "
            f"booked at a partner, {abandoned} orders left unanswered (a retry with the same "
            "key would resume them)"
        ]
    else:
        notes_extra = []
    notes = [
        "dispatch: booking calls per order received by the partners (gateway retries of the "
        "same order and key included; the partner deduplicates them): "
        + _counts({f"{k} call(s)": v for k, v in sorted(call_counts.items())}),
        *notes_extra,
    ]
    return checks, notes, partner_of
