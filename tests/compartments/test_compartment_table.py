"""The compartment flow's arrow table is the documented one (built while the module is imported: a fresh
copy lets mutation testing see the table itself)."""

from __future__ import annotations

from station.compartments.flow import COMPARTMENT, Slot
from station.flows.docs import render_flow
from tests.conftest import REPO
from tests.core.fresh_import import fresh_module


def test_the_compartment_table_is_the_documented_one() -> None:
    fresh = fresh_module("station.compartments.flow")
    assert render_flow(fresh.COMPARTMENT) in (REPO / "docs" / "architecture.md").read_text()
    quiet = [(a.source, a.target) for a in fresh.COMPARTMENT.arrows if not a.audit]
    assert quiet == [(Slot.LOADED, Slot.RESERVED), (Slot.RESERVED, Slot.EMPTY), (Slot.RESERVED, Slot.LOADED),
                     (Slot.HOLDING, Slot.COLLECTING), (Slot.COLLECTING, Slot.EMPTY)]
    assert {a.severity for a in fresh.COMPARTMENT.arrows} == {"warning"}
    assert {a.priority for a in fresh.COMPARTMENT.arrows} == {COMPARTMENT.arrows[0].priority}
    assert COMPARTMENT.resting == fresh.AT_REST
