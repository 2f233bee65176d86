"""A station process that only runs the sync component on a real database file (for SIGKILL tests).

python -m tests.sync.relay_proc DB_PATH BROKER_PORT [STATION_ID]
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from station.config.mqtt import BrokerConfig, MqttConfig
from station.db.engine import Database
from sync.component import SyncComponent

ACK_WINDOW = 1000


async def main(db_path: Path, port: int, station_id: str) -> None:
    db = Database(db_path)
    await db.start()
    # An ack window well below the test's 6000 events: the relay cannot have sent everything when it is
    # killed after a quarter has been applied, however slowly the platform applies on a busy machine.
    config = MqttConfig(
        brokers=[BrokerConfig(host="127.0.0.1", port=port)],
        reconnect_min_s=0.05,
        reconnect_max_s=0.3,
        poll_s=0.5,
        ack_window=ACK_WINDOW,
    )
    sync = SyncComponent(config, station_id, db)
    await sync.start()
    print("started", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await sync.stop()
    await db.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "st-a"))
