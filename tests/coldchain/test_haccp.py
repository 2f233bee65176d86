"""HACCP log: samples from the service, CSV export = stored rows, tampering found by verify (also via the CLI)."""

from __future__ import annotations

import csv
import io
import itertools
import random
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from station.coldchain import ColdChain, haccp
from station.coldchain.export import HEADER, day_range, write_csv
from station.coldchain.verify import verify
from station.db.engine import Database
from station.db.haccp_models import HaccpRecord
from station.db.models import OutboxEvent
from tests.coldchain.conftest import POLL_S, UNITS, ColdRoom, cold_config_text
from tests.coldchain.logdata import T0, day_entries
from tests.conftest import PYTHON

BERLIN = ZoneInfo("Europe/Berlin")


async def logged_hour(room: ColdRoom) -> tuple[ColdChain, dict[tuple[str, float], dict[str, float | None]]]:
    """Run the service for an hour; returns it and what each controller answered per poll: (fridge, time) → probes."""
    service = await room.service()
    answered: dict[tuple[str, float], dict[str, float | None]] = {}
    for _ in range(60):
        await room.run(service, POLL_S)
        for name, fridge in service.fridges.items():
            reading = fridge.last_reading
            assert reading is not None and reading.at == room.clock()
            answered[(name, reading.at)] = {p: r.celsius for p, r in reading.probes.items()}
    return service, answered


def stored(room: ColdRoom, kind: str | None = None) -> list[HaccpRecord]:
    def query(session: Any) -> list[HaccpRecord]:
        stmt = select(HaccpRecord).order_by(HaccpRecord.at, HaccpRecord.id)
        return list(session.scalars(stmt if kind is None else stmt.where(HaccpRecord.kind == kind)))

    return room.db.run_sync(query, write=False)


def parse_csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")  # Excel needs the BOM to read UTF-8 (Kühlgerät, °C)
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert rows[0] == HEADER
    return [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]


def celsius(text: str) -> float | None:
    return None if text == "" else float(text.replace(",", "."))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "station.cli", "haccp", *args], capture_output=True, text=True, timeout=60)


def tamper(db_path: Path, sql: str, *params: Any) -> None:
    con = sqlite3.connect(db_path)
    con.execute(sql, params)
    con.commit()
    con.close()


async def test_samples_every_interval_per_probe_match_what_the_controllers_answered(room: ColdRoom) -> None:
    _service, answered = await logged_hour(room)
    samples = stored(room, "sample")
    for name in UNITS:
        for probe in ("probe1", "probe2"):
            times = [r.at.timestamp() for r in samples if (r.fridge, r.probe) == (name, probe)]
            assert len(times) == 13  # first poll, then one per 5-minute slot of the hour
            assert all(b - a == 300 for a, b in itertools.pairwise(times[1:]))
    for row in samples:
        value = answered[(row.fridge, row.at.timestamp())][row.probe]  # type: ignore[index]
        assert row.value_dc == round(value * 10)  # type: ignore[operator]
    telemetry = room.db.run_sync(
        lambda s: list(s.scalars(select(OutboxEvent).where(OutboxEvent.type == "coldchain.temperatures"))), write=False
    )
    assert len(telemetry) == 13  # one snapshot of all controllers per 5 minutes
    assert all(e.stream == "telemetry" and e.priority == 3 and e.expires_at is not None for e in telemetry)
    assert set(telemetry[-1].payload["fridges"]) == set(UNITS)
    assert telemetry[-1].payload["fridges"]["tk1"]["product_c"] < -18
    assert room.db.run_sync(verify, write=False).ok


async def test_the_csv_export_matches_the_stored_rows(room: ColdRoom, tmp_path: Path) -> None:
    await logged_hour(room)
    rows = stored(room)
    start, end = day_range(datetime(2027, 1, 15).date(), datetime(2027, 1, 15).date(), BERLIN)
    out = io.StringIO(newline="")
    count = room.db.run_sync(lambda s: write_csv(s, start, end, out, BERLIN), write=False)
    exported = parse_csv(out.getvalue())
    assert count == len(exported) == len(rows) == 13 * 6
    for row, line in zip(rows, exported, strict=True):
        assert int(line["Datensatz"]) == row.id and line["Prüfsumme (SHA-256)"] == row.hash.hex()
        assert datetime.fromisoformat(line["Zeitpunkt (UTC)"]) == row.at.replace(microsecond=0)
        assert datetime.fromisoformat(line["Zeitpunkt (lokal)"]).utcoffset().total_seconds() == 3600  # CET
        assert (line["Art"], line["Kühlgerät"], line["Fühler"]) == ("Messung", row.fridge, row.probe)
        assert celsius(line["Temperatur °C"]) == row.value_dc / 10  # type: ignore[operator]
    config = tmp_path / "station.toml"
    config.write_text(cold_config_text(room.db_path, room.port))
    target = tmp_path / "export.csv"
    done = cli("export", "--config", str(config), "--from", "2027-01-15", "--to", "2027-01-15", "--output", str(target))
    assert done.returncode == 0, done.stderr
    assert target.read_bytes().decode("utf-8") == out.getvalue()
    nothing = cli("export", "--config", str(config), "--from", "2027-01-16", "--to", "2027-01-20")
    assert nothing.returncode == 0 and parse_csv(nothing.stdout) == []
    backwards = cli("export", "--config", str(config), "--from", "2027-01-16", "--to", "2027-01-15")
    assert backwards.returncode == 2 and "before it starts" in backwards.stderr


TAMPERING = [
    ("edit a value", "UPDATE haccp_log SET value_dc = value_dc - 40 WHERE id = 20", 20),
    ("edit a time", "UPDATE haccp_log SET at = replace(at, '08:', '07:') WHERE id = 33", 33),
    ("delete a row", "DELETE FROM haccp_log WHERE id = 41", 42),
    ("delete the newest row", "DELETE FROM haccp_log WHERE id = (SELECT max(id) FROM haccp_log)", 77),
]


async def test_tampering_is_found_by_verify_and_the_cli(room: ColdRoom, tmp_path: Path) -> None:
    await logged_hour(room)
    original = tmp_path / "station.toml"
    original.write_text(cold_config_text(room.db_path, room.port))
    intact = cli("verify", "--config", str(original))
    assert intact.returncode == 0 and "HACCP log intact: 78 rows" in intact.stdout
    for n, (change, sql, bad_row) in enumerate(TAMPERING):
        copy = tmp_path / f"copy{n}.db"
        with sqlite3.connect(room.db_path) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        tamper(copy, sql)
        config = tmp_path / f"copy{n}.toml"
        config.write_text(cold_config_text(copy, room.port))
        broken = cli("verify", "--config", str(config))
        assert broken.returncode == 1, change
        assert f"first bad row {bad_row} (" in broken.stderr, (change, broken.stderr)
        database = Database(copy)
        database.open_sync()
        report = database.run_sync(verify, write=False)
        database.close_sync()
        assert report.first_problem is not None and report.first_problem.row_id == bad_row, change
    assert cli("verify", "--config", str(original)).returncode == 0  # the station's own file is untouched


def test_verify_cli_reports_a_bad_config(tmp_path: Path) -> None:
    missing = cli("verify", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def removal_rounds(db: Any, seed: int) -> None:
    """Removal patterns like compaction's (runs, single rows, next to earlier gaps), then one illicit deletion."""
    rng = random.Random(seed)
    db.run_sync(lambda s: s.execute(HaccpRecord.__table__.delete()))
    db.run_sync(lambda s: haccp.append(s, day_entries(T0, ["k1"], rng, interval_s=3600)))

    def remove(session: Any, round_: int) -> None:
        ids = [i for (i,) in session.execute(select(HaccpRecord.id).where(HaccpRecord.kind != "compaction"))]
        chosen = rng.sample(ids, k=min(len(ids), rng.randint(1, 6)))
        haccp.remove_rows(session, chosen, T0, "test", {"round": round_})
        haccp.append(session, day_entries(T0, ["k1"], rng, interval_s=4 * 3600))

    for round_ in range(6):
        db.run_sync(lambda s, r=round_: remove(s, r))
        assert db.run_sync(verify, write=False).ok, f"seed {seed} round {round_}"
    survivors = db.run_sync(lambda s: s.execute(select(HaccpRecord.id, HaccpRecord.kind)).all(), write=False)
    index = rng.randrange(len(survivors) - 1)
    victim, kind = survivors[index]
    db.run_sync(lambda s: s.execute(HaccpRecord.__table__.delete().where(HaccpRecord.id == victim)))
    report = db.run_sync(verify, write=False)
    assert not report.ok and report.first_problem is not None, f"seed {seed}"
    if kind != "compaction":  # the row after it no longer follows (a lost compaction row breaks earlier links)
        assert report.first_problem.row_id == survivors[index + 1][0], f"seed {seed}"


def test_random_removals_keep_the_chain_verifiable_and_any_other_deletion_is_found(db: Any) -> None:
    for seed in range(8):
        removal_rounds(db, seed)


@pytest.mark.slow
def test_random_removals_many_seeds(db: Any) -> None:
    for seed in range(8, 400):
        removal_rounds(db, seed)


async def test_service_housekeeping_compacts_and_anchors_the_head_at_the_platform(room: ColdRoom) -> None:
    service, _ = await logged_hour(room)
    first = await service.housekeeping()
    assert (first.replaced, first.aggregates) == (0, 0)
    head = room.db.run_sync(verify, write=False).head_hash
    assert [p["head_hash"] for _, p in room.events("haccp.anchor")] == [head]
    assert (await service.housekeeping()).replaced == 0 and len(room.events("haccp.anchor")) == 1  # daily, not each run
    room.clock.advance(31 * 86_400)
    later = await service.housekeeping()
    assert later.replaced == 13 * 6 and later.aggregates == 2 * 6  # 08:01-08:55 and 09:00, per probe
    report = room.db.run_sync(verify, write=False)
    assert report.ok and report.compactions == 1
    assert [p["head_hash"] for _, p in room.events("haccp.anchor")][-1] == report.head_hash
    aggregates = stored(room, "aggregate")
    assert sum(a.n for a in aggregates) == 13 * 6  # type: ignore[misc]
