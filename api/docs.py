"""The OpenAPI docs (Swagger UI) served from this server alone.

FastAPI's own /docs page loads Swagger UI from a CDN: a blank page without internet, code from an
unpinned third party on the same origin as the residents' key store. Here its assets come from
the pinned npm package `swagger-ui-dist` (package-lock.json), installed by `make setup`; only the
three files the page uses are served.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from api.errors import ApiError

ASSETS_URL: Final = "/docs-assets"
ASSETS: Final = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


def install(app: FastAPI, project_root: Path) -> None:
    """/docs and its assets, when the package is installed (`make setup`)."""
    directory = project_root / "node_modules" / "swagger-ui-dist"
    if not (directory / "swagger-ui-bundle.js").is_file():
        return
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
        )

    @router.get(ASSETS_URL + "/{name}")
    def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise ApiError(404, "NotFound", f"no docs asset {name!r}")
        return FileResponse(directory / name, media_type=ASSETS[name])

    app.include_router(router)
