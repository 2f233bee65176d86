"""The cold chain: temperature supervision of the fridge zones, sale blocks, and the HACCP log.

Public API:
- `ColdChain(config, db, *, haccp_config=None, lines=None, clock=time.time, run_loops=True)`: the component.
  `await record_corrective_action(compartment, action, volunteer, reason=None, measured_c=None)`,
  `await operator_release(compartment, operator, reference)`, `await is_sale_blocked(compartment)`,
  `await poll_once()`, `await housekeeping()`, `health()`, `progress()`.
- `sale_blocked(session, compartment)`: the check for the purchase and pick-up flows, inside their transaction.
- `haccp` (append, chain), `compaction`, `verify.verify(session)`, `export.write_csv(...)`.
"""

from .service import ColdChain
from .transitions import ColdChainError, sale_blocked

__all__ = ["ColdChain", "ColdChainError", "sale_blocked"]
