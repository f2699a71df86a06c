"""The console's pages at ``/console``: server-rendered HTML that works without JavaScript.

Every page needs a signed-in user (else a redirect to the sign-in page);
every form carries the session's CSRF token; the admin actions need the
admin role. Pages read through the services the API uses (scorecards,
statements, the registry, the masking policy).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates

from contracts import PartnerTier, ServiceCategory
from gateway.bootstrap import Container
from gateway.console import charts
from gateway.console.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    BadCredentials,
    ConsoleSession,
    authenticate,
    check_csrf,
    end_session,
    load_session,
    start_session,
)
from gateway.console.i18n import LANG_COOKIE, LANGUAGES, Locale, locale_for
from gateway.console.pages import (
    SORT_KEYS,
    month_scorecards,
    month_statements,
    overview,
    partner_detail,
    slowest_p95,
    sort_scorecards,
)
from gateway.ledger import close_settlement_month, statement_csv, statement_of
from gateway.ledger.schemas import LedgerEntry
from gateway.oauth.credentials import (
    CredentialsError,
    create_partner_credentials,
    revoke_partner_credentials,
    rotate_partner_credentials,
)
from gateway.problems import Problem
from gateway.registry import UnknownPartner
from gateway.scorecards import compute_month
from gateway.scorecards.months import month_of, parse_month, previous_month
from gateway.scorecards.schemas import Scorecard, scorecards_csv

__all__ = ["router", "templates"]

router = APIRouter(prefix="/console", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals["line_chart"] = charts.line_chart
templates.env.globals["Point"] = charts.Point


def plan_terms(plan: Any, locale: Locale) -> str:
    """A commission plan's parameters in words, money formatted for the locale."""
    parts = []
    for name, value in plan.model_dump(mode="json").items():
        if name == "kind" or value is None:
            continue
        if isinstance(value, dict) and {"amount", "currency"} <= value.keys():
            value = locale.money(value["amount"], value["currency"])
        parts.append(f"{name} {value}")
    return f"{plan.kind}: " + ", ".join(parts)


templates.env.globals["plan_terms"] = plan_terms

_ENTRY_ROWS: Final = 500
"""Entries shown on a statement page; the CSV has them all."""
_NO_STORE: Final = {"cache-control": "no-store"}


@dataclass
class Page:
    """What every page template gets."""

    request: Request
    container: Container
    locale: Locale
    session: ConsoleSession | None

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        """The template rendered with the page's context."""
        return templates.TemplateResponse(
            self.request,
            template,
            {
                "L": self.locale,
                "session": self.session,
                "path": self.request.url.path,
                "query": self.request.url.query,
                "tiers": list(PartnerTier),
                "categories": list(ServiceCategory),
                **values,
            },
            status_code=status,
            headers=_NO_STORE,
        )


async def _page(request: Request) -> Page:
    container: Container = request.app.state.container
    lang = request.cookies.get(LANG_COOKIE)
    session = await load_session(container, request.cookies.get(SESSION_COOKIE))
    return Page(request, container, locale_for(lang), session)


PageDep = Annotated[Page, Depends(_page)]


class _SignIn(Exception):
    """The page needs a signed-in user."""

    def __init__(self, target: str, expired: bool) -> None:
        self.target = target
        self.expired = expired


def _signed_in(page: Page) -> ConsoleSession:
    if page.session is None:
        target = page.request.url.path + (
            f"?{page.request.url.query}" if page.request.url.query else ""
        )
        raise _SignIn(target, SESSION_COOKIE in page.request.cookies)
    return page.session


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/console") or "//" in target or "\\" in target:
        return "/console"
    return target


def _sign_in_redirect(exc: _SignIn) -> RedirectResponse:
    where = f"/console/login?next={quote(exc.target)}" + ("&expired=1" if exc.expired else "")
    response = RedirectResponse(where, status_code=303)
    if exc.expired:
        response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


def install(app: Any) -> None:
    """Add the console's routes, static files and the sign-in redirect to ``app``."""
    from fastapi.staticfiles import StaticFiles

    app.include_router(router)
    app.mount(
        "/console/static",
        StaticFiles(directory=str(Path(__file__).parent / "static")),
        name="console-static",
    )

    async def _redirect(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _SignIn)
        return _sign_in_redirect(exc)

    app.add_exception_handler(_SignIn, _redirect)
    app.add_exception_handler(_PageProblem, _page_problem)


def _secure(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    return proto.split(",")[0].strip() == "https"


def _set_csrf_cookie(response: Response, token: str, request: Request) -> None:
    """The sign-in form's double-submit CSRF cookie."""
    response.set_cookie(
        CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/console",
    )


def _forbidden(page: Page, key: str) -> HTMLResponse:
    return page.render("message.html", status=403, message=page.locale.t(key))


def _csrf_ok(page: Page, token: str | None) -> bool:
    return page.session is not None and check_csrf(page.session.csrf, token)


# -- sign-in ---------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    page: PageDep, next: str | None = None, expired: str | None = None
) -> HTMLResponse:
    """The sign-in form with a double-submit CSRF token."""
    token = secrets.token_urlsafe(32)
    response = page.render(
        "login.html",
        next=_safe_next(next),
        csrf=token,
        error=page.locale.t("signin.expired") if expired else None,
    )
    _set_csrf_cookie(response, token, page.request)
    return response


@router.post("/login", response_model=None)
async def login(
    page: PageDep,
    user: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/console",
) -> Response:
    """Check the password; on success start a session and go where the user was going."""
    if not check_csrf(page.request.cookies.get(CSRF_COOKIE), csrf_token):
        return _forbidden(page, "csrf.refused")
    try:
        role = await authenticate(page.container, user.strip().lower(), password)
    except BadCredentials:
        token = secrets.token_urlsafe(32)
        response: Response = page.render(
            "login.html",
            status=401,
            next=_safe_next(next),
            csrf=token,
            error=page.locale.t("signin.refused"),
            user=user,
        )
        _set_csrf_cookie(response, token, page.request)
        return response
    session_id = await start_session(page.container, user.strip().lower(), role)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=page.container.settings.console_session_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=_secure(page.request),
        path="/console",
    )
    response.delete_cookie(CSRF_COOKIE, path="/console")
    return response


@router.post("/logout", response_model=None)
async def logout(page: PageDep, csrf_token: Annotated[str, Form(max_length=128)] = "") -> Response:
    """End the session."""
    if not _csrf_ok(page, csrf_token):
        return _forbidden(page, "csrf.refused")
    await end_session(page.container, page.request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


@router.get("/lang/{lang}")
async def switch_language(lang: str, next: str | None = None) -> RedirectResponse:
    """Remember the language in a cookie and go back."""
    response = RedirectResponse(_safe_next(next), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", path="/console"
        )
    return response


# -- pages -----------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def overview_page(page: PageDep) -> HTMLResponse:
    """This month's ecosystem at a glance."""
    _signed_in(page)
    return page.render("overview.html", data=await overview(page.container))


class _PageProblem(Exception):
    """A bad value in a page's address: answered with an HTML message page."""

    def __init__(self, page: Page, problem: Problem) -> None:
        self.page = page
        self.problem = problem


async def _page_problem(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _PageProblem)
    return exc.page.render("message.html", status=exc.problem.status, message=exc.problem.detail)


def _parse_month(page: Page, month: str) -> str:
    try:
        return parse_month(month)
    except Problem as problem:
        raise _PageProblem(page, problem) from None


def _month(page: Page, month: str | None) -> str:
    return _parse_month(page, month) if month else month_of(page.container.clock())


def _filtered(cards: list[Scorecard], category: str | None, tier: str | None) -> list[Scorecard]:
    if category:
        cards = [c for c in cards if c.category.value == category]
    if tier:
        cards = [c for c in cards if c.tier_in_force.value == tier]
    return cards


@router.get("/scorecards", response_class=HTMLResponse)
async def scorecards_page(
    page: PageDep,
    month: str | None = None,
    sort: Annotated[str, Query(max_length=16)] = "score",
    order: Annotated[str, Query(max_length=4)] = "desc",
    category: Annotated[str | None, Query(max_length=16)] = None,
    tier: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    """The month's table of every partner, sortable and filterable."""
    _signed_in(page)
    month = _month(page, month)
    sort = sort if sort in SORT_KEYS else "score"
    descending = order != "asc"
    cards = await month_scorecards(page.container, month)
    closed = bool(cards) and not cards[0].provisional
    shown = sort_scorecards(_filtered(cards, category, tier), sort, descending)
    return page.render(
        "scorecards.html",
        month=month,
        months=_months(page),
        cards=shown,
        closed=closed,
        computed_at=max((c.computed_at for c in cards), default=None),
        closed_at=next((c.closed_at for c in cards if c.closed_at), None),
        sort=sort,
        descending=descending,
        category=category or "",
        tier=tier or "",
        slowest_p95=slowest_p95,
        sort_keys=SORT_KEYS,
    )


def _months(page: Page, count: int = 12) -> list[str]:
    months = [month_of(page.container.clock())]
    for _ in range(count - 1):
        months.append(previous_month(months[-1]))
    return months


@router.get("/scorecards.csv")
async def scorecards_csv_download(
    page: PageDep,
    month: str | None = None,
    sort: Annotated[str, Query(max_length=16)] = "score",
    order: Annotated[str, Query(max_length=4)] = "desc",
    category: Annotated[str | None, Query(max_length=16)] = None,
    tier: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """The table as CSV, the same rows as `GET /v1/scorecards` gives."""
    _signed_in(page)
    month = _month(page, month)
    cards = await month_scorecards(page.container, month)
    shown = sort_scorecards(_filtered(cards, category, tier), sort, order != "asc")
    return Response(
        scorecards_csv(shown),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="scorecards-{month}.csv"'},
    )


@router.get("/partners/{partner_id}", response_class=HTMLResponse)
async def partner_page(page: PageDep, partner_id: str) -> HTMLResponse:
    """A partner's agreement, trends, tier history, breaches, complaints and data."""
    _signed_in(page)
    try:
        detail = await partner_detail(page.container, partner_id)
    except UnknownPartner:
        return page.render("message.html", status=404, message=page.locale.t("not_found"))
    return page.render("partner.html", d=detail, month=month_of(page.container.clock()))


@router.get("/settlements", response_class=HTMLResponse)
async def settlements_page(page: PageDep, month: str | None = None) -> HTMLResponse:
    """Every partner's statement totals of a month."""
    _signed_in(page)
    month = _month(page, month)
    closed, statements, computed_at = await month_statements(page.container, month)
    return page.render(
        "settlements.html",
        month=month,
        months=_months(page),
        closed=closed,
        statements=statements,
        computed_at=computed_at,
    )


@router.get("/partners/{partner_id}/settlements/{month}.csv")
async def statement_csv_download(page: PageDep, partner_id: str, month: str) -> Response:
    """The statement's entries as CSV (the API's columns)."""
    _signed_in(page)
    if partner_id not in page.container.registry:
        return page.render("message.html", status=404, message=page.locale.t("not_found"))
    month = _parse_month(page, month)
    return StreamingResponse(
        statement_csv(page.container, partner_id, month),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="statement-{partner_id}-{month}.csv"'
        },
    )


@router.get("/partners/{partner_id}/settlements/{month}", response_class=HTMLResponse)
async def statement_page(page: PageDep, partner_id: str, month: str) -> HTMLResponse:
    """A partner's statement of a month with its entries."""
    _signed_in(page)
    if partner_id not in page.container.registry:
        return page.render("message.html", status=404, message=page.locale.t("not_found"))
    month = _parse_month(page, month)
    statement = await statement_of(page.container, partner_id, month)
    async with page.container.uow() as uow:
        rows = await uow.ledger.page(partner_id=partner_id, month=month, limit=_ENTRY_ROWS)
    return page.render(
        "settlement.html",
        statement=statement,
        entries=[LedgerEntry.from_row(row) for row in rows],
        more=statement.entry_count > len(rows),
    )


# -- admin -----------------------------------------------------------------------------


def _admin_page(page: Page, status: int = 200, **values: Any) -> HTMLResponse:
    return page.render(
        "admin.html",
        status=status,
        partners=page.container.registry.all(),
        close_month=previous_month(month_of(page.container.clock())),
        **values,
    )


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(page: PageDep) -> HTMLResponse:
    """Close a month; rotate or revoke partner credentials (admins only)."""
    session = _signed_in(page)
    if not session.is_admin:
        return _forbidden(page, "admin.forbidden")
    return _admin_page(page)


@router.post("/admin/close", response_class=HTMLResponse)
async def admin_close(
    page: PageDep,
    month: Annotated[str, Form(max_length=7)],
    confirm: Annotated[str | None, Form(max_length=8)] = None,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> HTMLResponse:
    """Close the month's scorecards and statements (each only if not closed yet)."""
    session = _signed_in(page)
    if not _csrf_ok(page, csrf_token):
        return _forbidden(page, "csrf.refused")
    if not session.is_admin:
        return _forbidden(page, "admin.forbidden")
    if confirm != "yes":
        return _admin_page(page, status=422, messages=[page.locale.t("admin.close.confirm")])
    messages: list[str] = []
    try:
        month = parse_month(month)
        for close in (
            lambda: compute_month(page.container, month, close=True, closed_by=session.user),
            lambda: close_settlement_month(page.container, month, closed_by=session.user),
        ):
            try:
                await close()
            except Problem as problem:
                messages.append(problem.detail)
    except Problem as problem:
        return _admin_page(page, status=422, messages=[problem.detail])
    page.request.app.state.tiers.forget()
    messages.insert(0, page.locale.t("admin.close.done", month=month))
    return _admin_page(page, messages=messages)


@router.post("/admin/partners/{partner_id}/credentials/{action}", response_class=HTMLResponse)
async def admin_credentials(
    page: PageDep,
    partner_id: str,
    action: str,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> HTMLResponse:
    """Create, rotate or revoke a partner's credentials; new secrets are shown once."""
    session = _signed_in(page)
    if not _csrf_ok(page, csrf_token):
        return _forbidden(page, "csrf.refused")
    if not session.is_admin:
        return _forbidden(page, "admin.forbidden")
    if partner_id not in page.container.registry or action not in {"create", "rotate", "revoke"}:
        return page.render("message.html", status=404, message=page.locale.t("not_found"))
    try:
        if action == "revoke":
            await revoke_partner_credentials(page.container, partner_id)
            return _admin_page(page, messages=[page.locale.t("admin.revoked", partner=partner_id)])
        issue = create_partner_credentials if action == "create" else rotate_partner_credentials
        issued = await issue(page.container, partner_id)
    except CredentialsError as exc:
        return _admin_page(page, status=409, messages=[str(exc)])
    return page.render("secret.html", issued=issued, partner_id=partner_id)
