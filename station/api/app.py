"""FastAPI application factory; routers are added per feature."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from .. import __version__
from ..ui.routes import install_ui
from . import health, purchases

if TYPE_CHECKING:
    from ..daemon import Station


def create_app(station: Station | None) -> FastAPI:
    """The app for `station`; None builds it only to render the OpenAPI document."""
    app = FastAPI(
        title="Station API",
        version=__version__,
        description="Local API of an unattended pick-up station (touchscreen UI, local tools).",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.station = station
    app.include_router(health.router, prefix="/api")
    app.include_router(purchases.router, prefix="/api")
    install_ui(app)  # the touchscreen: "/", its static files and its own small API (station/ui)
    return app
