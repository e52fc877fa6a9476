"""A caller's recent calls: what an agent on the line sees of who is calling.

Call records have no top-level caller field to query on, so this reads the tenant's newest
records of the last :data:`HISTORY_DAYS` days (at most :data:`HISTORY_RECORDS`) and keeps
the caller's: one query, bounded whatever the tenant's size, newest first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from contactcenter.codec import format_timestamp
from contactcenter.model import CallRecord, Party, PartyKind
from contactcenter.ports import Condition, Op
from contactcenter.records import is_record_of
from contactcenter.repository import Repository

HISTORY_DAYS = 30
HISTORY_RECORDS = 500


async def recent_calls_of(
    repository: Repository,
    tenant_id: str,
    caller: Party,
    now: datetime,
    *,
    limit: int = 5,
    leaving_out: str | None = None,
) -> list[CallRecord]:
    """Return the caller's latest calls (by number or Teams user id), newest first.

    ``leaving_out`` is the call at hand: its own records (earlier legs) are not history.
    """
    if caller.kind is PartyKind.ANONYMOUS or not caller.id:
        return []
    found = await repository.call_records.find(
        tenant_id,
        (Condition("endedAt", Op.GE, format_timestamp(now - timedelta(days=HISTORY_DAYS))),),
        order_by=(("endedAt", True),),
        limit=HISTORY_RECORDS,
    )
    calls: list[CallRecord] = []
    for item in found:
        record = item.value
        if record.caller.kind is not caller.kind or record.caller.id != caller.id:
            continue
        if leaving_out is not None and is_record_of(leaving_out, record.id):
            continue
        calls.append(record)
        if len(calls) >= limit:
            break
    return calls
