"""Structured JSON logs with bound ids, and the processor that keeps secrets out of them.

Every log line passes `redact_personal_data`: a field whose *name* says it is a
secret or personal (token, password, phone, national_id, ...) loses its value,
and any string that *looks* personal or secret (a mainland mobile number, an
18-digit resident ID, a bank card, an e-mail address, a JWT, a bearer token, a
`whsec_` webhook secret) is masked wherever it appears, including inside
exception text and nested structures.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import orjson
import structlog

__all__ = ["REDACTED", "configure_logging", "get_logger", "redact_personal_data", "redact_value"]

REDACTED = "[REDACTED]"

_SECRET_KEY = re.compile(
    r"(?i)(pass(word|wd)?|secret|token|authori[sz]ation|api[_-]?key|cookie|credential"
    r"|signature|private[_-]?key|session|national[_-]?id|id[_-]?(number|card|no)|phone|mobile"
    r"|e[_-]?mail|bank[_-]?card|card[_-]?number|full[_-]?name|real[_-]?name|customer[_-]?name"
    r"|contact[_-]?name|birth|address|plate|latitude|longitude|gps)"
)

# Order matters: the longest, most specific shapes first so a bank card is not
# half-matched as a phone number.
_VALUE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("jwt", re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")),
    ("bearer", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}")),
    ("basic", re.compile(r"(?i)\bbasic\s+[A-Za-z0-9+/=]{8,}")),
    ("webhook_secret", re.compile(r"whsec_[A-Za-z0-9+/=]{8,}")),
    ("national_id", re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{9}[0-9Xx](?![0-9])")),
    ("bank_card", re.compile(r"(?<![0-9])[3-6][0-9]{15,18}(?![0-9])")),
    ("phone", re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9]{9}(?![0-9])")),
    ("email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")),
)

# Keys structlog itself produces; never redacted by name.
_STRUCTURAL_KEYS = frozenset({"event", "level", "timestamp", "logger", "request_id"})


def redact_value(value: Any) -> Any:
    """Mask every personal-looking or secret-looking substring inside `value`."""
    if isinstance(value, str):
        for label, pattern in _VALUE_PATTERNS:
            if pattern.search(value):
                value = pattern.sub(f"[REDACTED:{label}]", value)
        return value
    if isinstance(value, Mapping):
        return {k: _redact_item(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return redact_value(bytes(value).decode("utf-8", "replace"))
    return value


def _redact_item(key: str, value: Any) -> Any:
    # Booleans and None never carry a secret; keep them so `signature_valid=false` stays useful.
    if isinstance(value, bool) or value is None or value == "":
        return value
    if key not in _STRUCTURAL_KEYS and _SECRET_KEY.search(key):
        return REDACTED
    return redact_value(value)


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: drop secret fields by name and mask personal values anywhere."""
    for key in list(event_dict):
        event_dict[key] = _redact_item(key, event_dict[key])
    return event_dict


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode()


def configure_logging(*, level: str = "info", json: bool = True, environment: str = "") -> None:
    """Configure structlog and route stdlib logging (uvicorn, alembic) through it."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact_personal_data,
    ]
    if environment:
        shared.insert(1, _bind_environment(environment))
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # Alembic announces its context on every revision lookup (each /readyz); the
    # gateway logs `database.migrated` itself.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)


def _bind_environment(environment: str) -> Any:
    def processor(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event_dict.setdefault("environment", environment)
        return event_dict

    return processor


def get_logger(name: str) -> Any:
    """A structlog logger; bind ids (`partner_id`, `order_id`) rather than formatting them in."""
    return structlog.stdlib.get_logger(name)
