"""A real crash: the gateway process is SIGKILLed between storing a delivery and applying it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from contracts import new_order_id
from gateway.bootstrap import build_container
from gateway.oauth.credentials import (
    CredentialsExist,
    create_partner_credentials,
    rotate_partner_credentials,
)
from gateway.settings import Settings
from tests.gateway.webhooks.conftest import event, order_row

PARTNERS = Path(__file__).resolve().parents[3] / "partners"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _gateway(settings: Settings, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    assert settings.database_url is not None and settings.redis_url is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGW_")}
    env |= {
        "PGW_DATABASE_URL": settings.database_url.get_secret_value(),
        "PGW_REDIS_URL": settings.redis_url.get_secret_value(),
        "PGW_REDIS_PREFIX": settings.redis_prefix,
        "PGW_PARTNERS_DIR": str(PARTNERS),
        "PGW_PORT": str(port),
        "PGW_INBOX_RECOVERY_GRACE_SECONDS": "0",
        "PGW_INBOX_RECOVERY_INTERVAL_SECONDS": "0.5",
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("pgw")), "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError(f"gateway did not become ready: {log.read_text()[-2000:]}")
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=15)


def _pg_dsn(settings: Settings) -> str:
    assert settings.database_url is not None
    return settings.database_url.get_secret_value().replace(
        "postgresql+asyncpg://", "postgresql://"
    )


class TestKilledBetweenStoreAndApply:
    async def test_delivery_is_applied_exactly_once_after_restart(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        container = build_container(settings)
        try:
            try:
                creds = await create_partner_credentials(container, "citycar")
            except CredentialsExist:
                creds = await rotate_partner_credentials(container, "citycar")
            order_id = new_order_id()
            async with container.uow() as uow:
                uow.orders.add(order_row(order_id, "citycar"))
                await uow.commit()
        finally:
            await container.aclose()

        body = orjson.dumps(event(order_id, "rental.order.accepted"))
        webhook_id = f"msg_{uuid.uuid4().hex}"
        assert creds.webhook_secret is not None

        def signed(token: str) -> dict[str, str]:
            at = datetime.now(UTC)
            return {
                "authorization": f"Bearer {token}",
                "content-type": "application/json",
                "webhook-id": webhook_id,
                "webhook-timestamp": str(int(at.timestamp())),
                "webhook-signature": Webhook(creds.webhook_secret or "").sign(
                    webhook_id, at, body.decode()
                ),
            }

        port, log = _free_port(), tmp_path / "gateway.log"
        blocker = await asyncpg.connect(_pg_dsn(settings))
        try:
            with _gateway(settings, port, log) as process:
                base = f"http://127.0.0.1:{port}"
                async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                    token = (
                        await http.post(
                            "/oauth/token",
                            data={"grant_type": "client_credentials"},
                            auth=(creds.client_id, creds.client_secret),
                        )
                    ).json()["access_token"]
                    # Hold the order's row lock: the gateway stores the delivery, then
                    # blocks inside the applying transaction; that is where it dies.
                    tx = blocker.transaction()
                    await tx.start()
                    await blocker.execute("SELECT 1 FROM orders WHERE id = $1 FOR UPDATE", order_id)
                    pending = asyncio.create_task(
                        http.post(
                            "/v1/partners/citycar/events", content=body, headers=signed(token)
                        )
                    )
                    for _ in range(100):
                        status = await blocker.fetchval(
                            "SELECT status FROM inbox WHERE webhook_id = $1", webhook_id
                        )
                        if status is not None:
                            break
                        await asyncio.sleep(0.05)
                    assert status == "received"  # committed by the first transaction
                    process.send_signal(signal.SIGKILL)
                    process.wait(timeout=10)
                    with pytest.raises(httpx.TransportError):
                        await pending
                    await tx.rollback()
        finally:
            await blocker.close()

        async def applied_events() -> int:
            conn = await asyncpg.connect(_pg_dsn(settings))
            try:
                return int(
                    await conn.fetchval(
                        "SELECT count(*) FROM order_events WHERE order_id = $1", order_id
                    )
                )
            finally:
                await conn.close()

        assert await applied_events() == 0
        with _gateway(settings, port, log):
            for _ in range(100):
                if await applied_events():
                    break
                await asyncio.sleep(0.1)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                token = (
                    await http.post(
                        "/oauth/token",
                        data={"grant_type": "client_credentials"},
                        auth=(creds.client_id, creds.client_secret),
                    )
                ).json()["access_token"]
                retry = await http.post(
                    "/v1/partners/citycar/events", content=body, headers=signed(token)
                )
        assert await applied_events() == 1
        assert retry.status_code == 200 and retry.headers["x-webhook-replay"] == "true"
        assert retry.json()["order_status"] == "accepted"
