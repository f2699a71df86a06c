"""The console's sign-in, sessions, CSRF, lockout, roles, redirects, languages and escaping.

Every test drives the real app (PostgreSQL + Redis of the run) over HTTP with
a clock it can move, and follows redirects by hand to check where they go and
which cookies they set.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.bootstrap import Container, build_container
from gateway.console.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    BadCredentials,
    Role,
    authenticate,
    check_name,
    create_user,
)
from gateway.oauth.credentials import CredentialsExist, create_partner_credentials
from gateway.oauth.hashing import verify_secret
from gateway.registry import Registry, load_registry
from gateway.scorecards.schemas import CSV_COLUMNS
from gateway.settings import Settings
from tests.gateway.oauth.conftest import FakeClock

BASE = "http://gateway.test"
PASSWORD = "correct horse battery"
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_SIGN_IN_CSRF = re.compile(
    r'action="/console/login">\s*<input type="hidden" name="csrf_token" value="([^"]+)"'
)
# A month no other test closes: if a refused close went through, nothing else would notice.
UNTOUCHED_MONTH = "2001-02"


def _name(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _csrf_of(html: str) -> str:
    """The first form's CSRF token (the sign-out form's, when signed in)."""
    match = _CSRF_FIELD.search(html)
    assert match is not None, "no csrf_token field on the page"
    return match.group(1)


def _sign_in_csrf(html: str) -> str:
    """The sign-in form's double-submit token."""
    match = _SIGN_IN_CSRF.search(html)
    assert match is not None, "no sign-in form on the page"
    return match.group(1)


def _set_cookie(response: httpx.Response, name: str) -> dict[str, str] | None:
    """The attributes of the `Set-Cookie` of `name` (lowercase keys; `=value` under name)."""
    for header in response.headers.get_list("set-cookie"):
        first, *rest = (part.strip() for part in header.split(";"))
        key, _, value = first.partition("=")
        if key == name:
            attributes = {name: value}
            for part in rest:
                attr, _, attr_value = part.partition("=")
                attributes[attr.lower()] = attr_value
            return attributes
    return None


@dataclass
class Console:
    """The app on a movable clock, one browser (HTTP client with a cookie jar) and helpers."""

    app: FastAPI
    http: httpx.AsyncClient
    clock: FakeClock

    @property
    def container(self) -> Container:
        container: Container = self.app.state.container
        return container

    async def user(self, role: Role = Role.MANAGER, password: str = PASSWORD) -> str:
        name = _name(role.value)
        await create_user(self.container, name, role, password)
        return name

    @asynccontextmanager
    async def browser(self) -> AsyncIterator[httpx.AsyncClient]:
        """Another browser (its own cookie jar) on the same app."""
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            yield http

    async def sign_in(
        self,
        name: str,
        password: str = PASSWORD,
        *,
        next: str | None = None,
        http: httpx.AsyncClient | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Open the sign-in form (which sets the CSRF cookie) and submit it."""
        http = http or self.http
        form_page = await http.get("/console/login")
        assert form_page.status_code == 200
        form = {"user": name, "password": password, "csrf_token": _sign_in_csrf(form_page.text)}
        if next is not None:
            form["next"] = next
        return await http.post("/console/login", data=form, headers=headers or {})

    async def signed_in(self, role: Role = Role.MANAGER) -> str:
        name = await self.user(role)
        response = await self.sign_in(name)
        assert response.status_code == 303, response.text
        return name

    async def session_csrf(self) -> str:
        """The signed-in session's CSRF token, as every page's forms carry it."""
        page = await self.http.get("/console")
        assert page.status_code == 200, page.text
        return _csrf_of(page.text)

    @property
    def session_id(self) -> str | None:
        return self.http.cookies.get(SESSION_COOKIE)


@asynccontextmanager
async def _console_on(
    settings: Settings, clock: FakeClock, registry: Registry | None = None
) -> AsyncIterator[Console]:
    container = build_container(settings, clock=clock, registry=registry)
    application = create_app(settings, container=container)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            yield Console(application, http, clock)


@pytest.fixture
def clock() -> FakeClock:
    """A clock starting now that only moves when told to."""
    return FakeClock()


@pytest.fixture
async def console(settings: Settings, clock: FakeClock) -> AsyncIterator[Console]:
    """The gateway on PostgreSQL + Redis and a movable clock, with one browser."""
    async with _console_on(settings, clock) as started:
        yield started


async def _month_closed(container: Container, month: str) -> bool:
    async with container.uow() as uow:
        scorecards = await uow.scorecards.closed_month(month)
        ledger = await uow.ledger.closed_month(month)
    return scorecards is not None or ledger is not None


async def _partner_secret_hash(container: Container, partner_id: str) -> str:
    """The partner's active client secret hash, creating credentials when it has none."""
    with suppress(CredentialsExist):
        await create_partner_credentials(container, partner_id)
    async with container.uow() as uow:
        (client,) = await uow.clients.active_for_partner(partner_id)
        return client.secret_hash


async def _with_cookie(
    console: Console, method: str, path: str, session_id: str, **kwargs: Any
) -> httpx.Response:
    """A request from a fresh browser that only presents the given session cookie."""
    async with console.browser() as http:
        return await http.request(
            method, path, headers={"cookie": f"{SESSION_COOKIE}={session_id}"}, **kwargs
        )


# -- CSRF ------------------------------------------------------------------------------


class TestCsrf:
    async def test_sign_in_without_the_csrf_cookie_is_refused(self, console: Console) -> None:
        name = await console.user()
        form_page = await console.http.get("/console/login")
        token = _sign_in_csrf(form_page.text)
        console.http.cookies.clear()
        response = await console.http.post(
            "/console/login", data={"user": name, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 403
        assert _set_cookie(response, SESSION_COOKIE) is None
        assert console.session_id is None

    @pytest.mark.parametrize("given", ["", "not-the-token"])
    async def test_sign_in_with_a_mismatching_token_is_refused(
        self, console: Console, given: str
    ) -> None:
        name = await console.user()
        form_page = await console.http.get("/console/login")
        assert _set_cookie(form_page, CSRF_COOKIE) is not None
        response = await console.http.post(
            "/console/login", data={"user": name, "password": PASSWORD, "csrf_token": given}
        )
        assert response.status_code == 403
        assert _set_cookie(response, SESSION_COOKIE) is None
        assert (await console.http.get("/console")).status_code == 303

    async def test_the_sign_in_csrf_cookie_is_strict_and_http_only(self, console: Console) -> None:
        form_page = await console.http.get("/console/login")
        cookie = _set_cookie(form_page, CSRF_COOKIE)
        assert cookie is not None and cookie[CSRF_COOKIE] == _sign_in_csrf(form_page.text)
        assert "httponly" in cookie and cookie["samesite"].lower() == "strict"
        assert cookie["path"] == "/console"

    @pytest.mark.parametrize("given", [None, "", "wrong"])
    async def test_sign_out_needs_the_session_token(
        self, console: Console, given: str | None
    ) -> None:
        await console.signed_in()
        form = {} if given is None else {"csrf_token": given}
        response = await console.http.post("/console/logout", data=form)
        assert response.status_code == 403
        assert _set_cookie(response, SESSION_COOKIE) is None
        assert (await console.http.get("/console")).status_code == 200

    async def test_another_sessions_token_is_refused(self, console: Console) -> None:
        await console.signed_in()
        async with console.browser() as other:
            name = await console.user()
            assert (await console.sign_in(name, http=other)).status_code == 303
            other_token = _csrf_of((await other.get("/console")).text)
        assert other_token != await console.session_csrf()
        response = await console.http.post("/console/logout", data={"csrf_token": other_token})
        assert response.status_code == 403

    @pytest.mark.parametrize("given", [None, "wrong"])
    async def test_closing_a_month_needs_the_session_token(
        self, console: Console, given: str | None
    ) -> None:
        await console.signed_in(Role.ADMIN)
        form = {"month": UNTOUCHED_MONTH, "confirm": "yes"}
        if given is not None:
            form["csrf_token"] = given
        response = await console.http.post("/console/admin/close", data=form)
        assert response.status_code == 403
        assert not await _month_closed(console.container, UNTOUCHED_MONTH)

    @pytest.mark.parametrize("given", [None, "wrong"])
    async def test_rotating_credentials_needs_the_session_token(
        self, console: Console, given: str | None
    ) -> None:
        await console.signed_in(Role.ADMIN)
        before = await _partner_secret_hash(console.container, "meilife")
        form = {} if given is None else {"csrf_token": given}
        response = await console.http.post(
            "/console/admin/partners/meilife/credentials/rotate", data=form
        )
        assert response.status_code == 403
        assert "client-secret" not in response.text
        assert await _partner_secret_hash(console.container, "meilife") == before


# -- sessions --------------------------------------------------------------------------


class TestSession:
    async def test_the_session_cookie_over_http(self, console: Console) -> None:
        name = await console.user()
        response = await console.sign_in(name)
        assert response.status_code == 303 and response.headers["location"] == "/console"
        cookie = _set_cookie(response, SESSION_COOKIE)
        assert cookie is not None and len(cookie[SESSION_COOKIE]) >= 32
        assert "httponly" in cookie
        assert cookie["samesite"].lower() == "lax"
        assert cookie["path"] == "/console"
        assert "secure" not in cookie
        minutes = console.container.settings.console_session_minutes
        assert cookie["max-age"] == str(minutes * 60)
        # The sign-in CSRF cookie has done its job.
        gone = _set_cookie(response, CSRF_COOKIE)
        assert gone is not None and gone["max-age"] == "0"

    async def test_the_session_cookie_is_secure_behind_https(self, console: Console) -> None:
        name = await console.user()
        response = await console.sign_in(name, headers={"x-forwarded-proto": "https"})
        assert response.status_code == 303
        cookie = _set_cookie(response, SESSION_COOKIE)
        assert cookie is not None and "secure" in cookie
        assert "httponly" in cookie and cookie["samesite"].lower() == "lax"

    async def test_the_sign_in_csrf_cookie_is_secure_behind_https(self, console: Console) -> None:
        form_page = await console.http.get("/console/login", headers={"x-forwarded-proto": "https"})
        cookie = _set_cookie(form_page, CSRF_COOKIE)
        assert cookie is not None and "secure" in cookie

    async def test_the_csrf_cookie_of_a_refused_sign_in_is_secure_behind_https(
        self, console: Console
    ) -> None:
        form_page = await console.http.get("/console/login")
        refused = await console.http.post(
            "/console/login",
            data={
                "user": _name("nobody"),
                "password": "wrong password!",
                "csrf_token": _sign_in_csrf(form_page.text),
            },
            headers={"x-forwarded-proto": "https"},
        )
        assert refused.status_code == 401
        cookie = _set_cookie(refused, CSRF_COOKIE)
        assert cookie is not None and "secure" in cookie

    async def test_the_cookie_value_is_not_what_hot_state_stores(self, console: Console) -> None:
        await console.signed_in()
        session_id = console.session_id
        assert session_id is not None
        settings = console.container.settings
        assert settings.redis_url is not None
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis_url.get_secret_value())
        try:
            keys = [key async for key in redis.scan_iter(match=f"{settings.redis_prefix}*")]
            assert keys, "the session is not in Redis"
            assert all(session_id.encode() not in key for key in keys)
            for key in keys:
                if await redis.type(key) == b"string":
                    assert session_id.encode() not in (await redis.get(key) or b"")
        finally:
            await redis.aclose()

    @pytest.mark.parametrize(
        ("path", "location"),
        [
            ("/console", "/console/login?next=/console"),
            (
                "/console/scorecards?month=2026-11&sort=tier",
                "/console/login?next=/console/scorecards%3Fmonth%3D2026-11%26sort%3Dtier",
            ),
            ("/console/admin", "/console/login?next=/console/admin"),
            ("/console/scorecards.csv", "/console/login?next=/console/scorecards.csv"),
        ],
    )
    async def test_a_protected_page_without_a_session_redirects_to_sign_in(
        self, console: Console, path: str, location: str
    ) -> None:
        response = await console.http.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == location

    async def test_admin_actions_without_a_session_redirect_to_sign_in(
        self, console: Console
    ) -> None:
        response = await console.http.post(
            "/console/admin/close", data={"month": UNTOUCHED_MONTH, "confirm": "yes"}
        )
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/login?next=")
        assert not await _month_closed(console.container, UNTOUCHED_MONTH)

    async def test_the_redirect_brings_the_user_back_after_sign_in(self, console: Console) -> None:
        name = await console.user()
        first = await console.http.get("/console/scorecards?month=2026-11")
        login = await console.http.get(first.headers["location"])
        assert login.status_code == 200
        assert 'name="next" value="/console/scorecards?month=2026-11"' in login.text
        response = await console.http.post(
            "/console/login",
            data={
                "user": name,
                "password": PASSWORD,
                "csrf_token": _sign_in_csrf(login.text),
                "next": "/console/scorecards?month=2026-11",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/console/scorecards?month=2026-11"
        assert (await console.http.get(response.headers["location"])).status_code == 200

    async def test_a_session_expires_after_the_configured_minutes(self, console: Console) -> None:
        await console.signed_in()
        session_id = console.session_id
        assert session_id is not None
        minutes = console.container.settings.console_session_minutes
        console.clock.advance(minutes=minutes - 1)
        assert (await console.http.get("/console")).status_code == 200
        console.clock.advance(minutes=1, seconds=1)
        response = await console.http.get("/console/scorecards")
        assert response.status_code == 303
        assert response.headers["location"] == "/console/login?next=/console/scorecards&expired=1"
        deleted = _set_cookie(response, SESSION_COOKIE)
        assert deleted is not None and deleted["max-age"] == "0"
        login = await console.http.get(response.headers["location"])
        assert "会话已过期" in login.text
        # The cookie's value alone no longer opens anything.
        again = await _with_cookie(console, "GET", "/console", session_id)
        assert again.status_code == 303 and "expired=1" in again.headers["location"]

    async def test_sign_out_ends_the_session(self, console: Console) -> None:
        await console.signed_in()
        session_id = console.session_id
        assert session_id is not None
        response = await console.http.post(
            "/console/logout", data={"csrf_token": await console.session_csrf()}
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/console/login"
        deleted = _set_cookie(response, SESSION_COOKIE)
        assert deleted is not None and deleted["max-age"] == "0"
        assert console.session_id is None
        assert (await console.http.get("/console")).status_code == 303
        replayed = await _with_cookie(console, "GET", "/console", session_id)
        assert replayed.status_code == 303
        assert replayed.headers["location"].startswith("/console/login?next=/console")

    async def test_a_forged_session_cookie_opens_nothing(self, console: Console) -> None:
        for value in ("forged", "x" * 200):
            response = await _with_cookie(console, "GET", "/console", value)
            assert response.status_code == 303


# -- lockout ---------------------------------------------------------------------------


class TestLockout:
    async def test_wrong_passwords_lock_the_account_until_the_lock_passes(
        self, console: Console
    ) -> None:
        settings = console.container.settings
        name = await console.user()
        for _ in range(settings.console_lockout_attempts):
            refused = await console.sign_in(name, "wrong password!")
            assert refused.status_code == 401
        locked = await console.sign_in(name, PASSWORD)
        assert locked.status_code == 401
        assert _set_cookie(locked, SESSION_COOKIE) is None
        console.clock.advance(minutes=settings.console_lockout_minutes - 1)
        assert (await console.sign_in(name, PASSWORD)).status_code == 401
        console.clock.advance(minutes=1, seconds=1)
        accepted = await console.sign_in(name, PASSWORD)
        assert accepted.status_code == 303
        assert _set_cookie(accepted, SESSION_COOKIE) is not None

    async def test_fewer_wrong_passwords_do_not_lock(self, console: Console) -> None:
        attempts = console.container.settings.console_lockout_attempts
        name = await console.user()
        for _ in range(attempts - 1):
            assert (await console.sign_in(name, "wrong password!")).status_code == 401
        assert (await console.sign_in(name, PASSWORD)).status_code == 303
        # A success resets the count: as many wrong ones again still do not lock.
        for _ in range(attempts - 1):
            assert (await console.sign_in(name, "wrong password!")).status_code == 401
        assert (await console.sign_in(name, PASSWORD)).status_code == 303

    async def test_lockout_in_the_service(self, console: Console) -> None:
        container = console.container
        name = await console.user(Role.ADMIN)
        assert await authenticate(container, name, PASSWORD) is Role.ADMIN
        for _ in range(container.settings.console_lockout_attempts):
            with pytest.raises(BadCredentials):
                await authenticate(container, name, "nope nope nope")
        with pytest.raises(BadCredentials):
            await authenticate(container, name, PASSWORD)
        console.clock.advance(minutes=container.settings.console_lockout_minutes, seconds=1)
        assert await authenticate(container, name, PASSWORD) is Role.ADMIN

    async def test_unknown_user_and_wrong_password_get_the_same_answer(
        self, console: Console
    ) -> None:
        name = await console.user()
        unknown_name = _name("nobody")
        wrong = await console.sign_in(name, "wrong password!")
        unknown = await console.sign_in(unknown_name, "wrong password!")
        locked_name = await console.user()
        for _ in range(console.container.settings.console_lockout_attempts):
            await console.sign_in(locked_name, "wrong password!")
        locked = await console.sign_in(locked_name, PASSWORD)

        def normalised(response: httpx.Response, user: str) -> str:
            text = response.text.replace(_sign_in_csrf(response.text), "TOKEN")
            return text.replace(user, "USER")

        assert wrong.status_code == unknown.status_code == locked.status_code == 401
        assert normalised(wrong, name) == normalised(unknown, unknown_name)
        assert normalised(wrong, name) == normalised(locked, locked_name)
        assert "用户名或密码错误，或账户已锁定。" in wrong.text


# -- roles -----------------------------------------------------------------------------


class TestRoles:
    async def test_a_manager_sees_no_admin_link_and_cannot_open_admin(
        self, console: Console
    ) -> None:
        await console.signed_in(Role.MANAGER)
        overview = await console.http.get("/console")
        assert overview.status_code == 200
        assert 'href="/console/admin"' not in overview.text
        admin = await console.http.get("/console/admin")
        assert admin.status_code == 403
        assert "仅管理员可执行此操作。" in admin.text
        assert 'id="close-form"' not in admin.text

    async def test_a_manager_cannot_close_a_month(self, console: Console) -> None:
        await console.signed_in(Role.MANAGER)
        form = {
            "month": UNTOUCHED_MONTH,
            "confirm": "yes",
            "csrf_token": await console.session_csrf(),
        }
        response = await console.http.post("/console/admin/close", data=form)
        assert response.status_code == 403
        assert not await _month_closed(console.container, UNTOUCHED_MONTH)

    @pytest.mark.parametrize("action", ["create", "rotate", "revoke"])
    async def test_a_manager_cannot_touch_credentials(self, console: Console, action: str) -> None:
        await console.signed_in(Role.MANAGER)
        before = await _partner_secret_hash(console.container, "taicover")
        response = await console.http.post(
            f"/console/admin/partners/taicover/credentials/{action}",
            data={"csrf_token": await console.session_csrf()},
        )
        assert response.status_code == 403
        assert "client-secret" not in response.text
        assert await _partner_secret_hash(console.container, "taicover") == before

    async def test_an_admin_sees_the_admin_page(self, console: Console) -> None:
        await console.signed_in(Role.ADMIN)
        overview = await console.http.get("/console")
        assert 'href="/console/admin"' in overview.text
        admin = await console.http.get("/console/admin")
        assert admin.status_code == 200
        assert 'id="close-form"' in admin.text and 'id="rotate-swiftrent"' in admin.text
        assert admin.headers["cache-control"] == "no-store"

    async def test_rotation_shows_the_new_secret_once(self, console: Console) -> None:
        await console.signed_in(Role.ADMIN)
        before = await _partner_secret_hash(console.container, "meilife")
        response = await console.http.post(
            "/console/admin/partners/meilife/credentials/rotate",
            data={"csrf_token": await console.session_csrf()},
        )
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        match = re.search(r'id="client-secret">([^<]+)<', response.text)
        assert match is not None
        secret = match.group(1)
        async with console.container.uow() as uow:
            (client,) = await uow.clients.active_for_partner("meilife")
        assert client.secret_hash != before
        assert verify_secret(secret, client.secret_hash)
        assert secret not in client.secret_hash
        again = await console.http.get("/console/admin")
        assert again.status_code == 200
        assert secret not in again.text and 'id="client-secret"' not in again.text

    async def test_an_unknown_partner_or_action_is_not_found(self, console: Console) -> None:
        await console.signed_in(Role.ADMIN)
        token = await console.session_csrf()
        for path in (
            "/console/admin/partners/nobody/credentials/rotate",
            "/console/admin/partners/meilife/credentials/explode",
        ):
            response = await console.http.post(path, data={"csrf_token": token})
            assert response.status_code == 404, path

    async def test_closing_a_bad_month_answers_on_the_admin_page(self, console: Console) -> None:
        await console.signed_in(Role.ADMIN)
        response = await console.http.post(
            "/console/admin/close",
            data={"month": "2026-13", "confirm": "yes", "csrf_token": await console.session_csrf()},
        )
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("text/html")
        assert "month must be YYYY-MM" in response.text and 'id="close-form"' in response.text

    async def test_closing_needs_the_confirmation(self, console: Console) -> None:
        await console.signed_in(Role.ADMIN)
        response = await console.http.post(
            "/console/admin/close",
            data={"month": UNTOUCHED_MONTH, "csrf_token": await console.session_csrf()},
        )
        assert response.status_code == 422
        assert not await _month_closed(console.container, UNTOUCHED_MONTH)


# -- redirects -------------------------------------------------------------------------


class TestOpenRedirect:
    @pytest.mark.parametrize(
        "target",
        [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "/console//evil.example",
            "/console/\\evil.example",
            "http://gateway.test/console",
            "javascript:alert(1)",
            "",
        ],
    )
    async def test_sign_in_never_leaves_the_console(self, console: Console, target: str) -> None:
        name = await console.user()
        response = await console.sign_in(name, next=target)
        assert response.status_code == 303
        assert response.headers["location"] == "/console"

    @pytest.mark.parametrize("target", ["https://evil.example", "//evil.example"])
    async def test_the_language_switch_never_leaves_the_console(
        self, console: Console, target: str
    ) -> None:
        response = await console.http.get("/console/lang/en", params={"next": target})
        assert response.status_code == 303
        assert response.headers["location"] == "/console"

    async def test_the_sign_in_form_does_not_carry_a_foreign_target(self, console: Console) -> None:
        page = await console.http.get("/console/login", params={"next": "https://evil.example"})
        assert 'name="next" value="/console"' in page.text
        assert '"https://evil.example' not in page.text and '"//evil.example' not in page.text


# -- languages -------------------------------------------------------------------------


class TestLanguage:
    async def test_chinese_is_the_default(self, console: Console) -> None:
        page = await console.http.get("/console/login")
        assert '<html lang="zh-Hans">' in page.text
        assert "登录" in page.text and "Sign in" not in page.text

    async def test_switching_to_english_sets_the_cookie(self, console: Console) -> None:
        response = await console.http.get(
            "/console/lang/en", params={"next": "/console/login?next=/console"}
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/console/login?next=/console"
        cookie = _set_cookie(response, "pgw_lang")
        assert cookie is not None and cookie["pgw_lang"] == "en" and cookie["path"] == "/console"
        page = await console.http.get("/console/login")
        assert '<html lang="en">' in page.text
        assert "Sign in" in page.text and "登录" not in page.text
        back = await console.http.get("/console/lang/zh")
        assert _set_cookie(back, "pgw_lang") is not None
        assert "登录" in (await console.http.get("/console/login")).text

    async def test_english_pages_and_messages(self, console: Console) -> None:
        await console.http.get("/console/lang/en")
        await console.signed_in(Role.MANAGER)
        overview = await console.http.get("/console")
        assert "This month&#39;s ecosystem" in overview.text
        forbidden = await console.http.get("/console/admin")
        assert "Only administrators may do this." in forbidden.text

    async def test_an_unknown_language_changes_nothing(self, console: Console) -> None:
        response = await console.http.get("/console/lang/fr")
        assert response.status_code == 303
        assert _set_cookie(response, "pgw_lang") is None
        page = await console.http.get("/console/login")
        assert '<html lang="zh-Hans">' in page.text


# -- pages -----------------------------------------------------------------------------


class TestPages:
    @pytest.mark.parametrize(
        "path",
        [
            "/console",
            "/console/scorecards",
            "/console/scorecards?month=2026-11&sort=p95&order=asc&category=rental&tier=gold",
            "/console/partners/swiftrent",
            "/console/settlements",
            "/console/settlements?month=2026-11",
            "/console/partners/swiftrent/settlements/2026-11",
        ],
    )
    async def test_pages_answer_a_signed_in_manager(self, console: Console, path: str) -> None:
        await console.signed_in(Role.MANAGER)
        response = await console.http.get(path)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-store"

    async def test_the_scorecards_csv(self, console: Console) -> None:
        await console.signed_in(Role.MANAGER)
        response = await console.http.get("/console/scorecards.csv?month=2026-11")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "scorecards-2026-11.csv" in response.headers["content-disposition"]
        assert response.text.splitlines()[0] == ",".join(CSV_COLUMNS)

    @pytest.mark.parametrize(
        "path", ["/console/partners/nobody", "/console/partners/nobody/settlements/2026-11"]
    )
    async def test_an_unknown_partner_is_not_found(self, console: Console, path: str) -> None:
        await console.signed_in(Role.MANAGER)
        response = await console.http.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "未找到。" in response.text

    @pytest.mark.parametrize(
        "path",
        [
            "/console/scorecards?month=2026-13",
            "/console/scorecards.csv?month=2026-13",
            "/console/settlements?month=2026-13",
            "/console/partners/swiftrent/settlements/2026-13",
        ],
    )
    async def test_a_bad_month_is_a_page_not_a_crash(self, console: Console, path: str) -> None:
        await console.signed_in(Role.MANAGER)
        response = await console.http.get(path)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("text/html")
        assert "month must be YYYY-MM" in response.text

    async def test_the_statement_csv_downloads(self, console: Console) -> None:
        await console.signed_in(Role.MANAGER)
        response = await console.http.get("/console/partners/swiftrent/settlements/2026-11.csv")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")


# -- escaping --------------------------------------------------------------------------


class TestEscaping:
    @pytest.mark.parametrize(
        "name",
        ["<script>", "a<b", 'x"y', "Admin", "a b", "a", "x" * 65, "名字", "a/b", "a&b"],
    )
    def test_a_user_name_cannot_carry_markup(self, name: str) -> None:
        with pytest.raises(ValueError, match="2 to 64"):
            check_name(name)

    async def test_create_user_refuses_a_name_with_markup(self, console: Console) -> None:
        with pytest.raises(ValueError):
            await create_user(console.container, "<b>x</b>", Role.MANAGER, PASSWORD)

    @pytest.mark.parametrize(
        "query",
        [
            "category=<script>",
            "tier=<script>",
            "sort=<script>",
            "order=<scr",
            'category="><script>',
        ],
    )
    async def test_query_parameters_are_not_reflected_raw(
        self, console: Console, query: str
    ) -> None:
        await console.signed_in(Role.MANAGER)
        response = await console.http.get(f"/console/scorecards?{query}")
        assert response.status_code == 200, response.text
        assert "<script" not in response.text.lower()
        assert "<scr" not in response.text.lower()

    async def test_a_bad_month_is_not_reflected_raw(self, console: Console) -> None:
        await console.signed_in(Role.MANAGER)
        for path in (
            "/console/scorecards?month=<script>alert(1)</script>",
            "/console/partners/swiftrent/settlements/<script>",
        ):
            response = await console.http.get(path)
            assert response.status_code in {404, 422}, path
            assert not response.headers["content-type"].startswith("text/html") or (
                "<script" not in response.text.lower()
            )

    async def test_the_sign_in_form_escapes_what_it_echoes(self, console: Console) -> None:
        page = await console.http.get(
            "/console/login", params={"next": '/console"><script>alert(1)</script>'}
        )
        assert "<script" not in page.text.lower()
        form = {
            "user": "<script>alert(1)</script>",
            "password": "wrong password!",
            "csrf_token": _sign_in_csrf(page.text),
            "next": '/console"><script>alert(1)</script>',
        }
        refused = await console.http.post("/console/login", data=form)
        assert refused.status_code == 401
        assert "<script" not in refused.text.lower()
        assert "&lt;script&gt;" in refused.text

    async def test_the_partner_page_escapes_agreement_text(
        self, settings: Settings, clock: FakeClock
    ) -> None:
        crafted = "<script>alert('name')</script>"
        agreements = [
            a.model_copy(update={"name": crafted, "cities": ["<img src=x onerror=alert(1)>"]})
            if a.id == "swiftrent"
            else a
            for a in load_registry(settings.partners_dir)
        ]
        async with _console_on(settings, clock, Registry(agreements)) as console:
            await console.signed_in(Role.MANAGER)
            response = await console.http.get("/console/partners/swiftrent")
        assert response.status_code == 200, response.text
        assert "<script" not in response.text.lower() and "<img" not in response.text.lower()
        assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in response.text
        assert "&lt;img src=x onerror=alert(1)&gt;" in response.text


def test_session_lifetime_is_bounded() -> None:
    """The session lifetime setting cannot be zero or unbounded."""
    with pytest.raises(ValueError):
        Settings(console_session_minutes=0)
    with pytest.raises(ValueError):
        Settings(console_session_minutes=8 * 24 * 60)
