"""Every error answer is an ErrorOut; every route documents every status it can answer."""

from __future__ import annotations

import sqlite3
import types
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from station.api import errors
from station.api.app import create_app
from station.db.engine import Database
from station.purchase import PurchaseError

ERROR_KEYS = {"error", "message"}


def _client(station: Any) -> httpx.AsyncClient:
    # raise_app_exceptions=False: see what the client sees even when Starlette re-raises a bug for the log.
    transport = httpx.ASGITransport(app=create_app(station), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://station")


class FakeService:
    """A purchase service that fails the way it is told to (the real one is tested in tests/purchase)."""

    def __init__(self, begin: Callable[[list[int]], Any]) -> None:
        self._begin = begin
        self.db = types.SimpleNamespace(read=self._read)

    async def begin(self, compartments: list[int]) -> str:
        return await self._begin(compartments)

    async def cancel(self, sale_id: str) -> None:
        raise PurchaseError("not_found", "no such purchase")

    @staticmethod
    async def _read(_fn: Any) -> None:
        return None


def _station(service: Any = None, read: Callable[..., Any] | None = None) -> Any:
    async def no_offers(_fn: Any) -> list[Any]:
        return []

    return types.SimpleNamespace(db=types.SimpleNamespace(read=read or no_offers), purchases=service, lockwall=None)


def _raises(exc: Exception) -> Callable[..., Any]:
    async def fail(*_args: Any) -> Any:
        raise exc

    return fail


def assert_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert set(body) - {"detail"} == ERROR_KEYS and body["error"] == code, body
    assert body["message"] and "Traceback" not in resp.text
    return body


# -- what FastAPI and Starlette answer by themselves ---------------------------------------------
async def test_unknown_route_and_wrong_method() -> None:
    async with _client(_station()) as http:
        assert_error(await http.get("/api/nothing-here"), 404, "not_found")
        assert_error(await http.get("/api/docs/static/no-such-file.js"), 404, "not_found")
        wrong = await http.delete("/api/offers")
        assert_error(wrong, 405, "method_not_allowed")
        assert wrong.headers["allow"] == "GET"


async def test_body_that_does_not_fit_the_schema_is_422_with_field_errors() -> None:
    reached: list[list[int]] = []

    async def begin(compartments: list[int]) -> str:
        reached.append(compartments)
        raise PurchaseError("not_available", "Fach 3 ist nicht (mehr) zu kaufen")

    async with _client(_station(FakeService(begin))) as http:
        resp = await http.post("/api/purchases", json={"compartments": "2", "x": 1})
        body = assert_error(resp, 422, "invalid_request")
        assert {tuple(d["loc"]) for d in body["detail"]} == {("body", "compartments"), ("body", "x")}
        twice = assert_error(await http.post("/api/purchases", json={"compartments": [3, 3]}), 422, "invalid_request")
        assert twice["detail"][0]["loc"] == ["body", "compartments"]
        assert "only once" in twice["detail"][0]["msg"]
        for bad in ([], [0], [10_000], list(range(1, 22)), [True], ["3"], [2.5]):
            assert_error(await http.post("/api/purchases", json={"compartments": bad}), 422, "invalid_request")
        assert_error(await http.get(f"/api/purchases/{'x' * 65}"), 422, "invalid_request")
        assert reached == []
        # JSON Schema counts 3.0 as an integer: it reaches the service as 3.
        assert_error(await http.post("/api/purchases", json={"compartments": [3.0]}), 409, "not_available")
        assert reached == [[3]] and isinstance(reached[0][0], int)


async def test_body_that_is_not_json_is_400() -> None:
    async with _client(_station(FakeService(_raises(AssertionError("must not be reached"))))) as http:
        headers = {"content-type": "application/json"}
        for content in (b'{"compartments": [1', b"\xff\xfe[]"):  # cut off; not UTF-8
            resp = await http.post("/api/purchases", content=content, headers=headers)
            assert_error(resp, 400, "malformed_json")


# -- service errors: one table ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "status"),
    [("busy", 409), ("not_available", 409), ("too_late", 409), ("not_found", 404), ("invalid", 422),
     ("storage_unavailable", 503), ("unavailable", 503)],
)  # fmt: skip
async def test_purchase_error_codes_map_to_statuses(code: str, status: int) -> None:
    service = FakeService(_raises(PurchaseError(code, "Fach 2 ist gerade nicht verfügbar")))
    async with _client(_station(service)) as http:
        body = assert_error(await http.post("/api/purchases", json={"compartments": [2]}), status, code)
    rule = errors.SERVICE_ERRORS[code]
    assert body["message"] == ("Fach 2 ist gerade nicht verfügbar" if rule.service_text else rule.message)


async def test_storage_unavailable_says_so_in_german() -> None:
    async with _client(_station(FakeService(_raises(PurchaseError("storage_unavailable", "disk full"))))) as http:
        body = assert_error(await http.post("/api/purchases", json={"compartments": [2]}), 503, "storage_unavailable")
    assert body["message"] == "Der Speicher der Station ist gerade nicht beschreibbar – bitte später erneut versuchen"


async def test_an_unmapped_service_code_is_a_500_not_a_guess() -> None:
    async with _client(_station(FakeService(_raises(PurchaseError("brand_new", "something"))))) as http:
        assert_error(await http.post("/api/purchases", json={"compartments": [2]}), 500, "internal_error")


async def test_purchases_not_configured_is_503() -> None:
    async with _client(_station(service=None)) as http:
        assert_error(await http.post("/api/purchases", json={"compartments": [2]}), 503, "unavailable")
        assert_error(await http.get("/api/purchases/abc"), 503, "unavailable")
        assert_error(await http.get("/api/purchases/abc/events"), 503, "unavailable")


async def test_unknown_purchase_is_404_also_for_its_events() -> None:
    async with _client(_station(FakeService(_raises(AssertionError("unused"))))) as http:
        assert_error(await http.get("/api/purchases/abc"), 404, "not_found")
        assert_error(await http.get("/api/purchases/abc/events"), 404, "not_found")
        assert_error(await http.post("/api/purchases/abc/cancel"), 404, "not_found")


# -- bugs and a failing database ------------------------------------------------------------------
async def test_a_bug_is_500_without_leaking_the_traceback(caplog: pytest.LogCaptureFixture) -> None:
    async with _client(_station(read=_raises(RuntimeError("secret internals")))) as http:
        resp = await http.get("/api/offers")
    assert_error(resp, 500, "internal_error")
    assert "secret" not in resp.text


@pytest.fixture
async def locked_db(db_path: Path) -> AsyncIterator[Database]:
    """A real database whose write lock another process holds (as `sqlite3` on the console would)."""
    database = Database(db_path, busy_timeout_ms=50)
    await database.start()
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield database
    finally:
        other.execute("ROLLBACK")
        other.close()
        await database.stop()


async def test_a_locked_database_is_503_storage_unavailable(locked_db: Database) -> None:
    async def begin(_compartments: list[int]) -> str:
        await locked_db.write(lambda s: s.execute(text("UPDATE station_meta SET value = value")))
        raise AssertionError("the write should have failed: the lock is held elsewhere")

    async with _client(_station(FakeService(begin))) as http:
        body = assert_error(await http.post("/api/purchases", json={"compartments": [2]}), 503, "storage_unavailable")
    assert body["message"] == errors.STORAGE_MESSAGE


async def test_a_wrong_query_is_500_not_storage_unavailable(db_path: Path) -> None:
    database = Database(db_path)
    await database.start()
    try:
        read = lambda _fn: database.read(lambda s: s.execute(text("SELECT * FROM no_such_table")))  # noqa: E731
        async with _client(_station(read=read)) as http:
            assert_error(await http.get("/api/offers"), 500, "internal_error")
    finally:
        await database.stop()


# -- the document ---------------------------------------------------------------------------------
OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in create_app(None).openapi()["paths"].items()
    for method, operation in item.items()
]


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_every_route_documents_its_error_statuses(method: str, path: str, operation: dict[str, Any]) -> None:
    """The rules of station/api/errors.py, for every route a router adds."""
    documented = {int(status) for status in operation["responses"]}
    params = {p["in"] for p in operation.get("parameters", [])}
    has_body = "requestBody" in operation
    assert 500 in documented
    assert (422 in documented) == bool(params or has_body)
    assert (400 in documented) == has_body
    if "path" in params:
        assert 404 in documented, "a path names a thing, and the thing may not exist"
    for status, spec in operation["responses"].items():
        if int(status) >= 400:
            assert spec["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}


def _keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keys(value)
    elif isinstance(node, list):
        for value in node:
            yield from _keys(value)


def test_constraints_reach_the_schema_as_json_schema_keywords() -> None:
    """pydantic writes a constraint it could not translate under its own name (`ge`), which no client reads."""
    document = create_app(None).openapi()
    assert not {"ge", "gt", "le", "lt", "strict"} & set(_keys(document["components"]))
    item = document["components"]["schemas"]["PurchaseIn"]["properties"]["compartments"]["items"]
    assert (item["type"], item["minimum"], item["maximum"]) == ("integer", 1, 9999)


def test_the_document_has_no_fastapi_default_error_shapes() -> None:
    schemas = create_app(None).openapi()["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert set(schemas["ErrorOut"]["required"]) == ERROR_KEYS
