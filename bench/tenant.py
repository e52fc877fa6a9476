"""The benchmark tenants: queues with their resource accounts and agents, as documents.

Ids are derived from names (uuid5), so the orchestrator, the host and the simulator agree
on them without passing lists of thousands of ids around.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contactcenter.model import (
    Agent,
    AgentStatus,
    Binding,
    BindingTarget,
    Queue,
    RoutingMethod,
    Tenant,
)
from simulator import ApplicationInstanceEntry, TenantEntry, UserEntry

_NAMESPACE = uuid.UUID("5b0c6e1d-8f0a-4c8e-9d7e-b3e4c40be4c4")


def bench_id(name: str) -> str:
    """Return the stable GUID of a named benchmark object."""
    return str(uuid.uuid5(_NAMESPACE, name))


@dataclass(frozen=True, slots=True)
class LineSpec:
    """A queue, the resource account bound to it, and its agents.

    ``available`` agents are signed in and ready; the others are signed in but away, so the
    queue's calls wait (and do not go to its no-agent action).
    """

    tenant_id: str
    name: str
    agents: int
    available: bool
    wrap_up_s: int = 1
    alert_time_s: int = 20
    max_size: int = 100_000
    max_wait_s: int = 86_400
    routing_method: RoutingMethod = RoutingMethod.LONGEST_IDLE

    @property
    def queue_id(self) -> str:
        return bench_id(f"{self.tenant_id}:queue:{self.name}")

    @property
    def line_id(self) -> str:
        """The application instance id callers dial."""
        return bench_id(f"{self.tenant_id}:line:{self.name}")

    def agent_id(self, index: int) -> str:
        return bench_id(f"{self.tenant_id}:{self.name}:agent:{index}")

    @property
    def agent_ids(self) -> list[str]:
        return [self.agent_id(index) for index in range(self.agents)]


@dataclass(frozen=True, slots=True)
class TenantSpec:
    """One benchmark tenant and its lines."""

    tenant_id: str
    name: str
    lines: tuple[LineSpec, ...]

    def line(self, name: str) -> LineSpec:
        """Return the line called ``name``."""
        for line in self.lines:
            if line.name == name:
                return line
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "tenantId": self.tenant_id,
            "name": self.name,
            "lines": [
                {
                    "name": line.name,
                    "agents": line.agents,
                    "available": line.available,
                    "wrapUpS": line.wrap_up_s,
                    "alertTimeS": line.alert_time_s,
                    "maxSize": line.max_size,
                    "maxWaitS": line.max_wait_s,
                    "routingMethod": line.routing_method.value,
                }
                for line in self.lines
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TenantSpec:
        tenant_id = str(data["tenantId"])
        lines = tuple(
            LineSpec(
                tenant_id=tenant_id,
                name=str(line["name"]),
                agents=int(line["agents"]),
                available=bool(line["available"]),
                wrap_up_s=int(line["wrapUpS"]),
                alert_time_s=int(line["alertTimeS"]),
                max_size=int(line["maxSize"]),
                max_wait_s=int(line["maxWaitS"]),
                routing_method=RoutingMethod(line["routingMethod"]),
            )
            for line in data["lines"]
        )
        return cls(tenant_id=tenant_id, name=str(data["name"]), lines=lines)

    def documents(self, now: datetime) -> tuple[Tenant, list[Queue], list[Agent], list[Binding]]:
        """Build every document of the tenant."""
        total_agents = sum(line.agents for line in self.lines)
        tenant = Tenant(
            id=self.tenant_id,
            name=self.name,
            seat_count=total_agents,
            retention_days=30,
        )
        queues = [
            Queue(
                id=line.queue_id,
                tenant_id=self.tenant_id,
                name=line.name,
                routing_method=line.routing_method,
                members=tuple(line.agent_ids),
                alert_time_s=line.alert_time_s,
                wrap_up_s=line.wrap_up_s,
                max_size=line.max_size,
                max_wait_s=line.max_wait_s,
            )
            for line in self.lines
        ]
        agents = [
            Agent(
                id=agent_id,
                tenant_id=self.tenant_id,
                display_name=f"{line.name} agent {index:04d}",
                has_seat=True,
                signed_in_queue_ids=frozenset({line.queue_id}),
                status=AgentStatus.AVAILABLE if line.available else AgentStatus.AWAY,
                not_ready_reason=None if line.available else "benchmark: calls wait",
                idle_since=now,
            )
            for line in self.lines
            for index, agent_id in enumerate(line.agent_ids)
        ]
        bindings = [
            Binding(
                id=line.line_id,
                tenant_id=self.tenant_id,
                target=BindingTarget.QUEUE,
                target_id=line.queue_id,
                display_name=f"{line.name} line",
            )
            for line in self.lines
        ]
        return tenant, queues, agents, bindings

    def simulator_entry(self) -> TenantEntry:
        """Describe the tenant to the simulator: its agents and its resource accounts."""
        return TenantEntry(
            id=self.tenant_id,
            display_name=self.name,
            users=tuple(
                UserEntry(id=agent_id, display_name=f"{line.name} agent {index:04d}")
                for line in self.lines
                for index, agent_id in enumerate(line.agent_ids)
            ),
            application_instances=tuple(
                ApplicationInstanceEntry(id=line.line_id, display_name=f"{line.name} line")
                for line in self.lines
            ),
        )


ROUTING_LINE = "Routing"
HOLD_LINE = "Hold"
WAITING_LINE = "Waiting"


def routing_tenant(*, agents: int, hold_agents: int, wrap_up_s: int) -> TenantSpec:
    """The tenant of the routing phases: free agents on one line, a line whose calls wait."""
    tenant_id = bench_id("tenant:routing")
    return TenantSpec(
        tenant_id=tenant_id,
        name="Bench routing",
        lines=(
            LineSpec(
                tenant_id=tenant_id,
                name=ROUTING_LINE,
                agents=agents,
                available=True,
                wrap_up_s=wrap_up_s,
            ),
            LineSpec(tenant_id=tenant_id, name=HOLD_LINE, agents=hold_agents, available=False),
        ),
    )


def memory_tenant(*, agents: int) -> TenantSpec:
    """The tenant of the memory phase: every agent signed in but away, so calls wait."""
    tenant_id = bench_id("tenant:memory")
    return TenantSpec(
        tenant_id=tenant_id,
        name="Bench memory",
        lines=(LineSpec(tenant_id=tenant_id, name=WAITING_LINE, agents=agents, available=False),),
    )
