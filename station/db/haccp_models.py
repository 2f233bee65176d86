"""Cold-chain tables: the hash-chained HACCP temperature log and the sale blocks with their corrective actions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class HaccpRecord(Base):
    """One row of the append-only HACCP log; `hash` = SHA-256(previous row's hash + this row's content).

    kind: `sample` (one probe at one time), `event` (alarm, block, corrective action), `aggregate`
    (min/max/mean of `n` compacted samples of one probe, interval starting at `at`), `compaction`
    (which rows were replaced or pruned, with the hashes that keep the chain verifiable: see
    `station.coldchain.haccp`). Temperatures are integer tenths of a degree (exact, hash-stable).
    No index besides the primary key: rows arrive in time order and the table stays small.
    """

    __tablename__ = "haccp_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(12))
    fridge: Mapped[str | None] = mapped_column(String(64), nullable=True)
    probe: Mapped[str | None] = mapped_column(String(32), nullable=True)
    value_dc: Mapped[int | None] = mapped_column(Integer, nullable=True)
    min_dc: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_dc: Mapped[int | None] = mapped_column(Integer, nullable=True)
    mean_dc: Mapped[int | None] = mapped_column(Integer, nullable=True)
    n: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)  # canonical JSON, hashed as stored
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class ColdChainBlock(Base):
    """A compartment blocked for sale and pick-up by a cold-chain alarm, until a corrective action releases it.

    `state` is the cold-chain block flow (station/coldchain/blocks.py): blocked → released.
    """

    __tablename__ = "cold_chain_blocks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    compartment_id: Mapped[int] = mapped_column(ForeignKey("compartments.id"), index=True)
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id"), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="blocked")
    zone: Mapped[str] = mapped_column(String(64))
    cause: Mapped[str] = mapped_column(String(24))  # temperature | unknown
    limit_c: Mapped[float] = mapped_column(Float)
    blocked_at: Mapped[datetime]
    released_at: Mapped[datetime | None] = mapped_column(nullable=True)
    release: Mapped[str | None] = mapped_column(String(24), nullable=True)  # discarded | kept | operator_release
    released_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    measured_c: Mapped[float | None] = mapped_column(Float, nullable=True)
    details: Mapped[dict] = mapped_column(default=dict)


class ColdChainExcursion(Base):
    """An excursion in progress (beyond its limit, alarm delay running): its start survives a restart.

    `subject` is "zone" for the zone itself or a compartment number; `started_at` is epoch seconds.
    """

    __tablename__ = "coldchain_excursions"
    zone: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[float] = mapped_column(Float)
