"""Console accounts, sign-in with lockout, sessions in hot state, CSRF tokens, roles.

Passwords are stored as scrypt hashes (``gateway/oauth/hashing.py``, the same
slow hash as client secrets). A session is a random id in an HttpOnly cookie;
hot state holds its user, role, CSRF token and expiry under the id's SHA-256,
so the cookie value itself is stored nowhere. Every form carries the
session's CSRF token (the sign-in form a double-submit cookie), checked in
constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

import orjson

from gateway.bootstrap import Container
from gateway.oauth.hashing import hash_secret, verify_secret
from gateway.persistence.tables import ConsoleUserRow
from gateway.problems import Problem

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "BadCredentials",
    "ConsoleSession",
    "Role",
    "UserExists",
    "authenticate",
    "check_csrf",
    "create_user",
    "end_session",
    "load_session",
    "start_session",
]

SESSION_COOKIE: Final = "pgw_console"
CSRF_COOKIE: Final = "pgw_console_csrf"
_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
_MIN_PASSWORD: Final = 10
# Verified when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH: Final = hash_secret("not a password of anyone")


class Role(StrEnum):
    """What a console user may do: managers read; admins also close months and manage
    partner credentials."""

    MANAGER = "manager"
    ADMIN = "admin"


class UserExists(ValueError):
    """A console user of that name exists already."""


class BadCredentials(Problem):
    """Sign-in refused: unknown name, wrong password or a locked account (one message)."""

    slug = "bad-credentials"
    title = "Sign-in refused"
    status = 401


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A signed-in user."""

    user: str
    role: Role
    csrf: str
    expires_at: datetime

    @property
    def is_admin(self) -> bool:
        """Whether the user may close months and manage credentials."""
        return self.role is Role.ADMIN


def check_name(name: str) -> str:
    """The name when it is 2-64 lowercase letters, digits, dot, dash or underscore."""
    if not 2 <= len(name) <= 64 or not set(name) <= _NAME_CHARS:
        raise ValueError(
            "a user name is 2 to 64 characters: lowercase letters, digits, '.', '-' or '_'"
        )
    return name


async def create_user(container: Container, name: str, role: Role, password: str) -> None:
    """Create a console account; raises ``UserExists`` or ``ValueError`` for a bad name or a
    password shorter than 10 characters."""
    check_name(name)
    if len(password) < _MIN_PASSWORD:
        raise ValueError(f"the password must be at least {_MIN_PASSWORD} characters")
    async with container.uow() as uow:
        session = uow.orders._session
        if await session.get(ConsoleUserRow, name) is not None:
            raise UserExists(f"console user {name!r} exists already")
        session.add(
            ConsoleUserRow(
                name=name,
                role=role.value,
                password_hash=hash_secret(password),
                failed_attempts=0,
                locked_until=None,
                created_at=container.clock(),
                last_sign_in_at=None,
            )
        )
        await uow.commit()


async def authenticate(container: Container, name: str, password: str) -> Role:
    """The user's role when the password is right and the account not locked.

    Each wrong password counts; ``PGW_CONSOLE_LOCKOUT_ATTEMPTS`` in a row lock
    the account for ``PGW_CONSOLE_LOCKOUT_MINUTES`` (a right password during
    the lock is refused too). Every refusal is the same ``BadCredentials``.
    """
    settings = container.settings
    now = container.clock()
    refused = BadCredentials("The name or password is wrong, or the account is locked.")
    async with container.uow() as uow:
        session = uow.orders._session
        user = await session.get(ConsoleUserRow, name, with_for_update=True)
        if user is None:
            verify_secret(password, _DUMMY_HASH)
            raise refused
        if user.locked_until is not None and user.locked_until > now:
            raise refused
        if not verify_secret(password, user.password_hash):
            user.failed_attempts += 1
            if user.failed_attempts >= settings.console_lockout_attempts:
                user.locked_until = now + timedelta(minutes=settings.console_lockout_minutes)
                user.failed_attempts = 0
            await uow.commit()
            raise refused
        user.failed_attempts = 0
        user.locked_until = None
        user.last_sign_in_at = now
        role = Role(user.role)
        await uow.commit()
    return role


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def start_session(container: Container, user: str, role: Role) -> str:
    """A new session for the user; the id to put in the cookie."""
    session_id = secrets.token_urlsafe(32)
    ttl = container.settings.console_session_minutes * 60
    expires_at = container.clock() + timedelta(seconds=ttl)
    value = orjson.dumps(
        {
            "user": user,
            "role": role.value,
            "csrf": secrets.token_urlsafe(32),
            "expires_at": expires_at.isoformat(),
        }
    )
    await container.hot_state.set(container.keys.console_session(_digest(session_id), ttl), value)
    return session_id


async def load_session(container: Container, session_id: str | None) -> ConsoleSession | None:
    """The session of a cookie value, or None when absent, unknown or expired."""
    if not session_id or len(session_id) > 128:
        return None
    ttl = container.settings.console_session_minutes * 60
    raw = await container.hot_state.get(container.keys.console_session(_digest(session_id), ttl))
    if raw is None:
        return None
    data = orjson.loads(raw)
    expires_at = datetime.fromisoformat(data["expires_at"])
    if expires_at <= container.clock():
        return None
    return ConsoleSession(data["user"], Role(data["role"]), data["csrf"], expires_at)


async def end_session(container: Container, session_id: str | None) -> None:
    """Sign out: the session is forgotten at once."""
    if session_id and len(session_id) <= 128:
        ttl = container.settings.console_session_minutes * 60
        await container.hot_state.delete(container.keys.console_session(_digest(session_id), ttl))


def check_csrf(expected: str | None, given: str | None) -> bool:
    """Whether a form's CSRF token matches, in constant time."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
