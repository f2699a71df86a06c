"""The composition root: builds every dependency of the gateway once, from the settings."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.hotstate import HotState, Keyspace, MemoryHotState, RedisHotState
from gateway.metrics import GatewayMetrics
from gateway.oauth.keys import KeyStore
from gateway.oauth.status import ClientStatus
from gateway.oauth.tokens import LEEWAY_SECONDS, TokenService
from gateway.persistence.db import create_engine, create_session_factory
from gateway.persistence.uow import UnitOfWork
from gateway.registry import Registry, load_registry
from gateway.settings import Settings
from masking import MaskingKeys

__all__ = ["Container", "build_container", "build_hot_state"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    """Everything a request handler or CLI command may need, built once per process."""

    settings: Settings
    registry: Registry
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    hot_state: HotState
    keys: Keyspace
    tokens: TokenService
    clock: Callable[[], datetime]
    masking_keys: MaskingKeys
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)

    def uow(self) -> UnitOfWork:
        """A new unit of work on the gateway's database."""
        return UnitOfWork(self.session_factory)

    async def aclose(self) -> None:
        """Release database and hot-state connections."""
        await self.hot_state.close()
        await self.engine.dispose()


def build_hot_state(settings: Settings) -> HotState:
    """Redis when `PGW_REDIS_URL` is set, otherwise in-process state."""
    if settings.redis_url is None:
        return MemoryHotState()
    return RedisHotState.from_url(settings.redis_url.get_secret_value())


class MaskingKeysMissing(ValueError):
    """Production needs its own masking keys."""


def build_masking_keys(settings: Settings) -> MaskingKeys:
    """The configured masking keys, or the development key outside production."""
    if not settings.masking_keys:
        if settings.environment == "production":
            raise MaskingKeysMissing(
                "PGW_MASKING_KEYS is required in production: a JSON object of key ids to "
                "base64 master keys of at least 32 bytes"
            )
        return MaskingKeys.development()
    try:
        masters = {
            kid: base64.b64decode(value.get_secret_value(), validate=True)
            for kid, value in settings.masking_keys.items()
        }
    except binascii.Error as exc:
        raise MaskingKeysMissing("PGW_MASKING_KEYS values must be base64") from exc
    active = settings.masking_active_key
    if active is None:
        if len(masters) != 1:
            raise MaskingKeysMissing("set PGW_MASKING_ACTIVE_KEY: several masking keys are given")
        (active,) = masters
    return MaskingKeys(masters, active)


def build_token_service(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    hot_state: HotState,
    keys: Keyspace,
    clock: Callable[[], datetime],
) -> TokenService:
    """The OAuth server's signing keys, token checks and revocations, built once per process."""
    return TokenService(
        keys=KeyStore(
            session_factory,
            token_lifetime_seconds=settings.token_lifetime_seconds,
            leeway_seconds=LEEWAY_SECONDS,
            clock=clock,
        ),
        client_status=ClientStatus(session_factory),
        hot_state=hot_state,
        keyspace=keys,
        issuer=settings.public_base_url.rstrip("/"),
        audience=settings.token_audience,
        lifetime_seconds=settings.token_lifetime_seconds,
        clock=clock,
    )


def build_container(
    settings: Settings,
    *,
    registry: Registry | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Container:
    """Wire the gateway; an invalid partner registry raises `RegistryError` here.

    `clock` (aware UTC datetimes) lets tests move time instead of sleeping.
    """
    engine = create_engine(
        settings.effective_database_url,
        pool_size=settings.database_pool_size,
        echo=settings.database_echo,
    )
    clock = clock or _utc_now
    session_factory = create_session_factory(engine)
    hot_state = build_hot_state(settings)
    keys = Keyspace(settings.redis_prefix)
    return Container(
        settings=settings,
        registry=registry if registry is not None else load_registry(settings.partners_dir),
        engine=engine,
        session_factory=session_factory,
        hot_state=hot_state,
        keys=keys,
        tokens=build_token_service(settings, session_factory, hot_state, keys, clock),
        clock=clock,
        masking_keys=build_masking_keys(settings),
    )
