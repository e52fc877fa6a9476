"""Shared voicemail as a way out: record the caller's message, keep it, thank them.

The message is fetched from Graph, stored as a media blob and written as a Voicemail
document (one per call, so a retry finds it); the queue's agents are told.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contactcenter.engine.alerts import Alerts
from contactcenter.engine.codecs import Purpose, media_context
from contactcenter.engine.context import EngineContext, log_extra
from contactcenter.engine.endings import Endings
from contactcenter.engine.leaving import Departures
from contactcenter.engine.prompts import SILENT, Prompts
from contactcenter.engine.store import CallStore
from contactcenter.engine.timing import close_offer
from contactcenter.errors import Conflict, DomainError
from contactcenter.events import OperationFinished, OperationStatus
from contactcenter.media import StandardPrompt, wav_duration_s
from contactcenter.model import Call, CallOutcome, CallState, Leaving, Voicemail
from contactcenter.repository import Versioned
from contactcenter.voicemail import MAX_RECORDING_S, recording_media_id, voicemail_id

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class VoicemailRecorder:
    """Records messages for queues' shared voicemail (the engine's :class:`Recorder`)."""

    ctx: EngineContext
    store: CallStore
    prompts: Prompts
    alerts: Alerts
    endings: Endings
    departures: Departures

    async def begin(
        self, current: Versioned[Call], base: Call, leaving: Leaving, now: datetime, key: str | None
    ) -> None:
        """Record a message for a queue's shared voicemail."""
        if not self.ctx.can_record():
            await self.endings.finish(
                current,
                leaving.outcome,
                f"{leaving.reason}: voicemail unavailable",
                now,
                base=base,
                key=key,
            )
            return
        allowance = MAX_RECORDING_S + self.ctx.settings.prompt_allowance_s
        new, offer = close_offer(
            current.value,
            replace(
                base,
                state=CallState.VOICEMAIL,
                leaving=leaving,
                media_seq=base.media_seq + 1,
                due_at=now + timedelta(seconds=allowance),
            ),
            now,
        )
        saved = await self.endings.commit_closing_offer(current, new, offer, now, key)
        await self._record(saved, now)

    async def _record(self, current: Versioned[Call], now: datetime) -> None:
        call = current.value
        leaving = call.leaving
        assert leaving is not None
        prompts = self.prompts.leave_prompts(call, leaving)
        try:
            # The recording barges in: music still queued on the call is cancelled.
            await self.ctx.call_control.record_response(
                call.id,
                prompt=prompts[0] if prompts else None,
                max_duration_s=MAX_RECORDING_S,
                client_context=media_context(call.media_seq, Purpose.RECORD),
            )
        except DomainError as err:
            _LOGGER.warning("recordResponse failed: %s", err, extra=log_extra(call))
            await self.endings.finish(
                current, leaving.outcome, f"{leaving.reason}: not recorded", now
            )

    async def recording_done(
        self, current: Versioned[Call], event: OperationFinished, level: int, now: datetime
    ) -> None:
        """Keep the message: fetch it, store it, write the voicemail, alert the agents."""
        call = current.value
        leaving = call.leaving
        if call.state is not CallState.VOICEMAIL or leaving is None:
            return
        endings = self.endings
        if event.status is OperationStatus.FAILED:
            if level < SILENT:
                # Again with the standard prompt, then with none: a caller can always speak.
                retry = replace(call, media_fallback=level, media_seq=call.media_seq + 1)
                await self._record(await self.store.commit(current, retry), now)
                return
            await endings.finish(current, leaving.outcome, f"{leaving.reason}: not recorded", now)
            return
        location, token = event.recording_location, event.recording_access_token
        recordings, media = self.ctx.recordings, self.ctx.media
        data = b""
        if location and token and recordings is not None and media is not None:
            try:
                data = await recordings.fetch(location, token)
                if data:
                    await media.put(call.tenant_id, recording_media_id(call.id), data)
            except DomainError as err:
                _LOGGER.warning("Voicemail not saved: %s", err, extra=log_extra(call))
                data = b""
        if not data:
            await endings.finish(current, leaving.outcome, f"{leaving.reason}: no message", now)
            return
        box_id = leaving.voicemail_queue_id or ""
        box = await self.store.queue(call.tenant_id, box_id)
        message = Voicemail(
            id=voicemail_id(call.id),
            tenant_id=call.tenant_id,
            queue_id=box_id,
            call_id=call.id,
            caller=call.caller,
            recorded_at=now,
            media_id=recording_media_id(call.id),
            queue_name=box.name if box is not None else "",
            duration_s=wav_duration_s(data),
            size_bytes=len(data),
            ivr_path=call.ivr_path,
        )
        try:
            await self.ctx.repository.voicemails.create(message)
            created = True
        except Conflict:
            created = False
        thanks = Leaving(
            CallOutcome.VOICEMAIL,
            f"{leaving.reason}: message left",
            standard_prompts=(StandardPrompt.VOICEMAIL_THANKS.value,),
        )
        await self.departures.start(
            current, replace(call, voicemail_id=message.id), thanks, now, None
        )
        if created:
            _LOGGER.info("Voicemail left for %s", message.queue_name, extra=log_extra(call))
            await self.alerts.voicemail_left(call, message, box.members if box else ())

    async def due(self, current: Versioned[Call], now: datetime) -> None:
        """The recording's completion never came."""
        leaving = current.value.leaving
        outcome = leaving.outcome if leaving is not None else CallOutcome.FAILED
        reason = leaving.reason if leaving is not None else "voicemail"
        await self.endings.finish(
            current, outcome, f"{reason}: the recording did not complete", now
        )
