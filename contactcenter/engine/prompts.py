"""What a caller hears: prompts resolved for a call, and the media operations that play them.

A prompt slot names a configured prompt and the standard prompt it stands for; a call's
fallback level (configured, standard, silent) decides which is played, and goes down a
level each time Graph cannot play what it was given.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from contactcenter.announcements import (
    LONG_WINDOW_S,
    SHORT_WINDOW_S,
    AnswerRate,
    comfort_parts,
    estimated_wait_s,
)
from contactcenter.callbacks import is_e164
from contactcenter.codec import format_timestamp
from contactcenter.engine.codecs import Purpose, media_context
from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.errors import DomainError
from contactcenter.media import StandardPrompt, standard_prompt
from contactcenter.model import Call, CallOutcome, CallState, Leaving, PartyKind, Queue
from contactcenter.ports import Condition, MediaPrompt, Op

_LOGGER = logging.getLogger(__name__)

# Media fallback levels: configured prompts, the standard set, silence.
CONFIGURED, STANDARD, SILENT = 0, 1, 2
# Graph plays at most 20 prompts per playPrompt.
_MAX_PROMPTS = 20
# Queues whose answer rate is remembered before the memory starts afresh.
_QUEUES_CACHED = 1024
# States in which the call may have prompts playing (music, a menu, a last message).
MEDIA_PLAYING = frozenset({CallState.WAITING, CallState.RINGING, CallState.MENU, CallState.LEAVING})


@dataclass(frozen=True, slots=True)
class Slot:
    """One prompt of an announcement: a configured prompt, or the standard part it stands for."""

    standard: str
    custom: str | None = None


def prompt_ids(*ids: str | None) -> tuple[str, ...]:
    """Return the configured prompt ids given (None and empty left out)."""
    return tuple(p for p in ids if p)


def prompt_names(*parts: StandardPrompt | None) -> tuple[str, ...]:
    """Return the names of the standard prompts given (None left out)."""
    return tuple(p.value for p in parts if p is not None)


def can_call_back(call: Call) -> bool:
    """Return whether the caller has an E.164 number to call back on."""
    return call.caller.kind is PartyKind.PHONE and is_e164(call.caller.id)


@dataclass(slots=True)
class Prompts:
    """Resolves prompts for calls and plays, cancels and listens through call control."""

    ctx: EngineContext

    # ---------------------------------------------------------- resolving
    def queue_prompts(self, queue: Queue) -> list[MediaPrompt]:
        """Return the prompts to prefetch when answering a queue's call."""
        slots = self.hold_slots(queue, greeting=True)
        return self.resolve(queue.tenant_id, queue.language, CONFIGURED, slots)

    def hold_slots(self, queue: Queue | None, *, greeting: bool) -> list[Slot]:
        """Return music on hold (after the greeting, if asked) for a queue or the default."""
        greeting_id = music_id = None
        if queue is not None:
            greeting_id = queue.greeting_prompt_id
            music_id = queue.music_prompt_id
        greeting_id = greeting_id or self.ctx.settings.default_greeting_prompt_id
        music_id = music_id or self.ctx.settings.default_music_prompt_id
        slots = [Slot(StandardPrompt.MUSIC, music_id)]
        if greeting:
            slots.insert(0, Slot(StandardPrompt.GREETING, greeting_id))
        return slots

    def media_prompts(self, call: Call, slots: Sequence[Slot]) -> list[MediaPrompt]:
        """Resolve slots into prompts at the call's fallback level (empty: silence)."""
        return self.resolve(call.tenant_id, call.language, call.media_fallback, slots)

    def resolve(
        self, tenant_id: str, language: str, level: int, slots: Sequence[Slot]
    ) -> list[MediaPrompt]:
        base = self.ctx.settings.prompt_base_url.rstrip("/")
        if not base or level >= SILENT:
            return []
        prompts = []
        for slot in slots:
            if slot.custom and level == CONFIGURED:
                prompt_id = slot.custom
            else:
                prompt_id = standard_prompt(slot.standard, language)
            prompts.append(
                MediaPrompt(uri=f"{base}/{tenant_id}/{prompt_id}.wav", resource_id=prompt_id)
            )
        return prompts[:_MAX_PROMPTS]

    def leave_prompts(self, call: Call, leaving: Leaving) -> list[MediaPrompt]:
        """Return a leaving call's prompts: configured ones, else the standard parts."""
        if call.media_fallback == CONFIGURED and leaving.prompt_ids:
            slots = [Slot(StandardPrompt.GOODBYE, prompt_id) for prompt_id in leaving.prompt_ids]
        else:
            slots = [Slot(name) for name in leaving.standard_prompts]
        return self.media_prompts(call, slots)

    # ------------------------------------------------------------ playing
    async def play(self, call: Call, slots: Sequence[Slot], purpose: Purpose) -> bool:
        """Play prompts on the call (its ``media_seq`` names the operation); False if none."""
        prompts = self.media_prompts(call, slots)
        return await self.play_prompts(call, prompts, purpose)

    async def play_prompts(
        self, call: Call, prompts: Sequence[MediaPrompt], purpose: Purpose
    ) -> bool:
        if not prompts:
            return False
        try:
            await self.ctx.call_control.play_prompt(
                call.id, prompts, client_context=media_context(call.media_seq, purpose)
            )
        except DomainError as err:
            _LOGGER.warning("playPrompt failed: %s", err, extra=log_extra(call))
            return False
        return True

    async def cancel_media(self, call: Call) -> None:
        try:
            await self.ctx.call_control.cancel_media_processing(
                call.id, client_context=f"cancel:{call.id}"
            )
        except DomainError as err:
            _LOGGER.info("cancelMediaProcessing: %s", err, extra=log_extra(call))

    async def subscribe_tones(self, call: Call) -> None:
        try:
            await self.ctx.call_control.subscribe_to_tone(
                call.id, client_context=f"tones:{call.id}"
            )
        except DomainError as err:
            _LOGGER.warning("subscribeToTone failed: %s", err, extra=log_extra(call))

    # ------------------------------------------------------------ comfort
    async def comfort_slots(self, call: Call, queue: Queue, now: datetime) -> list[Slot]:
        """Return a comfort message: thanks, position, estimated wait, callback offer."""
        position: int | None = None
        wait_s: float | None = None
        if queue.announce_position or queue.announce_wait:
            position = await self._position(call)
        if queue.announce_wait and position is not None:
            wait_s = estimated_wait_s(position, await self._answer_rate(queue, now))
        callback_key = (
            queue.callback.key if queue.callback.offered and can_call_back(call) else None
        )
        names = comfort_parts(
            position=position if queue.announce_position else None,
            wait_s=wait_s,
            callback_key=callback_key,
        )
        slots = [Slot(name) for name in names]
        slots[0] = Slot(StandardPrompt.COMFORT, queue.comfort_prompt_id)
        return slots

    async def _position(self, call: Call) -> int:
        """Return the call's place in its queue's line (1 = next)."""
        line = (
            Condition("queueId", Op.EQ, call.queue_id),
            Condition("state", Op.EQ, CallState.WAITING.value),
        )
        ahead = await self.ctx.repository.calls.count(
            call.tenant_id, (*line, Condition("priority", Op.GT, call.priority))
        )
        if call.offered_at is not None:
            ahead += await self.ctx.repository.calls.count(
                call.tenant_id,
                (
                    *line,
                    Condition("priority", Op.EQ, call.priority),
                    Condition("offeredAt", Op.LT, format_timestamp(call.offered_at)),
                ),
            )
        return ahead + 1

    async def _answer_rate(self, queue: Queue, now: datetime) -> AnswerRate:
        """Return how fast the queue answered calls lately (from its call records)."""
        key = (queue.tenant_id, queue.id)
        rates = self.ctx.rates
        clock = self.ctx.clock.monotonic()
        cached = rates.get(key)
        if cached is not None and clock - cached[0] < self.ctx.settings.answer_rate_cache_s:
            return cached[1]
        counts = []
        for window in (SHORT_WINDOW_S, LONG_WINDOW_S):
            counts.append(
                await self.ctx.repository.call_records.count(
                    queue.tenant_id,
                    (
                        Condition("queueId", Op.EQ, queue.id),
                        Condition("outcome", Op.EQ, CallOutcome.ANSWERED.value),
                        Condition(
                            "endedAt", Op.GE, format_timestamp(now - timedelta(seconds=window))
                        ),
                    ),
                )
            )
        rate = AnswerRate(counts[0], counts[1])
        if len(rates) >= _QUEUES_CACHED:
            rates.clear()
        rates[key] = (clock, rate)
        return rate
