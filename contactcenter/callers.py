"""Blocked and VIP callers: who is refused, and who is served first.

One document per tenant (:class:`~contactcenter.model.CallerList`), cached briefly by the
engine, so checking a caller costs no store request on a running host.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contactcenter.callbacks import is_e164
from contactcenter.errors import InvalidInput
from contactcenter.model import CallerList, CallerListEntry, CallerListKind, Party, PartyKind

CALLER_LIST_ID = "callers"
MAX_ENTRIES = 20_000
MAX_BOOST = 1000


@dataclass(frozen=True, slots=True)
class CallerVerdict:
    """What the caller lists say about one caller."""

    blocked: bool = False
    reason: str = ""
    priority_boost: int = 0

    @property
    def vip(self) -> bool:
        return self.priority_boost > 0


def _key(kind: PartyKind, value: str) -> tuple[PartyKind, str]:
    return kind, value.lower() if kind is PartyKind.USER else value


def check_caller(caller_list: CallerList | None, caller: Party) -> CallerVerdict:
    """Return whether ``caller`` is blocked or a VIP (blocked wins)."""
    if caller_list is None or caller.kind is PartyKind.ANONYMOUS or not caller.id:
        return CallerVerdict()
    key = _key(caller.kind, caller.id)
    boost = 0
    for entry in caller_list.entries:
        if _key(entry.party_kind, entry.value) != key:
            continue
        if entry.kind is CallerListKind.BLOCKED:
            return CallerVerdict(blocked=True, reason=entry.reason or "blocked caller")
        boost = max(boost, entry.priority_boost)
    return CallerVerdict(priority_boost=boost)


def validate_caller_list(entries: Iterable[CallerListEntry]) -> tuple[CallerListEntry, ...]:
    """Return the entries if each names an E.164 number or a user id once; else raise."""
    checked: list[CallerListEntry] = []
    seen: set[tuple[PartyKind, str]] = set()
    for index, entry in enumerate(entries):
        where = f"entries[{index}]"
        if entry.party_kind is PartyKind.PHONE and not is_e164(entry.value):
            raise InvalidInput(f"{entry.value!r} is not an E.164 number", field=f"{where}.value")
        if entry.party_kind is PartyKind.USER and not entry.value.strip():
            raise InvalidInput("a user entry needs the user's id", field=f"{where}.value")
        if entry.party_kind is PartyKind.ANONYMOUS:
            raise InvalidInput("anonymous callers cannot be listed", field=f"{where}.partyKind")
        if entry.kind is CallerListKind.VIP and not 0 < entry.priority_boost <= MAX_BOOST:
            raise InvalidInput(
                f"a VIP's priority boost is 1-{MAX_BOOST}", field=f"{where}.priorityBoost"
            )
        key = _key(entry.party_kind, entry.value)
        if key in seen:
            raise InvalidInput(f"{entry.value} is listed twice", field=f"{where}.value")
        seen.add(key)
        checked.append(entry)
    if len(checked) > MAX_ENTRIES:
        raise InvalidInput(f"at most {MAX_ENTRIES} callers", field="entries")
    return tuple(checked)
