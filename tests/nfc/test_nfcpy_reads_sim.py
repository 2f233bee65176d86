"""Unmodified nfcpy, over its own UDP driver, reads the simulated NTAG213: UID, product and NDEF."""

from __future__ import annotations

import time
from typing import Any

import ndef
import nfc
import nfc.clf

from simulators.nfc import NfcTagSimulator, Ntag213

from .conftest import BADGE_UID


def _read(sim: NfcTagSimulator, targets: list[str] | None = None) -> tuple[Any, list[ndef.Record] | None]:
    """One poll as the brief's recipe does it; the tag and its NDEF records (read while the frontend is open)."""
    clf = nfc.ContactlessFrontend(sim.device_path)
    try:
        rdwr: dict[str, Any] = {"on-connect": lambda tag: False, "iterations": 1}
        if targets:
            rdwr["targets"] = targets
        polls: list[int] = []
        tag = clf.connect(rdwr=rdwr, terminate=lambda: bool(polls.append(1)) or len(polls) > 1)
        assert tag, "nfcpy found no card"
        return tag, (list(tag.ndef.records) if tag.ndef else None)
    finally:
        clf.close()


def test_nfcpy_reads_uid_product_and_ndef(sim: NfcTagSimulator) -> None:
    sim.present()
    tag, records = _read(sim, ["106A"])
    assert str(tag) == f"Type2Tag 'NXP NTAG213' ID={BADGE_UID}"
    assert tag.identifier == bytes.fromhex(BADGE_UID)
    assert records is not None
    uri, text = records
    assert isinstance(uri, ndef.UriRecord) and uri.iri == "https://dorfladen.example/badge/17"
    assert isinstance(text, ndef.TextRecord) and (text.text, text.language) == ("Helferin Anna", "de")


def test_nfcpy_default_targets_find_the_type_a_card(sim: NfcTagSimulator) -> None:
    """With nfcpy's default 106A/106B/212F polling the card answers the first (Type A) poll."""
    sim.present()
    tag, _records = _read(sim)
    assert tag.identifier == bytes.fromhex(BADGE_UID)


def test_nfcpy_reads_a_card_without_ndef_records(sim: NfcTagSimulator) -> None:
    sim.present(Ntag213.create("04C0FFEE123456"))
    tag, records = _read(sim, ["106A"])
    assert tag.identifier.hex().upper() == "04C0FFEE123456"
    assert records == []  # NDEF formatted, empty message


def test_nfcpy_finds_nothing_when_no_card_is_held(sim: NfcTagSimulator) -> None:
    clf = nfc.ContactlessFrontend(sim.device_path)
    try:
        started = time.monotonic()
        assert clf.sense(nfc.clf.RemoteTarget("106A"), iterations=1) is None
        assert time.monotonic() - started >= 0.9  # the UDP driver's 1 s wait for a SENS_RES
    finally:
        clf.close()
    assert [(e.frame, e.reply) for e in sim.exchanges] == [(b"\x26", None)]
