"""`create_app()`: the FastAPI application, and `serve()` to run it on loopback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from api import errors
from api.routers import auth, ballots, chain, communities, fund, proposals, relay, timebank
from api.services import Services
from ledger.config import Settings

STATIC_DIR = Path(__file__).parent / "static"
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
    )
    errors.install(app)

    @app.middleware("http")
    async def limit_body(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes):
            return errors._json(
                413, "BodyTooLarge", f"bodies are limited to {settings.max_body_bytes} bytes"
            )
        return await call_next(request)

    for module in (chain, auth, relay, ballots, proposals, communities, fund, timebank):
        app.include_router(module.router, prefix="/v1")
    app.include_router(chain.health_router)
    if WEB_DIST.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIST, html=True), name="web")
    return app


def serve(settings: Settings | None = None) -> None:
    import uvicorn

    settings = settings or Settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        access_log=False,
    )
