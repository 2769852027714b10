"""`create_app()`: the FastAPI application, and `serve()` to run it on loopback."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import docs, errors
from api.fastpath import BallotFastPath
from api.headers import SecurityHeaders
from api.limits import Quotas, RequireJson
from api.routers import (
    audit,
    auth,
    ballots,
    budget,
    chain,
    communities,
    community_settings,
    elections,
    fund,
    initiatives,
    joins,
    members,
    paper,
    poll,
    proposals,
    proxies,
    ratings,
    relay,
    rotation,
    secret,
    timebank,
)
from api.server import protocol_for
from api.services.container import Services
from ledger.config import Settings
from ledger.operator_keys import with_keystore_relayer

WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = services is None
        svc = services or Services.build(settings)
        app.state.services = svc
        if own:
            svc.start()
            # What start-up built (ABIs, web3, the rolls) lives as long as the process: frozen,
            # a full collection no longer walks it (it took ~100 ms under load, stalling every
            # request in flight).
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if own:
                svc.stop()

    app = FastAPI(
        title="Commons Ledger",
        version="0.1.0",
        description=(
            "Council votes, community fund and time bank on an Ethereum chain. Every state change "
            "is signed by the person who takes it (EIP-712); this service only relays and pays "
            "gas. Errors are JSON `{code, detail}`; a contract's custom error name is the code."
        ),
        lifespan=lifespan,
        # Served by api/docs.py from a pinned package, not FastAPI's CDN.
        docs_url=None,
        redoc_url=None,
        # No OpenTelemetry here; off, it is not asked for a provider on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    errors.install(app)
    app.state.quotas = Quotas(settings)

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequireJson)
    app.add_middleware(SecurityHeaders)
    # Added after those, so outside BodyLimit: it takes only bodies whose length is declared and
    # within the limit, and hands anything else (and any ballot it does not acknowledge) to the
    # app. It sets its own response's security headers (api/headers.py `api_headers`).
    app.add_middleware(BallotFastPath, max_bytes=settings.max_body_bytes)
    if settings.trusted_proxies:
        # Outermost: from a trusted proxy's peer address only, the client and the scheme are
        # taken from X-Forwarded-For/-Proto, for everything inside (quotas key on the client,
        # HSTS on the scheme). Anyone else's forwarded headers change nothing.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    for module in (chain, auth, relay, ballots, proposals, communities, fund, timebank, audit):
        app.include_router(module.router, prefix="/v1")
    app.include_router(rotation.router, prefix="/v1")
    app.include_router(joins.router, prefix="/v1")
    app.include_router(members.router, prefix="/v1")
    app.include_router(community_settings.router, prefix="/v1")
    app.include_router(elections.router, prefix="/v1")
    app.include_router(initiatives.router, prefix="/v1")
    app.include_router(ratings.router, prefix="/v1")
    app.include_router(budget.router, prefix="/v1")
    app.include_router(proxies.router, prefix="/v1")
    app.include_router(poll.router, prefix="/v1")
    app.include_router(paper.router, prefix="/v1")
    app.include_router(secret.router, prefix="/v1")
    app.include_router(chain.health_router)
    errors.document_errors(app)
    docs.install(app, settings.project_root)
    if WEB_DIST.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIST, html=True), name="web")
    return app


class BodyLimit:
    """Refuse bodies over `max_bytes`: by their Content-Length before anything reads them, and
    by counting what arrives, for a body sent chunked without a length (a plain ASGI middleware:
    starlette's BaseHTTPMiddleware costs a task per request)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"bodies are limited to {self.max_bytes} bytes"
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await errors.error_response(413, "BodyTooLarge", detail)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised where the route reads its body: FastAPI passes HTTPExceptions on
                    # to the handlers in api/errors.py (413 BodyTooLarge).
                    raise StarletteHTTPException(413, detail)
            return message

        await self.app(scope, limited, send)


def serve(settings: Settings | None = None) -> None:
    import uvicorn

    settings = with_keystore_relayer(settings or Settings())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Each RPC call of an audit would be logged with the node's whole URL (httpx logs requests
    # at INFO), and a provider's URL often carries its key.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        access_log=False,
        # Forwarded headers are read by the app itself, from COMMONS_TRUSTED_PROXIES only.
        proxy_headers=False,
        # Head limits, the read deadline, idle connections, JSON 400s (api/server.py).
        http=protocol_for(settings),
        timeout_keep_alive=max(1, round(settings.idle_timeout_s)),
    )
