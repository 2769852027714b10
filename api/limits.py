"""Per-client quotas and the one content type request bodies may have.

A quota answers 429 with `Retry-After` and says which quota and why (`api/errors.py` maps
`QuotaExceeded`); docs/security.md's "Limits" table lists each with its setting.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from api import errors
from api.errors import QuotaExceeded
from ledger.config import Settings

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# A client key per bucket; past this many the least recently used bucket is dropped (a
# dropped bucket is a full one again: forgetting errs on the client's side, memory stays bounded).
MAX_CLIENTS = 100_000


def client_key(connection: HTTPConnection) -> str:
    """Who a quota counts against: the client's address. That is the socket's peer, unless the
    peer is a trusted proxy (COMMONS_TRUSTED_PROXIES): then uvicorn's ProxyHeadersMiddleware
    (api/main.py) has put the address the proxy names in X-Forwarded-For in its place."""
    client = connection.client
    return client_network(client.host) if client is not None else "unknown"


@functools.lru_cache(maxsize=4096)
def client_network(host: str) -> str:
    """An IPv4 address as it is; an IPv6 address as its /64: a phone or a home is given a whole
    /64 and may send from any address in it, so one address each would be a fresh quota each."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class RateLimit:
    """A token bucket per client: `capacity` units, refilled evenly over `period_s`."""

    def __init__(self, code: str, what: str, capacity: float, period_s: float) -> None:
        self.code = code
        self.what = what
        self.capacity = capacity
        self.rate = capacity / period_s
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, cost: float = 1.0) -> None:
        """Spend `cost` units of `key`'s budget, or raise QuotaExceeded saying when it will do."""
        if cost > self.capacity:
            raise QuotaExceeded(self.code, f"{self.what}: asks for more than the whole quota", 3600)
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens < cost:
                self._buckets[key] = (tokens, now)
                wait = (cost - tokens) / self.rate
                raise QuotaExceeded(
                    self.code, f"{self.what}: quota used up; try again in {math.ceil(wait)} s", wait
                )
            self._buckets[key] = (tokens - cost, now)
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)


class Quotas:
    """The per-client quotas of one app (`app.state.quotas`)."""

    def __init__(self, settings: Settings) -> None:
        self.texts = RateLimit(
            "TextQuotaExceeded", "proposal texts", settings.text_quota_bytes_per_hour, 3600
        )
        self.challenges = RateLimit(
            "ChallengeQuotaExceeded", "sign-in challenges", settings.challenges_per_minute, 60
        )
        self.joins = RateLimit(
            "JoinQuotaExceeded", "join requests", settings.join_requests_per_hour, 3600
        )
        self.join_lookups = RateLimit(
            "JoinLookupQuotaExceeded", "join code lookups", settings.join_lookups_per_minute, 60
        )
        self.names = RateLimit(
            "NameQuotaExceeded", "display name changes", settings.name_changes_per_hour, 3600
        )


def quotas(connection: HTTPConnection) -> Quotas:
    found: Quotas = connection.app.state.quotas
    return found


def is_json(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether the request says its body is JSON: `application/json`, optionally with
    `charset=utf-8` (JSON is UTF-8, RFC 8259). A header check only: the fast path calls it."""
    for name, value in headers:
        if name == b"content-type":
            media, _, params = value.partition(b";")
            if media.strip().lower() != b"application/json":
                return False
            params = params.strip().lower().replace(b" ", b"")
            return params in (b"", b"charset=utf-8", b'charset="utf-8"', b"charset=utf8")
    return False


class RequireJson:
    """Refuse a POST, PUT or PATCH whose body is not declared `application/json` with 415,
    before anything reads it: every body this API takes is JSON, and a form or text body
    must not reach a route that would guess at it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in BODY_METHODS
            and not is_json(scope["headers"])
        ):
            detail = "request bodies are JSON: send Content-Type: application/json"
            response = errors.error_response(415, "UnsupportedMediaType", detail)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
