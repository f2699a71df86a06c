"""Pre-generated request files that the load generators replay, each request sent once.

A file is plain text, one line each:

    POST /v1/partners/citycar/events                    method and path
    authorization: Bearer ...<TAB>content-type: ...     headers common to every request
    webhook-id: msg_1<TAB>...<TAB>{"event_id": ...}     one request: its own headers, then its body

Header values and bodies must not contain tabs or line breaks (compact JSON does not).
Both generators send the requests in file order, each connection taking the next unused
one; when the file runs out they start again from the top and count those requests as
`wrapped`, so a benchmark can tell replays from first deliveries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Replayed", "RequestFile", "read_request_file", "write_request_file"]

_FORBIDDEN = ("\t", "\n", "\r")


@dataclass(frozen=True)
class RequestFile:
    """A request file on disk and how many requests it holds."""

    path: Path
    count: int


@dataclass(frozen=True)
class Replayed:
    """One request of a file, ready to send."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def _check(text: str, what: str) -> str:
    if any(c in text for c in _FORBIDDEN):
        raise ValueError(f"{what} contains a tab or a line break: {text[:60]!r}")
    return text


def _header_fields(headers: Mapping[str, str]) -> list[str]:
    return [_check(f"{name}: {value}", "header") for name, value in headers.items()]


def write_request_file(
    path: Path,
    *,
    method: str,
    target: str,
    common_headers: Mapping[str, str],
    requests: Iterable[tuple[Mapping[str, str], bytes]],
) -> RequestFile:
    """Write `requests` (own headers, body) to `path`; every request gets `common_headers`."""
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(_check(f"{method} {target}", "request line") + "\n")
        out.write("\t".join(_header_fields(common_headers)) + "\n")
        for headers, body in requests:
            fields = [*_header_fields(headers), _check(body.decode(), "body")]
            out.write("\t".join(fields) + "\n")
            count += 1
    if count == 0:
        raise ValueError("a request file needs at least one request")
    return RequestFile(path, count)


def _parse_headers(fields: Iterable[str]) -> dict[str, str]:
    headers = {}
    for field in fields:
        name, _, value = field.partition(": ")
        headers[name] = value
    return headers


def read_request_file(path: Path) -> list[Replayed]:
    """Every request of a file written by `write_request_file`, in order."""
    lines = path.read_text(encoding="utf-8").split("\n")
    method, _, target = lines[0].partition(" ")
    common = _parse_headers(f for f in lines[1].split("\t") if f)
    requests = []
    for line in lines[2:]:
        if not line:
            continue
        *fields, body = line.split("\t")
        requests.append(
            Replayed(method, target, {**common, **_parse_headers(fields)}, body.encode())
        )
    return requests
