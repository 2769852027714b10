"""Security headers on every response: the page, the JSON API and FastAPI's own docs.

They are set here, not only by the TLS proxy (deploy/nginx/), so that they hold however the API
is reached. Three Content-Security-Policies, chosen by path:

- the page (`/` and its files): what web/dist needs and nothing more: its own scripts, styles
  and API; no inline script, no other origin (web/src/index.html carries the same policy in a
  meta tag, so a copy of the page served elsewhere keeps it);
- the API (`/v1/...`, `/health`, `/openapi.json`): nothing may load at all. The one exception is
  inline style, for the audit report rendered as HTML (`?format=html`), whose stylesheet is a
  `<style>` block; a style cannot run code, and with `default-src 'none'` it cannot fetch;
- the docs (`/docs`, api/docs.py): Swagger UI from this server and one inline script that
  starts it; the policy allows exactly the inline scripts of the page being sent (their
  SHA-256), never `'unsafe-inline'` for scripts, and no other origin.

`Strict-Transport-Security` is sent only when the request came over TLS, which here means a
trusted proxy said so (`X-Forwarded-Proto: https`, read by uvicorn's ProxyHeadersMiddleware
from COMMONS_TRUSTED_PROXIES only): over plain HTTP a browser ignores it anyway.

Headers are appended as constant lists built once; the ballot fast path (api/fastpath.py) puts
`api_headers(scope)` into its own response.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Headers = list[tuple[bytes, bytes]]

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
API_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
# What /docs (Swagger UI, api/docs.py) loads; `{scripts}` are the hashes of the page's own
# inline scripts. Swagger UI sets style attributes as it renders: a style cannot run code.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src blob:; connect-src 'self'; form-action 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HSTS = b"max-age=63072000; includeSubDomains"
COMMON: Headers = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    # The page uses none of these; a script that got in could not ask for them either.
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    # The page holds residents' (encrypted) keys: no window of another site keeps a handle on
    # it, and no other site may load our responses as its own scripts, images or styles.
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
API_PATHS = frozenset({"/health", "/openapi.json"})
DOCS_PATHS = frozenset({"/docs"})
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def _headers(csp: str, tls: bool) -> Headers:
    hsts = [(b"strict-transport-security", HSTS)] if tls else []
    return [(b"content-security-policy", csp.encode()), *COMMON, *hsts]


_API = {False: _headers(API_CSP, False), True: _headers(API_CSP, True)}
_PAGE = {False: _headers(PAGE_CSP, False), True: _headers(PAGE_CSP, True)}


def over_tls(scope: Scope) -> bool:
    return bool(scope.get("scheme") == "https")


def api_headers(scope: Scope) -> Headers:
    """The headers of an API response to this request."""
    return _API[over_tls(scope)]


def docs_policy(html: bytes) -> str:
    """The docs' CSP for this page: its inline scripts allowed by their SHA-256."""
    hashes = "".join(
        " 'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in INLINE_SCRIPT.findall(html)
    )
    return DOCS_CSP.format(scripts=hashes)


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response (a plain ASGI class:
    starlette's BaseHTTPMiddleware costs a task per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in DOCS_PATHS:
            await self.app(scope, receive, _docs_sender(send, over_tls(scope)))
            return
        extra = (_API if path.startswith("/v1/") or path in API_PATHS else _PAGE)[over_tls(scope)]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _docs_sender(send: Send, tls: bool) -> Send:
    """A `send` holding a docs page back until its body is whole, to hash its inline scripts."""
    start: Message = {}
    chunks: list[bytes] = []

    async def buffered(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        extra = _headers(docs_policy(body), tls)
        await send({**start, "headers": [*start.get("headers", ()), *extra]})
        await send({"type": "http.response.body", "body": body})

    return buffered
