"""FastAPI application factory; routers are added per feature, errors and docs are installed once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from .. import __version__
from ..ui.routes import install_ui
from . import (
    age_check,
    docs,
    errors,
    health,
    pickup,
    purchases,
    receipts,
    returns,
    staff,
    staff_cards,
    staff_orders,
    staff_printer,
    staff_reports,
    staff_restock,
    staff_users,
    vouchers,
)

if TYPE_CHECKING:
    from ..daemon import Station

DESCRIPTION = """Local API of an unattended pick-up station (touchscreen UI, local tools).

Every error answer is JSON `{"error": "<code>", "message": "<German text>"}` (`ErrorOut`); a request that
does not fit the schema gets 422 `invalid_request` with `detail`, a body that is not JSON 400 `malformed_json`,
an unknown address 404 `not_found`, a wrong method 405 `method_not_allowed`."""


def create_app(station: Station | None) -> FastAPI:
    """The app for `station`; None builds it only to render the OpenAPI document."""
    app = FastAPI(
        title="Station API",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served from local files by docs.install, not from a CDN
        openapi_url="/api/openapi.json",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.station = station
    errors.install(app)
    docs.install(app)
    app.include_router(health.router, prefix="/api")
    app.include_router(purchases.router, prefix="/api")
    app.include_router(returns.router, prefix="/api")
    app.include_router(vouchers.router, prefix="/api")
    app.include_router(receipts.router, prefix="/api")
    app.include_router(staff.router, prefix="/api")
    app.include_router(staff_reports.router, prefix="/api")
    app.include_router(staff_restock.router, prefix="/api")
    app.include_router(staff_orders.router, prefix="/api")
    app.include_router(pickup.router, prefix="/api")
    app.include_router(staff_users.router, prefix="/api")
    app.include_router(staff_cards.router, prefix="/api")
    app.include_router(staff_printer.router, prefix="/api")
    app.include_router(age_check.router, prefix="/api")
    install_ui(app)  # the touchscreen: "/", its static files and its own small API (station/ui)
    return app
