"""The idle daemon: RSS and CPU of `station run` at 200 compartments with nothing to do.

The station of bench_history (200 compartments on 10 CU48 boards polled at 4 Hz, 4 fridges, the
demo's terminal, printer, deposit machine and NFC reader) runs as real processes: `station simulate`
and `station run`, talking over TCP. After `--settle` s the daemon's CPU time (utime + stime from
/proc) is read over `--seconds` s, `--rounds` times; the table gives the median and the spread.
With `--baseline DIR` the same is run, interleaved round by round, with the code of another
checkout (e.g. the commit before a change), and the ratio is printed. Targets: <= 120 MB RSS,
<= 3 % of one core.

`--database` runs on a copy of another station database of this layout instead of day one's
(e.g. the day-730 one `bench_history.py --keep` leaves).

    .venv/bin/python bench/bench_idle.py [--rounds 3] [--seconds 30] [--baseline /tmp/before] [--database F]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from history import build
from history.station import REPO, Daemon, config_text

from station.config import load_config
from station.db import migrate


def own_copy(path: Path, repo: Path) -> Path:
    """A copy of the station database for the checkout at `repo`, at that checkout's schema (downgraded)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    folder = path.parent / f"copy-for-{repo.name}"
    folder.mkdir(exist_ok=True)
    for suffix in ("", ".key"):
        if Path(f"{path}{suffix}").exists():
            shutil.copy(f"{path}{suffix}", folder / f"{path.name}{suffix}")
    from station.db.engine import make_engine

    head = migrate.file_head(repo / "station" / "db" / "migrations" / "versions")
    if head != migrate.file_head():
        engine = make_engine(folder / path.name)
        with engine.connect() as conn:  # migrations run on the connection handed over (migrations/env.py)
            cfg = AlembicConfig()
            cfg.set_main_option("script_location", str(REPO / "station" / "db" / "migrations"))
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, head)
            conn.commit()
        engine.dispose()
    return folder


def one_round(repo: Path, config_path: Path, work: Path, base: str, args: argparse.Namespace) -> tuple[float, float]:
    """(RSS MB, CPU % of one core) of one daemon started from `repo`, idle."""
    daemon = Daemon(config_path, work, repo=repo)
    try:
        daemon.wait_up(base)
        time.sleep(args.settle)
        return daemon.footprint(args.seconds)
    finally:
        daemon.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds after start-up before measuring")
    parser.add_argument("--baseline", type=Path, help="another checkout, run interleaved for the ratio")
    parser.add_argument("--database", type=Path, help="a copy of this station database instead of day one's")
    parser.add_argument("--compare-database", type=Path,
                        help="also this checkout on a copy of this database (e.g. day 730), interleaved")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(dir=REPO, prefix="bench-idle-"))
    runs: dict[str, list[tuple[float, float]]] = {"this checkout": []}
    repos = {"this checkout": REPO}
    if args.baseline:
        repos["baseline"], runs["baseline"] = args.baseline.resolve(), []
    try:
        path = work / "station.db"
        text, port = config_text(path)
        config_path = work / "station.toml"
        config_path.write_text(text)
        if args.database:
            for suffix in ("", ".key"):  # the database and the station key kept beside it
                if Path(f"{args.database}{suffix}").exists():
                    shutil.copy(f"{args.database}{suffix}", f"{path}{suffix}")
        else:  # day one: goods in every compartment, and a volunteer account (a copied database has its own)
            build.prepare(load_config(config_path))
            subprocess.run([sys.executable, "-m", "station.cli", "users", "add", "--config", str(config_path),
                            "--name", "Bench", "--pin-stdin"], input="482915\n", text=True, cwd=REPO, check=True,
                           capture_output=True)
        configs = {REPO: (config_path, work)}
        if args.baseline:  # the baseline's own copy, at its own schema, with its own config pointing there
            folder = own_copy(path, repos["baseline"])
            (folder / "station.toml").write_text(text.replace(str(path), str(folder / path.name)))
            configs[repos["baseline"]] = (folder / "station.toml", folder)
        plans = {label: (repo, *configs[repo]) for label, repo in repos.items()}
        if args.compare_database:  # the same code on another database, in its own folder
            folder = work / "compared"
            folder.mkdir()
            for suffix in ("", ".key"):
                if Path(f"{args.compare_database}{suffix}").exists():
                    shutil.copy(f"{args.compare_database}{suffix}", folder / f"station.db{suffix}")
            (folder / "station.toml").write_text(text.replace(str(path), str(folder / "station.db")))
            plans[f"on {args.compare_database.parent.name}"] = (REPO, folder / "station.toml", folder)
            runs[f"on {args.compare_database.parent.name}"] = []
        for n in range(args.rounds):
            for label, (repo, config, folder_) in plans.items():
                runs[label].append(one_round(repo, config, folder_, f"http://127.0.0.1:{port}", args))
                rss, cpu = runs[label][-1]
                print(f"  .. round {n + 1} {label}: RSS {rss:.0f} MB, CPU {cpu:.2f} %", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work)
    report(args, runs)


def report(args: argparse.Namespace, runs: dict[str, list[tuple[float, float]]]) -> None:
    where = f"on {args.database}" if args.database else "day one"
    print(f"idle daemon, 200 compartments / 10 boards / 4 fridges, {where}, "
          f"{args.rounds} rounds of {args.seconds:.0f} s")
    print(f"{'code':<40}{'RSS MB p50':>12}{'CPU % p50':>11}{'CPU % min':>11}{'CPU % max':>11}{'CPU ratio':>11}")
    base = statistics.median(c for _, c in next(iter(runs.values())))
    for label, values in runs.items():
        cpus = [c for _, c in values]
        cpu = statistics.median(cpus)
        ratio = f"{cpu / base:.2f}" if base else "-"
        print(
            f"{label:<16}{statistics.median(r for r, _ in values):>12.0f}{cpu:>11.2f}{min(cpus):>11.2f}"
            f"{max(cpus):>11.2f}{ratio:>11}"
        )
    print("targets: RSS <= 120 MB, CPU <= 3 % of one core")


if __name__ == "__main__":
    main()
