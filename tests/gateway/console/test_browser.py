"""The console in a real browser: Playwright drives Debian's Chromium (headless).

The gateway runs as a real HTTP server (uvicorn in this event loop, on a free
port); the same app object is reached in-process (httpx ``ASGITransport``) to
seed a month of sandbox traffic and to read the API. A full-page screenshot of
every page visited is saved under ``$PGW_TEST_ARTIFACTS/console/`` (default
``var/test-artifacts/console/``). Without ``/usr/bin/chromium`` the tests are
skipped (``make test`` installs it), and under CI=true they fail instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import re
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from contracts import Operation
from gateway.app import create_app
from gateway.bootstrap import Container
from gateway.console.auth import SESSION_COOKIE, Role, create_user
from gateway.console.i18n import locale_for
from gateway.oauth.credentials import create_client
from gateway.scorecards import compute_month
from gateway.scorecards.months import month_of, previous_month
from gateway.settings import Settings
from tests.conftest import IN_CI, REPO
from tests.gateway.dispatch.conftest import configure, example, wait_for

CHROMIUM = Path(os.environ.get("PGW_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = (
    Path(os.environ.get("PGW_TEST_ARTIFACTS") or REPO / "var" / "test-artifacts") / "console"
)
PASSWORD = "correct horse battery staple"
TIMEOUT_MS = 10_000
ZH = locale_for("zh")


# -- the browser and the server ----------------------------------------------------------


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One headless Debian Chromium for the module."""
    if not CHROMIUM.exists():  # noqa: ASYNC240 (once per module, a stat)
        message = f"Chromium is missing at {CHROMIUM} (run `bash .ci/ensure-browser.sh`)"
        if IN_CI:
            pytest.fail(f"CI=true and {message}; the browser tests must run", pytrace=False)
        pytest.skip(message)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


class _Server(uvicorn.Server):
    """uvicorn in the test's event loop, leaving Ctrl-C to pytest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Console:
    """The gateway served over HTTP for the browser, and reachable in-process."""

    app: FastAPI
    http: httpx.AsyncClient
    base_url: str

    @property
    def container(self) -> Container:
        """The app's container."""
        container: Container = self.app.state.container
        return container

    async def user(self, role: Role) -> str:
        """A new console user of the role (password ``PASSWORD``)."""
        name = f"{role.value}-{uuid.uuid4().hex[:8]}"
        await create_user(self.container, name, role, PASSWORD)
        return name

    async def bearer(self, scopes: str) -> dict[str, str]:
        """`Authorization` of a new app client with the scopes."""
        creds = await create_client(
            self.container, f"console-test-{uuid.uuid4().hex[:6]}", scopes.split()
        )
        answer = await self.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds.client_id, creds.client_secret),
        )
        assert answer.status_code == 200, answer.text
        return {"authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[Console]:
    """The gateway on the run's PostgreSQL and the test's Redis prefix, served by uvicorn.

    The SLA sweep is slowed down so that no breach recorded in the background changes
    a scorecard between the console's stored one and the API's freshly computed one.
    """
    configured = settings.model_copy(update={"sla_sweep_interval_seconds": 3600})
    app = create_app(configured)
    async with app.router.lifespan_context(app):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = _Server(
            uvicorn.Config(
                app,
                lifespan="off",  # the lifespan runs above, once
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=2,
            )
        )
        serving = asyncio.create_task(server.serve(sockets=[sock]), name="console-uvicorn")
        deadline = asyncio.get_running_loop().time() + 10
        while not server.started:
            assert not serving.done(), "uvicorn did not start"
            assert asyncio.get_running_loop().time() < deadline, "uvicorn did not start in time"
            await asyncio.sleep(0.01)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as h:
                yield Console(app, h, f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            await serving
            sock.close()


@pytest.fixture
async def context(browser: Browser, console: Console) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies) on the console's server."""
    ctx = await browser.new_context(
        base_url=console.base_url,
        accept_downloads=True,
        viewport={"width": 1280, "height": 800},
        locale="zh-CN",
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
def problems() -> list[str]:
    """What went wrong in the browser: script errors, console errors, failed requests."""
    return []


def watch(tab: Page, problems: list[str]) -> Page:
    """Record the tab's script errors, console errors, failed requests and answers that
    are missing (404, but the favicon the console does not have) or broken (5xx)."""
    tab.set_default_timeout(TIMEOUT_MS)
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    tab.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    tab.on(
        "response",
        lambda response: (
            problems.append(f"{response.status}: {response.url}")
            if (response.status == 404 and not response.url.endswith("/favicon.ico"))
            or response.status >= 500
            else None
        ),
    )
    return tab


@pytest.fixture
async def page(context: BrowserContext, problems: list[str]) -> Page:
    """A tab of the fresh profile."""
    return watch(await context.new_page(), problems)


# -- helpers -----------------------------------------------------------------------------


async def shot(page: Page, name: str) -> Path:
    """A full-page screenshot of the page as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def sign_in(page: Page, user: str, password: str = PASSWORD) -> None:
    """Fill the sign-in form (the page must show it) and submit it."""
    await page.fill("#user", user)
    await page.fill("#password", password)
    await page.click("#sign-in")


def _scores(values: list[str | None]) -> tuple[list[float], list[str]]:
    """The cells' scores (present ones) and, in order, what follows the first missing one."""
    present: list[float] = []
    for index, value in enumerate(values):
        if not value:
            return present, [v or "" for v in values[index:]]
        present.append(float(value))
    return present, []


async def _score_column(page: Page) -> list[str | None]:
    cells = page.locator("#scorecards tr[data-partner] td[data-score]")
    return [await cells.nth(i).get_attribute("data-score") for i in range(await cells.count())]


async def _partner_column(page: Page) -> list[str]:
    rows = page.locator("#scorecards tr[data-partner]")
    return [
        await rows.nth(i).get_attribute("data-partner") or "" for i in range(await rows.count())
    ]


def _csv_rows(text: str) -> dict[str, dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    by_partner = {row["partner_id"]: row for row in rows}
    assert len(by_partner) == len(rows), "a partner appears twice"
    return by_partner


# -- a month of sandbox traffic ------------------------------------------------------------

COURTESY_CARS = 6
STARS = {"swiftrent": (5, 5, 4, 5, 4, 5), "meilife": (3, 2, 3), "roadmap": (4,)}


async def seed_month(console: Console) -> dict[str, list[str]]:
    """A month of sandbox traffic: courtesy cars pinned to SwiftRent (gold, never capped),
    coupons redeemed at MeiLife and points exchanged at RoadMap, all answered by the sandboxes'
    webhooks; ratings and a complaint. The orders placed, by partner."""
    app, http = console.app, console.http
    oem = await console.bearer("services:write orders:read")

    async def post(path: str, body: object) -> httpx.Response:
        headers = oem | {"idempotency-key": uuid.uuid4().hex}
        return await http.post(path, json=body, headers=headers)

    for partner in ("swiftrent", "meilife", "roadmap"):
        await configure(app, partner, webhook_delay_s=0.01)
    bodies = [example(Operation.COURTESY_CAR_BOOK, partner_id="swiftrent")] * COURTESY_CARS
    bodies += [example(Operation.LIFESTYLE_REDEEM, partner_id="meilife")] * 3
    bodies += [example(Operation.LIFESTYLE_EXCHANGE_POINTS, partner_id="roadmap")]
    placed: dict[str, list[str]] = {}
    for body in bodies:
        answer = await post("/v1/service-requests", body)
        assert answer.status_code == 201, answer.text
        order = answer.json()
        assert order["partner_id"] == body["partner_id"], order
        placed.setdefault(order["partner_id"], []).append(order["id"])

    async def answered() -> bool:
        """Every SLA clock stopped in time (a courtesy car has two: accepted, delivered)."""
        async with console.container.uow() as uow:
            clocks = {o: await uow.sla.clocks_of(o) for orders in placed.values() for o in orders}
        return all(len(clocks[o]) == 2 for o in placed["swiftrent"]) and all(
            c.status == "met" for found in clocks.values() for c in found
        )

    await wait_for(answered, seconds=20)
    for partner, stars in STARS.items():
        for order_id, given in zip(placed[partner], stars, strict=False):
            answer = await post(f"/v1/orders/{order_id}/rating", {"stars": given})
            assert answer.status_code == 201, answer.text
    complaint = {"category": "billing", "text": "优惠券无法使用，也没有退款"}
    answer = await post(f"/v1/orders/{placed['meilife'][0]}/complaints", complaint)
    assert answer.status_code == 201, answer.text
    return placed


# -- the tests ---------------------------------------------------------------------------


async def test_a_manager_signs_in_reads_the_month_and_signs_out(
    console: Console, page: Page, problems: list[str]
) -> None:
    month = month_of(console.container.clock())
    placed = await seed_month(console)
    # An earlier test (or view) may have stored this month's provisional scorecards.
    await compute_month(console.container, month)
    manager = await console.user(Role.MANAGER)

    # A protected page sends an anonymous visitor to the sign-in form (Chinese by default).
    await page.goto("/console")
    await expect(page).to_have_url(re.compile(r"/console/login\?next=(/|%2F)console$"))
    await expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    await expect(page.locator("h1")).to_have_text("登录")
    await shot(page, "login")
    await sign_in(page, manager)
    await expect(page).to_have_url(f"{console.base_url}/console")
    await expect(page.locator("h1")).to_contain_text(f"本月生态概览 · {month}")
    await expect(page.locator("header .who")).to_contain_text(manager)
    await shot(page, "overview")

    # The month's scorecards.
    await page.click('nav a[href="/console/scorecards"]')
    await expect(page.locator("h1")).to_have_text(f"评分卡 · {month}")
    await expect(page.locator("#month-state")).to_contain_text("暂定")
    partners = await _partner_column(page)
    assert set(placed) <= set(partners)
    await shot(page, "scorecards")

    # Sorted by partner, then by score (best first), then by score again (worst first).
    await page.click("#sort-partner")
    await expect(page.locator("#sort-partner")).to_contain_text("▼")
    assert await _partner_column(page) == sorted(partners, reverse=True)
    await page.click("#sort-score")
    await expect(page).to_have_url(re.compile(r"sort=score&order=desc"))
    await expect(page.locator("#sort-score")).to_contain_text("▼")
    descending, missing = _scores(await _score_column(page))
    assert len(descending) >= 2 and descending == sorted(descending, reverse=True)
    assert all(not value for value in missing), "a partner without a score sorts last"
    await shot(page, "scorecards-score-desc")
    await page.click("#sort-score")
    await expect(page).to_have_url(re.compile(r"sort=score&order=asc"))
    await expect(page.locator("#sort-score")).to_contain_text("▲")
    await expect(page.locator('th[aria-sort="ascending"] #sort-score')).to_have_count(1)
    ascending, missing = _scores(await _score_column(page))
    assert ascending == sorted(descending) and all(not value for value in missing)
    await shot(page, "scorecards-score-asc")

    # The CSV is the API's table: the same partners with the same scores.
    async with page.expect_download() as info:
        await page.click("#download-csv")
    download = await info.value
    assert download.suggested_filename == f"scorecards-{month}.csv"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await download.save_as(ARTIFACTS / download.suggested_filename)
    downloaded = (ARTIFACTS / download.suggested_filename).read_text(encoding="utf-8")
    reader = await console.bearer("scorecards:read")
    api = await console.http.get(
        "/v1/scorecards", params={"month": month}, headers=reader | {"accept": "text/csv"}
    )
    assert api.status_code == 200 and api.headers["content-type"].startswith("text/csv")
    from_console, from_api = _csv_rows(downloaded), _csv_rows(api.text)
    assert downloaded.splitlines()[0] == api.text.splitlines()[0], "the same columns"
    assert set(from_console) == set(from_api) == set(partners)
    for partner, row in from_api.items():
        mine = from_console[partner]
        for column in ("month", "category", "score", "orders", "ratings", "rating_average"):
            assert mine[column] == row[column], (partner, column, mine[column], row[column])
    # Other tests of the run may have placed orders this month too: at least ours count.
    for partner, orders in placed.items():
        assert int(from_api[partner]["orders"]) >= len(orders), partner
        assert int(from_api[partner]["ratings"]) >= len(STARS[partner]), partner
    # The CSV has the table's rows in the table's order, and the page shows its scores.
    assert list(from_console) == await _partner_column(page)
    for partner in placed:
        cell = page.locator(f'#scorecards tr[data-partner="{partner}"] td[data-score]')
        await expect(cell).to_have_attribute("data-score", from_api[partner]["score"])

    # A partner's page: its trend charts, this month a point with its value as a tooltip.
    await page.click('#scorecards tr[data-partner="swiftrent"] a')
    await expect(page).to_have_url(f"{console.base_url}/console/partners/swiftrent")
    await expect(page.locator("h1")).to_contain_text("swiftrent")
    charts = page.locator("#trend-charts")
    for chart_id in ("chart-score", "chart-sla", "chart-rating"):
        # The chart id names the svg's <title> and <desc> (the svg itself has no id).
        chart = charts.locator(f'svg[role="img"]:has(> title#{chart_id}-title)')
        await expect(chart).to_have_count(1)
        await expect(chart).to_have_attribute(
            "aria-labelledby", f"{chart_id}-title {chart_id}-desc"
        )
        await expect(chart.locator(f"desc#{chart_id}-desc")).to_contain_text(month)
    score_chart = charts.locator("svg:has(> title#chart-score-title)")
    await expect(score_chart.locator("> title")).to_have_text("评分")
    await expect(score_chart).to_be_visible()
    points = score_chart.locator("circle.chart-point")
    assert await points.count() >= 1
    box = await score_chart.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 50
    # Formatted as the console does (Babel rounds the decimal: 74.35 is 74.4).
    score = ZH.number(float(from_api["swiftrent"]["score"]), 1)
    await expect(points.last.locator("title")).to_have_text(f"{month}: {score}")
    rating = ZH.number(float(from_api["swiftrent"]["rating_average"]), 2)
    rating_points = charts.locator("svg:has(> title#chart-rating-title) circle.chart-point")
    await expect(rating_points.last.locator("title")).to_have_text(f"{month}: {rating}")
    this_month = page.locator("#trend-table tbody tr").filter(has_text=month)
    await expect(this_month).to_contain_text(score)
    await expect(page.locator("#data-received tbody tr").first).to_be_visible()
    await shot(page, "partner-swiftrent")
    await charts.screenshot(path=str(ARTIFACTS / "partner-swiftrent-charts.png"))

    # English, remembered from page to page.
    await page.click("#lang-en")
    await expect(page).to_have_url(f"{console.base_url}/console/partners/swiftrent")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("nav")).to_contain_text("Scorecards")
    await expect(page.locator("#sign-out")).to_have_text("Sign out")
    await expect(page.locator("#lang-zh")).to_be_visible()
    await expect(score_chart.locator("> title")).to_have_text("Score")
    await shot(page, "partner-swiftrent-en")
    await page.click('nav a[href="/console/scorecards"]')
    await expect(page.locator("h1")).to_have_text(f"Scorecards · {month}")
    await shot(page, "scorecards-en")

    # Signed out, the pages are closed again.
    await page.click("#sign-out")
    await expect(page).to_have_url(f"{console.base_url}/console/login")
    await expect(page.locator("#sign-in")).to_have_text("Sign in")
    assert SESSION_COOKIE not in {c["name"] for c in await page.context.cookies()}
    await page.goto("/console/scorecards")
    await expect(page).to_have_url(
        re.compile(r"/console/login\?next=(/|%2F)console(/|%2F)scorecards$")
    )
    await expect(page.locator("#user")).to_be_visible()
    await shot(page, "signed-out")
    assert problems == []


async def test_a_wrong_password_is_refused(
    console: Console, page: Page, problems: list[str]
) -> None:
    manager = await console.user(Role.MANAGER)
    await page.goto("/console/login")
    await shot(page, "login-form")
    await page.fill("#user", manager)
    await page.fill("#password", "not the password")
    async with page.expect_response(
        lambda r: r.url.endswith("/console/login") and r.request.method == "POST"
    ) as answer:
        await page.click("#sign-in")
    assert (await answer.value).status == 401
    await expect(page.get_by_role("alert")).to_have_text("用户名或密码错误，或账户已锁定。")
    await expect(page.locator("#user")).to_have_value(manager)
    await expect(page.locator("#password")).to_have_value("")
    await expect(page.locator("nav")).to_have_count(0)
    assert SESSION_COOKIE not in {c["name"] for c in await page.context.cookies()}
    await shot(page, "login-refused")

    # Still closed; the right password then works from the same form.
    await page.goto("/console/scorecards")
    await expect(page).to_have_url(re.compile(r"/console/login\?next="))
    await sign_in(page, manager)
    await expect(page).to_have_url(f"{console.base_url}/console/scorecards")
    assert problems == []


async def test_a_manager_cannot_see_the_admin_actions(
    console: Console, page: Page, browser: Browser, problems: list[str]
) -> None:
    manager = await console.user(Role.MANAGER)
    await page.goto("/console/login")
    await sign_in(page, manager)
    await expect(page.locator("h1")).to_contain_text("本月生态概览")
    nav = page.locator("nav")
    await expect(nav.locator("a")).to_have_count(3)
    await expect(nav.locator('a[href="/console/admin"]')).to_have_count(0)
    await expect(nav).not_to_contain_text("管理")

    async with page.expect_response(lambda r: r.url.endswith("/console/admin")) as answer:
        await page.goto("/console/admin")
    assert (await answer.value).status == 403
    await expect(page.get_by_role("alert")).to_have_text("仅管理员可执行此操作。")
    await expect(page.locator("#close-form")).to_have_count(0)
    await expect(page.locator("#credentials")).to_have_count(0)
    await shot(page, "admin-forbidden-manager")

    # Nor may a manager's session post the admin forms (with its valid CSRF token); no
    # `confirm` and an unknown action, so nothing could change if the role were ignored.
    csrf = page.locator('form[action="/console/logout"] input[name="csrf_token"]')
    token = await csrf.get_attribute("value")
    assert token
    close = await page.request.post(
        "/console/admin/close", form={"month": "2026-10", "csrf_token": token}
    )
    assert close.status == 403, await close.text()
    rotate = await page.request.post(
        "/console/admin/partners/swiftrent/credentials/none", form={"csrf_token": token}
    )
    assert rotate.status == 403, await rotate.text()
    assert problems == []

    # An admin sees the admin page: the month close and the credentials of every partner.
    admin = await console.user(Role.ADMIN)
    context = await browser.new_context(base_url=console.base_url)
    try:
        tab = watch(await context.new_page(), problems)
        await tab.goto("/console/login")
        await sign_in(tab, admin)
        await expect(tab.locator("h1")).to_contain_text("本月生态概览")
        await tab.click('nav a[href="/console/admin"]')
        await expect(tab).to_have_url(f"{console.base_url}/console/admin")
        await expect(tab.locator("#close-form")).to_be_visible()
        await expect(tab.locator("#close-month")).to_have_value(
            previous_month(month_of(console.container.clock()))
        )
        rows = tab.locator("#credentials tbody tr")
        await expect(rows).to_have_count(len(console.container.registry))
        await expect(tab.locator("#rotate-swiftrent")).to_be_visible()
        await shot(tab, "admin")
    finally:
        await context.close()
    assert problems == []
