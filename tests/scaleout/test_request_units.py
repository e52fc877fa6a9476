"""The cost of one answered call in store requests and Cosmos DB request units."""

from __future__ import annotations

from tests.scaleout.request_units import measure, report

# docs/scaling.md budgets a call at about 80 RU; this catches a call costing twice that.
RU_BUDGET = 160.0


async def test_one_answered_call_stays_within_its_request_unit_budget() -> None:
    lifecycle = await measure()

    assert lifecycle.request_units() <= RU_BUDGET, report(lifecycle)
    # Only the timer sweep reads across tenants; everything else stays in the tenant's partition.
    across = {k: n for k, n in lifecycle.requests.items() if k.startswith("query-all-tenants")}
    assert sum(across.values()) <= 2, report(lifecycle)
    assert f"**{lifecycle.total}**" in report(lifecycle)
