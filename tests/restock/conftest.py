"""The stocked hardware-free database of the purchase rule tests (compartments 1, 2, 17, 18 loaded)."""

from tests.purchase.saledb import sdb, template  # noqa: F401
