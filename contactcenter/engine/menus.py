"""IVR menus in front of queues: play a menu, wait for a key, do what the key says."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contactcenter.engine.codecs import Purpose
from contactcenter.engine.context import EngineContext
from contactcenter.engine.endings import Endings
from contactcenter.engine.leaving import Departures
from contactcenter.engine.prompts import SILENT, Prompts, Slot, prompt_ids, prompt_names
from contactcenter.engine.queueing import Queueing, action_party, in_queue
from contactcenter.engine.store import CallStore
from contactcenter.hours import HoursVerdict, OpenState
from contactcenter.ivr import MenuStep, StepKind, find_menu, on_timeout
from contactcenter.media import StandardPrompt
from contactcenter.model import (
    ActionKind,
    Call,
    CallOutcome,
    CallState,
    Ivr,
    LeaveStep,
    Leaving,
    Menu,
    MenuActionKind,
    MenuOption,
    Party,
    PartyKind,
    Queue,
    QueueAction,
)
from contactcenter.repository import Versioned


def menu_slots(
    ivr: Ivr, menu: Menu, *, greeting: bool, notice: StandardPrompt | None
) -> list[Slot]:
    """Return what a menu says: a notice (e.g. "not a valid choice"), the greeting, the menu."""
    slots = []
    if notice is not None:
        slots.append(Slot(notice))
    if greeting and ivr.greeting_prompt_id:
        slots.append(Slot(StandardPrompt.GREETING, ivr.greeting_prompt_id))
    slots.append(Slot(StandardPrompt.CHOOSE, menu.prompt_id))
    return slots


@dataclass(slots=True)
class Menus:
    """Takes callers through IVR menus to a queue, a person, voicemail or goodbye."""

    ctx: EngineContext
    store: CallStore
    prompts: Prompts
    endings: Endings
    departures: Departures
    queueing: Queueing

    async def enter(
        self,
        current: Versioned[Call],
        menu_id: str,
        now: datetime,
        key: str | None,
        *,
        greeting: bool = False,
        notice: StandardPrompt | None = None,
        tries: int = 0,
        path: tuple[str, ...] = (),
        base: Call | None = None,
    ) -> None:
        """Put the caller in a menu: play it and wait for a key."""
        call = base or current.value
        ivr = await self.store.ivr(call.tenant_id, call.ivr_id)
        menu = find_menu(ivr, menu_id) if ivr is not None else None
        if ivr is None or menu is None:
            await self.endings.finish(
                current, CallOutcome.FAILED, f"IVR menu {menu_id} is gone", now, key=key
            )
            return
        prompts = self.prompts
        slots = menu_slots(ivr, menu, greeting=greeting, notice=notice)
        playing = prompts.media_prompts(replace(call, media_seq=call.media_seq + 1), slots)
        wait = menu.timeout_s + (self.ctx.settings.prompt_allowance_s if playing else 0)
        was_playing = call.state is CallState.MENU
        entering = call.state is not CallState.MENU or menu.id != call.menu_id
        new = replace(
            call,
            state=CallState.MENU,
            menu_id=menu.id,
            menu_tries=tries,
            ivr_path=(*call.ivr_path, *path, *((f"menu:{menu.id}",) if entering else ())),
            media_seq=call.media_seq + 1,
            tones=True,
            due_at=now + timedelta(seconds=wait),
        )
        saved = await self.store.commit(current, new, key)
        if not call.tones:
            await prompts.subscribe_tones(call)
        if was_playing and self.ctx.media_on:
            await prompts.cancel_media(call)
        if playing and not await prompts.play_prompts(saved.value, playing, Purpose.MENU):
            await self.store.commit(
                saved, replace(saved.value, due_at=now + timedelta(seconds=menu.timeout_s))
            )

    async def prompt_done(
        self, current: Versioned[Call], level: int, failed: bool, now: datetime
    ) -> None:
        """The menu has played: wait for a key (replay it from the standard set if it failed)."""
        call = current.value
        if call.state is not CallState.MENU:
            return
        ivr = await self.store.ivr(call.tenant_id, call.ivr_id)
        menu = find_menu(ivr, call.menu_id) if ivr is not None else None
        if ivr is None or menu is None:
            return
        if failed and level < SILENT:
            new = replace(call, media_fallback=level, media_seq=call.media_seq + 1)
            saved = await self.store.commit(current, new)
            if await self.prompts.play(
                saved.value, menu_slots(ivr, menu, greeting=False, notice=None), Purpose.MENU
            ):
                return
            current, call = saved, saved.value
        new = replace(call, media_fallback=level, due_at=now + timedelta(seconds=menu.timeout_s))
        await self.store.commit(current, new)

    async def due(self, current: Versioned[Call], now: datetime) -> None:
        """No key came in time."""
        call = current.value
        ivr = await self.store.ivr(call.tenant_id, call.ivr_id)
        menu = find_menu(ivr, call.menu_id) if ivr is not None else None
        if ivr is None or menu is None:
            await self.endings.finish(current, CallOutcome.FAILED, "IVR menu is gone", now)
            return
        await self.step(current, ivr, menu, on_timeout(menu, call.menu_tries), now, None)

    async def step(
        self,
        current: Versioned[Call],
        ivr: Ivr,
        menu: Menu,
        step: MenuStep,
        now: datetime,
        key: str | None,
        *,
        key_pressed: str | None = None,
    ) -> None:
        """Do what a key (or the lack of one) decided in a menu."""
        path = (f"key:{key_pressed}",) if key_pressed is not None else ("no-input",)
        if step.kind is StepKind.RETRY:
            await self.enter(
                current, menu.id, now, key, notice=step.notice, tries=step.tries, path=path
            )
            return
        call = replace(current.value, ivr_path=(*current.value.ivr_path, *path))
        if step.kind is StepKind.DISCONNECT or step.option is None:
            leaving = Leaving(
                CallOutcome.REJECTED,
                "IVR: no valid choice",
                standard_prompts=prompt_names(step.notice, StandardPrompt.GOODBYE),
            )
            await self.departures.start(current, call, leaving, now, key)
            return
        await self._option(current, call, ivr, menu, step.option, now, key, tries=step.tries)

    async def _option(
        self,
        current: Versioned[Call],
        call: Call,
        ivr: Ivr,
        menu: Menu,
        option: MenuOption,
        now: datetime,
        key: str | None,
        *,
        tries: int,
    ) -> None:
        kind, target = option.action, option.target or ""
        departures = self.departures
        if kind is MenuActionKind.MENU:
            await self.enter(current, target, now, key, base=call)
        elif kind is MenuActionKind.REPEAT:
            await self.enter(current, menu.id, now, key, tries=tries, base=call)
        elif kind is MenuActionKind.QUEUE:
            await self._to_queue(current, call, target, now, key)
        elif kind in (MenuActionKind.USER, MenuActionKind.NUMBER):
            party_kind = PartyKind.USER if kind is MenuActionKind.USER else PartyKind.PHONE
            leaving = Leaving(
                CallOutcome.TRANSFERRED,
                f"IVR: transferred to {target}",
                step=LeaveStep.TRANSFER,
                standard_prompts=(StandardPrompt.TRANSFERRING.value,),
                transfer_to=Party(party_kind, target),
            )
            await departures.start(current, call, leaving, now, key)
        elif kind is MenuActionKind.VOICEMAIL:
            leaving = Leaving(
                CallOutcome.REJECTED,
                "IVR: voicemail",
                standard_prompts=(StandardPrompt.VOICEMAIL.value,),
                voicemail_queue_id=target,
            )
            await departures.start(current, replace(call, queue_id=None), leaving, now, key)
        else:
            leaving = Leaving(
                CallOutcome.REJECTED,
                "IVR: disconnected",
                standard_prompts=(StandardPrompt.GOODBYE.value,),
            )
            await departures.start(current, call, leaving, now, key)

    async def _to_queue(
        self, current: Versioned[Call], call: Call, queue_id: str, now: datetime, key: str | None
    ) -> None:
        """Send a caller from a menu into a queue (its hours apply)."""
        queue = await self.store.queue(call.tenant_id, queue_id)
        if queue is None:
            leaving = Leaving(
                CallOutcome.FAILED,
                f"IVR: queue {queue_id} does not exist",
                standard_prompts=(StandardPrompt.UNAVAILABLE.value,),
            )
            await self.departures.start(current, call, leaving, now, key)
            return
        hours = await self.store.hours_verdict(call.tenant_id, queue.hours, now)
        if not hours.is_open:
            await self._closed(current, call, queue, hours, now, key)
            return
        await self._enter_queue(current, call, queue, now, key)

    async def _enter_queue(
        self, current: Versioned[Call], call: Call, queue: Queue, now: datetime, key: str | None
    ) -> None:
        # Until now the priority held the VIP boost alone (see Incoming.admit_to_ivr).
        base = replace(
            in_queue(call, queue, call.priority),
            ivr_path=(*call.ivr_path, f"queue:{queue.id}"),
        )
        if self.ctx.media_on:
            await self.prompts.cancel_media(call)
        await self.queueing.start_queueing(current, now, key, base=base, queue=queue)

    async def _closed(
        self,
        current: Versioned[Call],
        call: Call,
        queue: Queue,
        hours: HoursVerdict,
        now: datetime,
        key: str | None,
    ) -> None:
        """Apply a closed queue's action to a call already answered (it came from an IVR)."""
        action = hours.action or QueueAction()
        reason = "closed" if hours.state is not OpenState.HOLIDAY else f"holiday: {hours.holiday}"
        if action.kind is ActionKind.QUEUE and action.target and action.target != queue.id:
            target = await self.store.queue(call.tenant_id, action.target)
            if target is not None:
                await self._enter_queue(current, call, target, now, key)
                return
        party = action_party(action)
        if party is not None:
            leaving = Leaving(
                CallOutcome.TRANSFERRED,
                f"{reason}: transferred to {party.id}",
                step=LeaveStep.TRANSFER,
                standard_prompts=(StandardPrompt.TRANSFERRING.value,),
                transfer_to=party,
            )
        elif action.kind is ActionKind.VOICEMAIL:
            leaving = Leaving(
                CallOutcome.REJECTED,
                reason,
                prompt_ids=prompt_ids(action.prompt_id),
                standard_prompts=(StandardPrompt.VOICEMAIL.value,),
                voicemail_queue_id=action.target or queue.id,
            )
        else:
            standard = (
                StandardPrompt.HOLIDAY
                if hours.state is OpenState.HOLIDAY
                else StandardPrompt.CLOSED
            )
            leaving = Leaving(
                CallOutcome.REJECTED,
                reason,
                prompt_ids=prompt_ids(action.prompt_id),
                standard_prompts=(standard.value,),
            )
        await self.departures.start(
            current, replace(call, language=queue.language), leaving, now, key
        )
