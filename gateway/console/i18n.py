"""The console's two languages: Simplified Chinese (default) and English.

Texts live in one catalog keyed by a short name; numbers, money and dates are
formatted by Babel for the locale (CNY with two decimals and thousands
separators), and every date is shown in Asia/Shanghai.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Final

from babel import Locale as BabelLocale
from babel.dates import format_datetime
from babel.numbers import NumberPattern, format_currency, parse_pattern

from gateway.scorecards.months import SHANGHAI

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Locale", "locale_for"]

LANGUAGES: Final = ("zh", "en")
DEFAULT_LANGUAGE: Final = "zh"
LANG_COOKIE: Final = "pgw_lang"
_BABEL: Final = {"zh": "zh_Hans_CN", "en": "en_US"}

_TEXTS: Final[dict[str, tuple[str, str]]] = {
    # key: (zh, en)
    "app": ("合作伙伴网关控制台", "Partner gateway console"),
    "nav.overview": ("概览", "Overview"),
    "nav.scorecards": ("评分卡", "Scorecards"),
    "nav.settlements": ("结算", "Settlements"),
    "nav.admin": ("管理", "Admin"),
    "signin": ("登录", "Sign in"),
    "signout": ("退出", "Sign out"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "user": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "signin.refused": (
        "用户名或密码错误，或账户已锁定。",
        "The name or password is wrong, or the account is locked.",
    ),
    "signin.expired": ("会话已过期，请重新登录。", "Your session has ended; sign in again."),
    "csrf.refused": (
        "表单已失效，请重新提交。",
        "The form has expired; reload the page and submit it again.",
    ),
    "language": ("语言", "Language"),
    "month": ("月份", "Month"),
    "show": ("显示", "Show"),
    "all": ("全部", "All"),
    "category": ("类别", "Category"),
    "tier": ("等级", "Tier"),
    "partner": ("合作伙伴", "Partner"),
    "score": ("评分", "Score"),
    "sla_compliance": ("SLA 达标率", "SLA compliance"),
    "p95": ("P95 时长（最慢条款）", "p95 time (slowest term)"),
    "rating": ("评分均值", "Rating"),
    "complaint_rate": ("投诉率", "Complaint rate"),
    "orders": ("订单数", "Orders"),
    "download_csv": ("下载 CSV", "Download CSV"),
    "provisional": (
        "暂定：本月尚未关账，数据计算于 {at}",
        "Provisional: the month is not closed; computed {at}",
    ),
    "closed": ("已关账：{at}", "Closed {at}"),
    "sort_by": ("排序", "Sort by"),
    "overview.title": ("本月生态概览", "This month's ecosystem"),
    "orders_by_category": ("各类别订单", "Orders by category"),
    "partners_by_tier": ("各等级合作伙伴", "Partners by tier"),
    "breaches_today": ("今日 SLA 违约", "SLA breaches today"),
    "money_each_way": ("双向应收应付", "Money owed each way"),
    "receivable": ("应收（合作伙伴付主机厂）", "Receivable (partner pays the OEM)"),
    "payable": ("应付（主机厂付合作伙伴）", "Payable (the OEM pays the partner)"),
    "net": ("净额", "Net"),
    "retained": ("主机厂留存差价", "Retained by the OEM"),
    "owed_by": ("付款方", "Owed by"),
    "owed_by.partner": ("合作伙伴", "partner"),
    "owed_by.oem": ("主机厂", "OEM"),
    "owed_by.nobody": ("无", "nobody"),
    "agreement": ("协议摘要", "Agreement"),
    "cities": ("城市", "Cities"),
    "sla_terms": ("SLA 条款", "SLA terms"),
    "commission_plans": ("佣金方案", "Commission plans"),
    "data_tier": ("数据等级", "Data tier"),
    "trend": ("近六个月趋势", "Six-month trend"),
    "tier_history": ("等级变更记录", "Tier history"),
    "effective": ("生效月份", "Effective"),
    "reason": ("原因", "Reason"),
    "recent_breaches": ("近期违约", "Recent breaches"),
    "term": ("条款", "Term"),
    "deadline": ("截止时间", "Deadline"),
    "order": ("订单", "Order"),
    "complaints": ("投诉", "Complaints"),
    "created": ("创建时间", "Created"),
    "resolved": ("已解决", "Resolved"),
    "open": ("未解决", "Open"),
    "data_received": ("合作伙伴收到的数据", "What data the partner receives"),
    "field": ("字段", "Field"),
    "class": ("敏感等级", "Class"),
    "operator": ("处理方式", "Operator"),
    "purpose": ("用途", "Purpose"),
    "statement": ("结算单", "Statement"),
    "entries": ("条目", "Entries"),
    "kind": ("类型", "Kind"),
    "direction": ("方向", "Direction"),
    "amount": ("金额", "Amount"),
    "section": ("部分", "Section"),
    "state.draft": ("草稿", "Draft"),
    "as_of": ("计算于 {at}", "as of {at}"),
    "state.closed": ("已关账", "Closed"),
    "none": ("暂无", "None"),
    "admin.close": ("关账（评分卡与结算单）", "Close a month (scorecards and statements)"),
    "admin.close.confirm": (
        "我确认关账后该月评分卡与结算单将被冻结，无法更改",
        "I understand the month's scorecards and statements will be frozen for good",
    ),
    "admin.close.done": ("{month} 已关账。", "{month} is closed."),
    "admin.credentials": ("合作伙伴凭证", "Partner credentials"),
    "admin.rotate": ("轮换", "Rotate"),
    "admin.revoke": ("吊销", "Revoke"),
    "admin.create": ("创建", "Create"),
    "admin.secret_once": (
        "新凭证仅显示这一次，请立即安全转交合作伙伴。",
        "The new secrets are shown this once: hand them to the partner securely now.",
    ),
    "admin.revoked": ("{partner} 的凭证已吊销。", "{partner}'s credentials are revoked."),
    "admin.forbidden": ("仅管理员可执行此操作。", "Only administrators may do this."),
    "not_found": ("未找到。", "Not found."),
    "back": ("返回", "Back"),
    "chart.empty": ("暂无数据", "No data"),
    "tier.gold": ("金牌", "Gold"),
    "tier.silver": ("银牌", "Silver"),
    "tier.bronze": ("铜牌", "Bronze"),
    "tier.yellow_card": ("黄牌", "Yellow card"),
    "tier.terminated": ("已终止", "Terminated"),
    "category.rental": ("代步车租赁", "Rental"),
    "category.insurance": ("保险", "Insurance"),
    "category.charging": ("充电", "Charging"),
    "category.lifestyle": ("生活方式", "Lifestyle"),
}


@cache
def _babel_locale(name: str) -> BabelLocale:
    return BabelLocale.parse(name)


@cache
def _pattern(pattern: str) -> NumberPattern:
    # Parsed once: a page formats thousands of numbers with a handful of patterns.
    return parse_pattern(pattern)


@dataclass(frozen=True, slots=True)
class Locale:
    """Texts and formats of one language."""

    lang: str

    @property
    def babel(self) -> str:
        """Babel's locale name."""
        return _BABEL[self.lang]

    @property
    def html_lang(self) -> str:
        """The page's ``lang`` attribute."""
        return "zh-Hans" if self.lang == "zh" else "en"

    def t(self, key: str, **values: object) -> str:
        """The text of ``key`` in this language, with ``{name}`` placeholders filled."""
        zh, en = _TEXTS.get(key, (key, key))
        text = zh if self.lang == "zh" else en
        return text.format(**values) if values else text

    def money(self, minor: int, currency: str = "CNY") -> str:
        """Minor units as money: ``¥1,234.56`` (zh), ``CN¥1,234.56`` (en)."""
        major = Decimal(minor).scaleb(-2)
        return format_currency(major, currency, locale=_babel_locale(self.babel))

    def number(self, value: float | int | None, digits: int = 0) -> str:
        """A number with the locale's separators; an em dash when missing."""
        if value is None:
            return "—"
        pattern = _pattern("#,##0" + ("." + "0" * digits if digits else ""))
        return str(pattern.apply(value, _babel_locale(self.babel)))

    def percent(self, ratio: float | None, digits: int = 1) -> str:
        """A ratio as a percentage (0.953 -> 95.3%)."""
        if ratio is None:
            return "—"
        pattern = _pattern("#,##0" + ("." + "0" * digits if digits else "") + "%")
        return str(pattern.apply(ratio, _babel_locale(self.babel)))

    def duration(self, ms: float | None) -> str:
        """Milliseconds in the unit that reads best: ``850 ms``, ``12.3 s``, ``4.5 min``."""
        if ms is None:
            return "—"
        if ms < 1000:
            return f"{self.number(ms)} ms"
        if ms < 60_000:
            return f"{self.number(ms / 1000, 1)} s"
        return f"{self.number(ms / 60_000, 1)} min"

    def when(self, moment: datetime | None) -> str:
        """A moment in Asia/Shanghai: ``2026-11-22 18:05``."""
        if moment is None:
            return "—"
        return format_datetime(
            moment.astimezone(SHANGHAI),
            "yyyy-MM-dd HH:mm",
            tzinfo=SHANGHAI,
            locale=_babel_locale(self.babel),
        )


def locale_for(lang: str | None) -> Locale:
    """The locale of a language code, the default for anything else."""
    return Locale(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
