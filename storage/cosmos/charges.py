"""Request units: what Cosmos DB charged the store, per operation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RequestCharges:
    """Request units (RU) Cosmos DB charged this store, in total and per operation.

    ``operations`` counts calls of the store's methods, ``requests`` the Cosmos DB
    requests they made (a query may take several), ``charges`` their RU.
    """

    total: float = 0.0
    charges: dict[str, float] = field(default_factory=dict)
    operations: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)

    def record(self, operation: str, charges: Sequence[float]) -> None:
        """Add one operation and the charges of the requests it made."""
        spent = sum(charges)
        self.total += spent
        self.charges[operation] = self.charges.get(operation, 0.0) + spent
        self.operations[operation] = self.operations.get(operation, 0) + 1
        self.requests[operation] = self.requests.get(operation, 0) + len(charges)


def request_charge(headers: Mapping[str, Any] | None) -> float | None:
    """Return the charge a response's headers state, if they state one."""
    if not headers:
        return None
    raw = headers.get("x-ms-request-charge")
    try:
        return float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
