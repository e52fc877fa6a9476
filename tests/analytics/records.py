"""Hand-made call records for the KPI tests: every number the tests expect is worked out
by hand from this table, in the tests themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contactcenter.model import CallOutcome, CallRecord, Party, PartyKind

TENANT = "tenant-kpi"
SALES = "queue-sales"
SUPPORT = "queue-support"
ANA = "agent-ana"
BEN = "agent-ben"
DAY = datetime(2026, 3, 2, tzinfo=UTC)


def at(hh: int, mm: int, ss: float = 0.0) -> datetime:
    return DAY + timedelta(hours=hh, minutes=mm, seconds=ss)


def record(
    call_id: str,
    offered: datetime | None,
    outcome: CallOutcome,
    *,
    wait: float = 0.0,
    talk: float = 0.0,
    hold: float = 0.0,
    wrap: float = 0.0,
    agent: str | None = None,
    missed: tuple[str, ...] = (),
    queue: str | None = SALES,
    threshold: float = 20,
) -> CallRecord:
    answered = offered + timedelta(seconds=wait) if agent and offered else None
    ended = (answered or offered or at(12, 0)) + timedelta(
        seconds=talk + hold if answered else (wait if offered else 0)
    )
    return CallRecord(
        id=call_id,
        tenant_id=TENANT,
        chain_id=f"chain-{call_id}",
        direction="incoming",
        caller=Party(PartyKind.PHONE, "+14255550100"),
        queue_id=queue,
        queue_name={SALES: "Sales", SUPPORT: "Support"}.get(queue or "", ""),
        offered_at=offered,
        ended_at=ended,
        outcome=outcome,
        answered_at=answered,
        wait_s=wait,
        talk_s=talk,
        hold_s=hold,
        wrap_up_s=wrap,
        met_service_level=outcome is CallOutcome.ANSWERED and wait <= threshold,
        agent_id=agent,
        agent_name={ANA: "Ana", BEN: "Ben"}.get(agent or "", ""),
        missed_agent_ids=missed,
    )


A = CallOutcome
# id, offered, outcome, wait, talk, hold, wrap, agent, missed
RECORDS: tuple[CallRecord, ...] = (
    record("r01", at(9, 0), A.ANSWERED, wait=5, talk=100, wrap=10, agent=ANA),
    record("r02", at(9, 1), A.ANSWERED, wait=20, talk=200, wrap=10, agent=BEN),
    record("r03", at(9, 2), A.ANSWERED, wait=25, talk=60, wrap=10, agent=ANA, missed=(BEN,)),
    record("r04", at(9, 5), A.ANSWERED, wait=40, talk=140, hold=30, wrap=10, agent=BEN),
    record("r05", at(9, 20), A.ABANDONED, wait=8),
    record("r06", at(9, 21), A.ABANDONED, wait=35, missed=(ANA,)),
    record("r07", at(9, 22), A.OVERFLOWED),
    record("r08", at(9, 40), A.TIMED_OUT, wait=120),
    record("r09", at(9, 41), A.NO_AGENT),
    record("r10", at(9, 42), A.VOICEMAIL, wait=50),
    record("r11", at(10, 0), A.CALLBACK_REQUESTED, wait=15),
    record("r12", None, A.REJECTED, queue=None),
    record("r13", None, A.FAILED),
    record("r14", at(10, 5), A.ANSWERED, wait=12.5, talk=90, wrap=10, agent=ANA),
)

# Sampled time available and idle, per agent (seconds).
AVAILABLE_IDLE_S = {ANA: 800.0, BEN: 530.0}
