"""GET /api/docs: Swagger UI from files installed with the station, never from a CDN.

A station often has no internet; the UI's JS/CSS come from the `fastapi-offline` package (it ships
the Swagger UI distribution) and are served under /api/docs/static/.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/api/docs"
STATIC_PATH = f"{DOCS_PATH}/static"
ASSETS = Path(str(files("fastapi_offline") / "static"))

# Swagger UI's spec validator badge would fetch an image from the internet: switched off.
SWAGGER_PARAMETERS = {"validatorUrl": None}


def install(app: FastAPI) -> None:
    """Serve the assets and the page that loads them."""
    app.mount(STATIC_PATH, StaticFiles(directory=ASSETS), name="docs-static")
    openapi_url = app.openapi_url or "/api/openapi.json"

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} – Swagger UI",
            swagger_js_url=f"{STATIC_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PATH}/favicon.png",
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )
