"""The touchscreen served by the daemon: the page, its static files, catalogues, speech clips.

`install_ui(app)` adds, beside the API:
- `GET /` the kiosk page (one HTML page, screens switched in the browser; Jinja2 renders the
  German texts and the boot data into it, so the first paint needs no further request);
- `/ui/static/...` CSS and JavaScript modules (no build step), `/ui/speech/<lang>/<clip>.wav`;
- `GET /ui/i18n/<lang>.json` one language's catalogues;
- `GET /api/ui/status`, `GET /api/ui/compartments`, `GET /api/events/ui` (server-sent events).
The page calls only the public API (`/api/...`), like any other client.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ..api.errors import ApiError, responses
from ..config.ui import UiConfig
from .catalogue import DEFAULT_LANGUAGE, LANGUAGES, messages, text
from .events import EVENT_SCHEMA, UiEvents, UiStatus, current_status, describe_stream
from .screens import MAIN_SCREENS, SCREENS
from .shelf import ShelfCompartment, shelf
from .speech import DEFAULT_DIR, KINDS, manifest

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")

api = APIRouter(tags=["touchscreen"])
pages = APIRouter(include_in_schema=False)

# Query parameters that shorten the time-outs, honoured on a simulated station only (tests, demos).
TIMING_OVERRIDES = ("idle_s", "warn_s", "window_s", "done_s", "staff_idle_s")
DONE_S = 12  # the thank-you screen stays this long, then the next person gets a fresh start screen
STAFF_IDLE_S = 300.0  # a volunteer's session without [staff]: as the daemon's default


def ui_config(station: Any) -> UiConfig:
    """`[ui]` once the lead wires it into Config; the defaults until then."""
    configured = getattr(getattr(station, "config", None), "ui", None)  # stand-ins in tests have no config
    return configured if isinstance(configured, UiConfig) else UiConfig()


def install_ui(app: FastAPI) -> None:
    station = app.state.station
    config = ui_config(station)
    app.state.ui_events = UiEvents(station) if station is not None else None
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    speech_dir = config.speech_dir or DEFAULT_DIR
    app.mount("/ui/speech", StaticFiles(directory=speech_dir, check_dir=False), name="ui-speech")
    app.include_router(api, prefix="/api")
    app.include_router(pages)


def _station(request: Request) -> Any:
    station = request.app.state.station
    if station is None:
        raise ApiError(503, "unavailable", "Die Station ist nicht bereit")
    return station


@api.get(
    "/ui/status",
    operation_id="ui_status",
    response_model=UiStatus,
    responses=responses(503),
    summary="What the screen's frame shows (simulated, offline, doors)",
)
def get_ui_status(request: Request) -> UiStatus:
    return current_status(_station(request))


@api.get(
    "/ui/compartments",
    operation_id="ui_compartments",
    response_model=list[ShelfCompartment],
    responses=responses(503),
    summary="Every compartment with its state for the buy screen (prices are in /api/offers)",
)
async def get_compartments(request: Request) -> list[ShelfCompartment]:
    station = _station(request)
    configured = [c.id for c in station.config.compartments]
    down = station.lockwall.unavailable_compartments() if station.lockwall is not None else []
    result: list[ShelfCompartment] = await station.db.read(lambda s: shelf(s, configured, down))
    return result


@api.get(
    "/events/ui",
    operation_id="ui_events",
    summary="Live status and door changes for the touchscreen (server-sent events)",
    description=describe_stream(),
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "`event: status` at once and on every change, `event: door` on every door change; "
            "a client that does not accept text/event-stream gets the current status once",
            "content": {"text/event-stream": {"schema": EVENT_SCHEMA}},
        },
        **responses(503),
    },
)
async def ui_events(request: Request) -> StreamingResponse:
    station = _station(request)
    events: UiEvents = request.app.state.ui_events
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    # A browser's EventSource asks for text/event-stream and gets the live stream; any other client
    # (curl, a schema checker) gets the current status once, instead of a response that never ends.
    live = "text/event-stream" in request.headers.get("accept", "")
    closing = (lambda: _server_closing(station)) if live else (lambda: True)
    stream = events.stream(request.is_disconnected, closing=closing)
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


def _server_closing(station: Any) -> bool:
    """True once the daemon stops its HTTP server: uvicorn waits for open responses, so end ours.

    The kiosk keeps this stream open all the time; without this a stop would wait for the HTTP
    component's time-out. (HttpComponent has no public flag for it yet: read uvicorn's.)
    """
    server = getattr(getattr(station, "http", None), "_server", None)
    return bool(getattr(server, "should_exit", False))


@pages.get("/ui/i18n/{language}.json")
def get_catalogue(language: str) -> dict[str, Any]:
    if language not in LANGUAGES:
        raise ApiError(404, "not_found", f"Keine Texte für die Sprache {language!r}")
    return {"ui": messages(language), "terminal": messages(language, "terminal")}


def _staff_idle_s(station: Any) -> float:
    """A volunteer's screen ends with the session: the daemon's `[staff] session_idle_s`."""
    staff = getattr(getattr(station, "config", None), "staff", None)
    return float(getattr(staff, "session_idle_s", STAFF_IDLE_S))


def _timing(request: Request, config: UiConfig, station: Any) -> dict[str, float]:
    timing: dict[str, float] = {
        "idle_s": config.idle_timeout_s,
        "warn_s": config.idle_warning_s,
        "window_s": config.shop_window_s,
        "done_s": DONE_S,
        "staff_idle_s": _staff_idle_s(station),
    }
    simulated = station.simulated
    if simulated:
        for name in TIMING_OVERRIDES:
            value = request.query_params.get(name)
            if value is not None:
                try:
                    timing[name] = min(3600.0, max(0.5, float(value)))
                except ValueError:
                    pass
    return timing


def boot_data(request: Request, station: Any) -> dict[str, Any]:
    """Everything the page needs at start, rendered into it."""
    config = ui_config(station)
    identity = station.config.station
    return {
        "station": {"id": identity.id, "name": identity.name},
        "help": {"phone": config.help_phone or identity.hotline, "who": config.help_who},
        "timing": _timing(request, config, station),
        "sizes": {"px_per_mm": round(config.px_per_mm, 4), "target_mm": config.target_mm},
        "languages": list(LANGUAGES),
        "default_language": DEFAULT_LANGUAGE,
        "catalogues": {lang: {"ui": messages(lang), "terminal": messages(lang, "terminal")} for lang in LANGUAGES},
        "kinds": KINDS,
        "speech": {lang: manifest(lang) for lang in LANGUAGES},
        "speech_base": "/ui/speech",
        "screens": {name: list(keys) for name, keys in SCREENS.items()},
        "status": current_status(station).model_dump(),
    }


@pages.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    station = _station(request)
    config = ui_config(station)
    boot = boot_data(request, station)
    # Inside <script>, "</" would end the element: escape "<" in the JSON.
    boot_json = json.dumps(boot, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    context = {
        "t": lambda key, **params: text(key, DEFAULT_LANGUAGE, **params),
        "boot_json": boot_json,
        "boot": boot,
        "px_per_mm": config.px_per_mm,
        "target_mm": config.target_mm,
        "main_screens": MAIN_SCREENS,
    }
    return templates.TemplateResponse(request, "index.html", context, headers={"Cache-Control": "no-store"})
