"""One error body for every failure of the local API, and the pattern every router follows.

Every answer that is not a success is JSON of one shape, `ErrorOut`:

    {"error": "<machine code>", "message": "<German text a person can read>"}

plus `"detail"` (a list of field errors) when the request did not fit the schema. The exception
handlers installed by `install(app)` make that true for everything, including what FastAPI and
Starlette answer by themselves:

| status | `error`                          | when                                                         |
|--------|----------------------------------|--------------------------------------------------------------|
| 400    | `malformed_json`                 | the body is not JSON at all (syntax error, not UTF-8)        |
| 401    | `not_logged_in`, `wrong_credentials`, … | staff routes: no valid session, or a failed log-in    |
| 403    | `forbidden`, …                   | staff routes: logged in, but the role may not do this        |
| 404    | `not_found`                      | no such route, or the thing asked for does not exist         |
| 405    | `method_not_allowed`             | the route exists, not for this method (`Allow` header set)   |
| 409    | the service's code               | `busy`, `not_available`, `too_late`, `already_redeemed`: not now |
| 422    | `invalid_request` / `invalid`    | the body or a parameter does not fit the schema (`detail`)  |
| 429    | `throttled`, `locked`            | too many failed voucher checks or log-ins (`Retry-After`)    |
| 503    | `unavailable`, `storage_unavailable` | the service is not configured; SQLite is locked, full, failing |
| 500    | `internal_error`                 | a bug: logged with its traceback, never sent to the client   |

How a router uses this (see `purchases.py`):

1. Declare every status the route can answer, so the OpenAPI document tells the truth:
   `@router.post(..., responses=errors.responses(404, 409, 422, 503))`. `responses()` always adds
   500; add 422 whenever the route has a path/query parameter or a body, 400 when it has a body.
   `tests/api/test_errors.py` checks these rules for every route.
2. Fail by raising `ApiError(status, code, message)`; never `HTTPException` with a dict.
3. A service error (an exception with a `.code`, e.g. `PurchaseError`) becomes an answer through
   `ApiError.from_service(exc)`, which looks the code up in `SERVICE_ERRORS`: a new code gets one row
   there, and its status must be in the route's `responses(...)`.
4. Request constraints (lengths, ranges, unique items) go into the pydantic model, so they appear
   in the schema and are checked before the route runs (422 with `detail`). Request models use
   `ConfigDict(extra="forbid", strict=True)` and the field types of `schema.py`, so that what the
   route accepts is exactly what the schema says.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError as SQLAlchemyDBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ..db.engine import StorageUnavailable, is_storage_failure

log = logging.getLogger(__name__)


class FieldError(BaseModel):
    """One place where the request does not fit the schema (pydantic's wording, for developers)."""

    loc: list[str | int] = Field(description="where: 'body', 'path' or 'query', then field names and indexes")
    msg: str
    type: str


class ErrorOut(BaseModel):
    """The body of every error answer."""

    error: str = Field(description="machine-readable code, e.g. 'busy', 'not_found', 'invalid_request'")
    message: str = Field(description="German text that can be shown to a person as it is")
    detail: list[FieldError] | None = Field(
        default=None, description="only for 422 'invalid_request': what does not fit the schema"
    )


class ApiError(Exception):
    """Raise this from a route; the handler turns it into an `ErrorOut` answer with `status`."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers

    @classmethod
    def from_service(cls, exc: Exception) -> ApiError:
        """A service's error (`exc.code`, `str(exc)`) as the answer `SERVICE_ERRORS` says."""
        code = getattr(exc, "code", "") or "internal_error"
        rule = SERVICE_ERRORS.get(code)
        if rule is None:  # a code nobody mapped is a bug here, not the client's fault
            log.error("service error code %r has no row in SERVICE_ERRORS: %s", code, exc)
            return cls(500, "internal_error", INTERNAL_MESSAGE)
        return cls(rule.status, code, rule.text_for(exc))


@dataclass(frozen=True)
class ServiceErrorRule:
    status: int
    message: str  # German default text
    service_text: bool = True  # use the service's own text when it has one (it names the compartment ...)

    def text_for(self, exc: Exception) -> str:
        return (str(exc) if self.service_text else "") or self.message


INTERNAL_MESSAGE = "Interner Fehler der Station – bitte später erneut versuchen"
STORAGE_MESSAGE = "Der Speicher der Station ist gerade nicht beschreibbar – bitte später erneut versuchen"

# Service error code → answer. One row per code any service raises.
SERVICE_ERRORS: dict[str, ServiceErrorRule] = {
    "busy": ServiceErrorRule(409, "Die Station ist gerade beschäftigt – bitte einen Moment warten"),
    "not_available": ServiceErrorRule(409, "Das ist gerade nicht verfügbar"),
    "too_late": ServiceErrorRule(409, "Dafür ist es zu spät – der Vorgang läuft bereits"),
    "already_redeemed": ServiceErrorRule(409, "Dieser Pfandbon wurde bereits eingelöst"),
    "throttled": ServiceErrorRule(429, "Zu viele Versuche – bitte eine Minute warten"),
    "not_found": ServiceErrorRule(404, "Diesen Vorgang gibt es nicht", service_text=False),
    "unknown_voucher": ServiceErrorRule(404, "Diesen Pfandbon kennt die Station nicht"),
    "invalid": ServiceErrorRule(422, "Diese Auswahl ist nicht möglich"),
    "storage_unavailable": ServiceErrorRule(503, STORAGE_MESSAGE, service_text=False),
    "unavailable": ServiceErrorRule(503, "Dieser Dienst ist an der Station gerade nicht verfügbar"),
    # paying by app and goods with a minimum age (station/purchase/apppay.py, age.py)
    "app_unavailable": ServiceErrorRule(409, "Die App kann gerade nicht genutzt werden – bitte mit Karte bezahlen"),
    "age_check_required": ServiceErrorRule(403, "Für diese Waren ist eine Altersprüfung nötig"),
    # volunteers and operators (station/staff, station/restock; routes in staff*.py)
    "not_logged_in": ServiceErrorRule(401, "Bitte zuerst anmelden"),
    "session_expired": ServiceErrorRule(401, "Die Anmeldung ist abgelaufen – bitte erneut anmelden"),
    "wrong_credentials": ServiceErrorRule(401, "Kennnummer oder PIN stimmt nicht"),
    "unknown_badge": ServiceErrorRule(401, "Dieser Ausweis ist nicht freigeschaltet"),
    "wrong_code": ServiceErrorRule(401, "Dieser Freischaltcode ist nicht gültig"),
    "pin_required": ServiceErrorRule(401, "Bitte zusätzlich die PIN eingeben"),
    "badge_required": ServiceErrorRule(401, "Bitte mit Ausweis und PIN anmelden"),
    "forbidden": ServiceErrorRule(403, "Dafür fehlt die Berechtigung"),
    "simulation_only": ServiceErrorRule(403, "Das geht nur an einer simulierten Station"),
    "unknown_keypad": ServiceErrorRule(403, "Diese Eingabestelle ist nicht eingerichtet"),
    "locked": ServiceErrorRule(429, "Die Anmeldung ist gesperrt – bitte den Betreiber anrufen"),
    "no_badge": ServiceErrorRule(409, "Bitte den Ausweis an das Lesegerät halten"),
    "conflict": ServiceErrorRule(409, "Das gibt es schon"),
    "last_operator": ServiceErrorRule(409, "Das letzte Betreiberkonto muss bleiben"),
    "weak_pin": ServiceErrorRule(422, "Diese PIN ist nicht erlaubt"),
    # pick-up of orders and parcels (station/pickup, station/orders; routes in pickup.py, staff_orders.py)
    "unknown_order": ServiceErrorRule(404, "Diese Bestellung kennt die Station nicht"),
    "unknown_compartment": ServiceErrorRule(422, "Dieses Fach gibt es nicht"),
    "order_state": ServiceErrorRule(409, "Das geht mit dieser Bestellung gerade nicht"),
    "expired": ServiceErrorRule(409, "Die Abholfrist ist abgelaufen"),
    "blocked": ServiceErrorRule(409, "Das Fach ist gesperrt – bitte den Betreiber anrufen"),
    "wrong_station": ServiceErrorRule(409, "Dieser Abholcode gehört zu einer anderen Station"),
    "revoked": ServiceErrorRule(409, "Dieser Abholcode wurde zurückgezogen"),
}

# What each status means in the OpenAPI document.
DESCRIPTIONS = {
    400: "The body is not JSON (`malformed_json`).",
    401: "Not logged in, or the log-in failed: `not_logged_in`, `session_expired`, `wrong_credentials`, "
    "`unknown_badge`, `wrong_code` (also a pick-up code that matches no order), `pin_required`, `badge_required`.",
    403: "Logged in, but not allowed: `forbidden` (e.g. an operator's route for a volunteer), "
    "`simulation_only`, `unknown_keypad`; a cart with goods from 16 or 18 and no proof of age before payment: "
    "`age_check_required` (`message` says which proofs count).",
    404: "Not found (`not_found`; a voucher code the station does not know: `unknown_voucher`; an order: "
    "`unknown_order`).",
    409: "Not now: `busy`, `not_available`, `app_unavailable` (paying by app needs the link to the platform; the "
    "card still works), `too_late`, `already_redeemed` (a voucher used before), `no_badge`, "
    "`conflict`, `last_operator`; pick-up: `order_state` (already collected: a code is single-use), `expired`, "
    "`blocked` (cold chain or operator hold), `wrong_station`, `revoked`; `message` says what to do.",
    422: "The request does not fit the schema (`invalid_request`, with `detail`), or the service refused "
    "the choice (`invalid`).",
    429: "Too many failed attempts: voucher checks (`throttled`, locked for a minute), log-ins and pick-up codes "
    "(`throttled`: paused, `Retry-After` gives the seconds left; `locked`: until an operator lifts it); "
    "`message` says so in plain words.",
    503: "The service is not configured at this station (`unavailable`), or the station's storage cannot be "
    "written (`storage_unavailable`); try again later.",
    500: "A bug in the station (`internal_error`); the traceback is in the station's log, not here.",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that can fail with `statuses` (500 is always added)."""
    return {status: {"model": ErrorOut, "description": DESCRIPTIONS[status]} for status in sorted({*statuses, 500})}


def _answer(
    status: int,
    code: str,
    message: str,
    detail: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorOut(error=code, message=message, detail=detail).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


# -- handlers -------------------------------------------------------------------------------------
async def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _answer(exc.status, exc.code, exc.message, headers=exc.headers)


# Starlette's and FastAPI's own HTTP errors (unknown route, wrong method, unparsable body).
_HTTP_CODES = {
    400: ("malformed_json", "Der Inhalt der Anfrage ist kein gültiges JSON"),
    404: ("not_found", "Diese Adresse gibt es an der Station nicht"),
    405: ("method_not_allowed", "Diese Methode ist für diese Adresse nicht erlaubt"),
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, ("http_error", "Die Anfrage kann nicht bearbeitet werden"))
    if exc.status_code >= 500:
        code, message = "internal_error", INTERNAL_MESSAGE
    if exc.status_code in (204, 304) or exc.status_code < 200:  # no body allowed
        return Response(status_code=exc.status_code, headers=exc.headers)
    headers = exc.headers
    if exc.status_code == 405:  # Starlette names only the first route of the path; a path may have several
        headers = {**(exc.headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    return _answer(exc.status_code, code, message, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path (GET and POST on one path are two routes)."""
    found = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            found.append(method)
    return found


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return _answer(400, *_HTTP_CODES[400])
    detail = [
        FieldError(
            loc=[part for part in e.get("loc", ()) if isinstance(part, str | int)],
            msg=str(e.get("msg", "")),
            type=str(e.get("type", "")),
        )
        for e in errors
    ]
    return _answer(422, "invalid_request", "Die Anfrage passt nicht zur Schnittstelle – siehe detail", detail)


async def _database_error(request: Request, exc: Exception) -> Response:
    if is_storage_failure(exc):
        log.error("storage unavailable on %s %s: %s", request.method, request.url.path, exc)
        return _answer(503, "storage_unavailable", STORAGE_MESSAGE)
    log.error("database error on %s %s", request.method, request.url.path, exc_info=exc)
    return _answer(500, "internal_error", INTERNAL_MESSAGE)


async def _internal_error(_request: Request, _exc: Exception) -> Response:
    # Starlette re-raises the exception after this answer, so the server logs its traceback once.
    return _answer(500, "internal_error", INTERNAL_MESSAGE)


def install(app: FastAPI) -> None:
    """Make every error answer of `app` an `ErrorOut`."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(SQLAlchemyDBAPIError, _database_error)
    app.add_exception_handler(sqlite3.Error, _database_error)  # from code that uses the raw cursor
    app.add_exception_handler(StorageUnavailable, _database_error)  # the Database's own word for it
    app.add_exception_handler(Exception, _internal_error)
