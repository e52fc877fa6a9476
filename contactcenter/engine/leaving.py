"""A call's way out: its last prompt, then hang up, transfer, or wait for a callback key.

Voicemail is a way out too; the voicemail layer records it (:class:`Recorder`), and is
reached only through that seam, since it leaves by this layer once the message is kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from contactcenter.engine.codecs import Purpose
from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.engine.endings import Endings
from contactcenter.engine.prompts import MEDIA_PLAYING, SILENT, Prompts
from contactcenter.engine.store import CallStore
from contactcenter.engine.timing import close_offer
from contactcenter.errors import DomainError
from contactcenter.model import Call, CallOutcome, CallState, LeaveStep, Leaving
from contactcenter.repository import Versioned


class Recorder(Protocol):
    """Takes a caller's message for a queue's shared voicemail."""

    async def begin(
        self,
        current: Versioned[Call],
        base: Call,
        leaving: Leaving,
        now: datetime,
        key: str | None,
    ) -> None: ...


_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class Departures:
    """Takes calls out of the contact center the way their ``Leaving`` says."""

    ctx: EngineContext
    store: CallStore
    prompts: Prompts
    endings: Endings
    # Set by the engine when it wires its layers (voicemail leaves by this layer).
    recorder: Recorder = field(init=False)

    async def start(
        self,
        current: Versioned[Call],
        base: Call,
        leaving: Leaving,
        now: datetime,
        key: str | None,
    ) -> None:
        """Start a call's way out: its prompt, then what ``leaving.step`` says."""
        if leaving.voicemail_queue_id is not None:
            await self.recorder.begin(current, base, leaving, now, key)
            return
        stored = current.value
        new, offer = close_offer(
            stored,
            replace(
                base,
                state=CallState.LEAVING,
                leaving=leaving,
                media_seq=base.media_seq + 1,
                due_at=now + timedelta(seconds=self.ctx.settings.prompt_allowance_s),
            ),
            now,
        )
        media_on = self.ctx.media_on
        prompts = self.prompts.leave_prompts(new, leaving) if media_on else []
        if not prompts and leaving.step in (LeaveStep.HANG_UP, LeaveStep.CALLBACK_CONFIRM):
            await self.endings.finish(
                current, leaving.outcome, leaving.reason, now, base=base, key=key
            )
            return
        saved = await self.endings.commit_closing_offer(current, new, offer, now, key)
        if stored.state in MEDIA_PLAYING and media_on:
            await self.prompts.cancel_media(stored)
        if not await self.prompts.play_prompts(saved.value, prompts, Purpose.LEAVE):
            await self._after_prompt(saved, now)

    async def prompt_done(
        self, current: Versioned[Call], level: int, failed: bool, now: datetime
    ) -> None:
        """The leaving prompt ended (or failed: then it is tried a level down)."""
        call = current.value
        leaving = call.leaving
        if call.state is not CallState.LEAVING or leaving is None or leaving.prompt_done:
            return
        if failed and level < SILENT:
            new = replace(call, media_fallback=level, media_seq=call.media_seq + 1)
            prompts = self.prompts.leave_prompts(new, leaving)
            saved = await self.store.commit(current, new)
            if await self.prompts.play_prompts(saved.value, prompts, Purpose.LEAVE):
                return
            current = saved
        await self._after_prompt(current, now)

    async def _after_prompt(self, current: Versioned[Call], now: datetime) -> None:
        """The leaving prompt has played (or could not): take the next step."""
        call = current.value
        leaving = call.leaving
        assert leaving is not None
        if leaving.step is LeaveStep.TRANSFER and leaving.transfer_to is not None:
            transferring = replace(leaving, prompt_done=True, transferring=True)
            due = now + timedelta(seconds=self.ctx.settings.transfer_timeout_s)
            saved = await self.store.commit(
                current, replace(call, leaving=transferring, due_at=due)
            )
            try:
                await self.ctx.call_control.transfer(call.id, leaving.transfer_to)
            except DomainError as err:
                _LOGGER.warning("Transfer failed: %s", err, extra=log_extra(call))
                await self.endings.finish(
                    saved, leaving.outcome, f"{leaving.reason} (transfer failed)", now
                )
            return
        if leaving.step is LeaveStep.CALLBACK_OFFER:
            queue = await self.store.queue(call.tenant_id, call.queue_id)
            wait = queue.callback.offer_timeout_s if queue is not None else 10
            waiting = replace(leaving, prompt_done=True)
            await self.store.commit(
                current, replace(call, leaving=waiting, due_at=now + timedelta(seconds=wait))
            )
            return
        await self.endings.finish(current, leaving.outcome, leaving.reason, now)

    async def due(self, current: Versioned[Call], now: datetime) -> None:
        """A leaving call's timer: its prompt, transfer or callback key took too long."""
        call = current.value
        leaving = call.leaving
        if leaving is None:
            await self.endings.finish(current, CallOutcome.FAILED, "left without a plan", now)
            return
        if leaving.transferring:
            await self.endings.finish(
                current, leaving.outcome, f"{leaving.reason} (transfer not completed)", now
            )
        elif leaving.step is LeaveStep.CALLBACK_OFFER and leaving.prompt_done:
            await self.endings.finish(current, leaving.outcome, leaving.reason, now)
        else:
            # The prompt's completion never came: go on as if it had.
            await self._after_prompt(current, now)
