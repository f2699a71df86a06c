"""Structured JSON logs with bound ids, and the processor that keeps secrets out of them.

Every log line passes `redact_personal_data`: a field whose *name* says it is a
secret or personal (token, password, phone, national_id, ...) loses its value,
and any string that *looks* personal or secret (a mainland mobile number, an
18-digit resident ID, a bank card, an e-mail address, a JWT, a bearer token, a
`whsec_` webhook secret, a masking token `tok_...`, a mainland plate) is
masked wherever it appears, including inside
exception text and nested structures.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from functools import lru_cache
from typing import Any

import orjson
import structlog
from pydantic import BaseModel

from contracts import REQUEST_MODELS, DataClass, RepairOrderNotice, sensitivity_map

__all__ = ["REDACTED", "configure_logging", "get_logger", "redact_personal_data", "redact_value"]

REDACTED = "[REDACTED]"

_SECRET_KEY = re.compile(
    r"(?i)(pass(word|wd)?|secret|token|authori[sz]ation|api[_-]?key|cookie|credential"
    r"|signature|private[_-]?key|session|national[_-]?id|id[_-]?(number|card|no)|phone|mobile"
    r"|e[_-]?mail|bank[_-]?card|card[_-]?number|full[_-]?name|real[_-]?name|customer[_-]?name"
    r"|contact[_-]?name|birth|address|plate|latitude|longitude|gps)"
)

# One alternation, tried left to right at each position: the longest, most
# specific shapes first so a bank card is not half-matched as a phone number.
# Digit runs must not touch ASCII letters or digits, so hex ids (uuids, request
# ids, webhook ids) are never mistaken for numbers; Chinese text around a
# number does not protect it.
_VALUE_PATTERN = re.compile(
    r"(?P<jwt>eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*)"
    r"|(?P<bearer>(?i:\bbearer\s+)[A-Za-z0-9._~+/=-]{8,})"
    r"|(?P<basic>(?i:\bbasic\s+)[A-Za-z0-9+/=]{8,})"
    r"|(?P<webhook_secret>whsec_[A-Za-z0-9+/=]{8,})"
    r"|(?P<national_id>(?<![0-9A-Za-z])[1-9][0-9]{5}(?:18|19|20)[0-9]{9}[0-9Xx](?![0-9A-Za-z]))"
    r"|(?P<bank_card>(?<![0-9A-Za-z])[3-6][0-9]{15,18}(?![0-9A-Za-z]))"
    r"|(?P<phone>(?<![0-9A-Za-z])(?:\+?86[- ]?)?1[3-9][0-9]{9}(?![0-9A-Za-z]))"
    r"|(?P<email>[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})"
    r"|(?P<token>tok_[a-z0-9]{1,8}_[A-Za-z0-9_-]{16,})"
    r"|(?P<plate>[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]"
    r"[A-HJ-NP-Z][A-HJ-NP-Z0-9]{5,6}(?![0-9A-Za-z]))"
)


def _sensitive_field_names() -> frozenset[str]:
    """Leaf names of every field the contracts class as sensitive (the masking classifier)."""
    names: set[str] = set()
    models: list[type[BaseModel]] = [*REQUEST_MODELS.values(), RepairOrderNotice]
    for model in models:
        for path, marker in sensitivity_map(model).items():
            if marker.data_class is DataClass.SENSITIVE:
                names.add(path.rsplit(".", 1)[-1].removesuffix("[]"))
    return frozenset(names)


# A log field named like a sensitive contract field ("phone", "national_id",
# "lat", "notes", ...) is redacted by name, as the masking policy would drop it.
_SENSITIVE_FIELDS = _sensitive_field_names()

# Keys the logging pipeline itself produces: never redacted by name; level,
# timestamp, logger and environment are not scanned for values either.
_STRUCTURAL_KEYS = frozenset({"event", "level", "timestamp", "logger", "environment"})
_UNSCANNED_KEYS = frozenset({"level", "timestamp", "logger", "environment"})


def _mask(match: re.Match[str]) -> str:
    return f"[REDACTED:{match.lastgroup}]"


@lru_cache(maxsize=4096)
def _is_secret_key(key: str) -> bool:
    if key in _STRUCTURAL_KEYS:
        return False
    return key in _SENSITIVE_FIELDS or _SECRET_KEY.search(key) is not None


def redact_value(value: Any) -> Any:
    """Mask every personal-looking or secret-looking substring inside `value`."""
    if isinstance(value, str):
        return _VALUE_PATTERN.sub(_mask, value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {k: _redact_item(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return redact_value(bytes(value).decode("utf-8", "replace"))
    return redact_value(str(value))


def _redact_item(key: str, value: Any) -> Any:
    # Booleans and None never carry a secret; keep them so `signature_valid=false` stays useful.
    if value is None or value == "" or isinstance(value, bool):
        return value
    if _is_secret_key(key):
        return REDACTED
    return redact_value(value)


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: drop secret fields by name and mask personal values anywhere."""
    for key, value in event_dict.items():
        if key not in _UNSCANNED_KEYS:
            event_dict[key] = _redact_item(key, value)
    return event_dict


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode()


class _StdoutLogger:
    """Writes each rendered line to whatever `sys.stdout` is at that moment.

    structlog's BytesLogger keeps the stream it was built with; CLIs and test
    runners swap `sys.stdout`, and a logger left holding a closed stream would
    turn every later log call into an exception.
    """

    def msg(self, message: bytes | str) -> None:
        """Write one line and flush it, so a crash loses no log line."""
        stream = sys.stdout
        buffer = getattr(stream, "buffer", None)
        if isinstance(message, bytes) and buffer is not None:
            buffer.write(message + b"\n")
            buffer.flush()
        else:
            text = message.decode() if isinstance(message, bytes) else message
            stream.write(text + "\n")
            stream.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _stdout_logger_factory(*_args: Any) -> _StdoutLogger:
    return _StdoutLogger()


_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure_logging(*, level: str = "info", json: bool = True, environment: str = "") -> None:
    """Configure structlog (our events) and route stdlib logging (uvicorn, alembic) through it.

    The gateway's own events take structlog's native path (a level-filtering
    logger writing orjson bytes straight to stdout): the access log runs on
    every request, so it must not pay for the stdlib logging machinery.
    """
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact_personal_data,
    ]
    if environment:
        shared.insert(1, _bind_environment(environment))
    if json:
        native_renderer: Any = structlog.processors.JSONRenderer(serializer=orjson.dumps)
        stdlib_renderer: Any = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
    else:
        native_renderer = stdlib_renderer = structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[_name_as_logger, *shared, native_renderer],
        logger_factory=_stdout_logger_factory,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, stdlib_renderer],
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
    # One line per partner call from the HTTP client repeats what the partner-call
    # metrics and the dispatch events already say; keep its warnings only.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
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
    # `logger` itself cannot be an initial value (it names wrap_logger's first
    # parameter); `_name_as_logger` renames the key when the event is rendered.
    return structlog.get_logger(logger_name=name)


def _name_as_logger(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    name = event_dict.pop("logger_name", None)
    if name is not None:
        event_dict["logger"] = name
    return event_dict
