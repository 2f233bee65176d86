"""Writes sales (domain row + outbox event in one transaction) until killed.

Prints `ready` once open, then `ack <sale_id>` after each COMMIT has returned.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from station.db.engine import Database
from station.db.models import Priority, Sale
from station.db.types import utcnow
from station.outbox import record_event


def write_sale(session) -> str:
    sale_id = str(uuid.uuid4())
    now = utcnow()
    session.add(Sale(id=sale_id, state="done", total_cents=349, booked_cents=349, created_at=now, updated_at=now))
    session.flush()
    record_event(session, "sale.completed", {"sale_id": sale_id, "total_cents": 349}, priority=Priority.MONEY)
    return sale_id


def main() -> None:
    db = Database(Path(sys.argv[1]))
    db.open_sync()
    print("ready", flush=True)
    while True:
        sale_id = db.run_sync(write_sale)
        print(f"ack {sale_id}", flush=True)


if __name__ == "__main__":
    main()
