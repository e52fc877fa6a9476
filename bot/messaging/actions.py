"""Answers to the cards' buttons (Universal Actions: ``adaptiveCard/action`` invokes).

Every answer is a card that replaces the one pressed, with a status: 200 for a handled
action (also when the offer was already gone, or the voicemail already handled: the card
says so and nothing changes), 400 for an action this bot does not know or data it cannot
use, 403 for agent actions by someone who is not an agent (of the voicemail's queue).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from bot.cards.agent import status_card
from bot.cards.call import call_panel_card
from bot.cards.notices import error_card, notice_card
from bot.cards.offers import OfferView, offer_accepted_card, offer_card, offer_ended_card
from bot.cards.verbs import (
    CALL_ID,
    CODE_INPUT,
    KIND,
    NOTE_INPUT,
    QUEUE_ID,
    QUEUE_INPUT,
    REASON_INPUT,
    RECORD_ID,
    TRANSFER_AGENT_INPUT,
    TRANSFER_QUEUE_INPUT,
    VOICEMAIL_ID,
    RefreshKind,
    Verb,
)
from bot.cards.voicemail import voicemail_card
from bot.messaging.documents import offer_card_id
from bot.messaging.services import BotServices
from bot.messaging.turns import ActionResult, Turn
from bot.messaging.views import agent_status_view, call_panel_view, voicemail_view
from contactcenter.dispositions import Disposition, DispositionClosed, NotYourCall, save_notes
from contactcenter.engine import NotYourTalk
from contactcenter.errors import Conflict, InvalidInput, NotFound
from contactcenter.inbound import unsafe_character
from contactcenter.model import Agent, AgentStatus, CallOutcome, CallState, PartyKind, Voicemail
from contactcenter.ports import OfferEnd
from contactcenter.voicemail import handle_voicemail, is_agent_of_queue

_LOGGER = logging.getLogger(__name__)

Data = Mapping[str, Any]
AgentAction = Callable[[Turn, Agent, Data], Awaitable[ActionResult]]
AnyoneAction = Callable[[Turn, Data], Awaitable[ActionResult]]

STALE_OFFER = notice_card(
    "This call is no longer available",
    "Another agent took it, the caller hung up, or the offer ran out. Nothing was changed.",
)
GONE_VOICEMAIL = notice_card(
    "This voicemail is gone", "It was deleted or has expired. Nothing was changed."
)
GONE_CALL = notice_card(
    "This call is no longer yours", "It was handed on, or its notes are final. Nothing was changed."
)
STILL_WAITING = notice_card(
    "The caller is still waiting",
    "The call went back to the queue, and the next agent is offered it: nothing to call back yet.",
)


def _bad_request(message: str, code: str = "badRequest") -> ActionResult:
    return ActionResult(error_card("That did not work", message, code=code), status=400)


def _text(data: Data, key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


class CardActions:
    """Dispatch ``Action.Execute`` verbs to their handlers."""

    def __init__(self, services: BotServices) -> None:
        self._services = services
        self._for_agents: dict[Verb, AgentAction] = {
            Verb.ACCEPT: self._accept,
            Verb.DECLINE: self._decline,
            Verb.AVAILABLE: self._available,
            Verb.AWAY: self._away,
            Verb.SIGN_IN: self._sign_in,
            Verb.SIGN_OUT: self._sign_out,
            Verb.VOICEMAIL: self._voicemail,
            Verb.CALLBACK: self._callback,
            Verb.SAVE_NOTES: self._save_notes,
            Verb.TRANSFER_TO_QUEUE: self._transfer_to_queue,
            Verb.TRANSFER_TO_AGENT: self._transfer_to_agent,
            Verb.END_WRAP_UP: self._end_wrap_up,
            Verb.EXTEND_WRAP_UP: self._extend_wrap_up,
            Verb.CALL_BACK: self._call_back,
        }
        self._for_anyone: dict[Verb, AnyoneAction] = {Verb.REFRESH: self._refresh}

    async def handle(self, turn: Turn, verb: str, data: Data) -> ActionResult:
        """Answer one button press."""
        try:
            known = Verb(verb)
        except ValueError:
            _LOGGER.info("Unknown card verb %r", verb, extra={"tenant_id": turn.tenant_id})
            return ActionResult(
                error_card(
                    "Unknown action",
                    f"This card asked for “{verb}”, which I do not know. "
                    "It may come from an older version of the app.",
                    code="unknownVerb",
                ),
                status=400,
            )
        try:
            anyone = self._for_anyone.get(known)
            if anyone is not None:
                return await anyone(turn, data)
            agent = await self._services.agent(turn.tenant_id, turn.user_id)
            if agent is None:
                return ActionResult(
                    error_card(
                        "You are not an agent here",
                        "Only contact center agents can use this button.",
                        code="notAnAgent",
                    ),
                    status=403,
                )
            return await self._for_agents[known](turn, agent, data)
        except InvalidInput as err:
            return _bad_request(str(err), "invalidInput")
        except Conflict:
            return ActionResult(
                notice_card("Please try again", "Your status changed meanwhile."), status=200
            )

    # ------------------------------------------------------------------- offers
    async def _view(self, tenant_id: str, call_id: str, agent_id: str) -> OfferView | None:
        """Return the alert card's view of an offer, from the card sent or from the call."""
        documents = self._services.documents
        try:
            return (
                await documents.offer_cards.get(tenant_id, offer_card_id(call_id, agent_id))
            ).value.view
        except NotFound:
            pass
        try:
            call = (await self._services.repository.calls.get(tenant_id, call_id)).value
        except NotFound:
            return None
        caller = call.caller
        return OfferView(
            call_id=call.id,
            queue_name=call.queue_name,
            caller_name=caller.display_name or caller.id or "Unknown caller",
            caller_number=caller.id if caller.kind is PartyKind.PHONE else "",
            previous_calls=0,
            waited_s=0.0,
            card_first=call.offer.card_first if call.offer is not None else False,
        )

    async def _accept(self, turn: Turn, agent: Agent, data: Data) -> ActionResult:
        call_id = _text(data, CALL_ID)
        if not call_id:
            return _bad_request("The card does not say which call.", "missingCallId")
        accepted = await self._services.engine.accept_offer(turn.tenant_id, call_id, agent.id)
        if not accepted:
            return ActionResult(STALE_OFFER)
        view = await self._view(turn.tenant_id, call_id, agent.id)
        if view is None:
            return ActionResult(notice_card("Accepted", "Your Teams client is ringing."))
        return ActionResult(offer_accepted_card(view))

    async def _decline(self, turn: Turn, agent: Agent, data: Data) -> ActionResult:
        call_id = _text(data, CALL_ID)
        if not call_id:
            return _bad_request("The card does not say which call.", "missingCallId")
        declined = await self._services.engine.decline_offer(turn.tenant_id, call_id, agent.id)
        if not declined:
            return ActionResult(STALE_OFFER)
        view = await self._view(turn.tenant_id, call_id, agent.id)
        if view is None:
            return ActionResult(notice_card("Declined", "The call goes to the next agent."))
        return ActionResult(offer_ended_card(view, OfferEnd.DECLINED))

    # ---------------------------------------------------------------- voicemail
    async def _queue_voicemail(self, turn: Turn, voicemail_id: str) -> Voicemail | ActionResult:
        """Return the voicemail if the user is an agent of its queue, else the answer."""
        repository = self._services.repository
        try:
            voicemail = (await repository.voicemails.get(turn.tenant_id, voicemail_id)).value
        except NotFound:
            return ActionResult(GONE_VOICEMAIL)
        if not await is_agent_of_queue(repository, voicemail, turn.user_id):
            return ActionResult(
                error_card(
                    "Not your queue's voicemail",
                    f"Only agents of the {voicemail.queue_name or 'voicemail'} queue can "
                    "handle this message. Nothing was changed.",
                    code="notQueueAgent",
                ),
                status=403,
            )
        return voicemail

    async def _voicemail(self, turn: Turn, agent: Agent, data: Data) -> ActionResult:
        """Mark a voicemail handled; every agent's copy of its card then says by whom."""
        voicemail_id = _text(data, VOICEMAIL_ID)
        if not voicemail_id:
            return _bad_request("The card does not say which voicemail.", "missingVoicemailId")
        found = await self._queue_voicemail(turn, voicemail_id)
        if isinstance(found, ActionResult):
            return found
        services = self._services
        try:
            handling = await handle_voicemail(
                services.repository,
                services.notifier,
                turn.tenant_id,
                voicemail_id,
                agent.id,
                services.clock.now(),
            )
        except NotFound:
            return ActionResult(GONE_VOICEMAIL)
        voicemail = handling.voicemail
        view = await voicemail_view(services.repository, voicemail, links=services.links)
        if handling.changed or voicemail.handled_by == agent.id:
            return ActionResult(voicemail_card(view))
        return ActionResult(
            voicemail_card(
                view, note=f"Already handled: {view.handled_line()} Nothing was changed."
            )
        )

    async def _callback(self, turn: Turn, agent: Agent, data: Data) -> ActionResult:
        return ActionResult(
            notice_card(
                "Callback",
                "The contact center calls the caller back when a free agent of the queue is "
                "reserved for it: stay available to take it. The tab shows your queues.",
            )
        )

    # ------------------------------------------------------------ the call at hand
    async def _panel(
        self, turn: Turn, agent: Agent, call_id: str, problem: str = ""
    ) -> ActionResult:
        """Answer with the card of the call at hand as it is now (or say it is gone)."""
        services = self._services
        view = await call_panel_view(
            services.repository,
            turn.tenant_id,
            agent.id,
            call_id,
            services.clock.now(),
            agent_mri=turn.user_mri,
        )
        if view is None:
            return ActionResult(GONE_CALL)
        return ActionResult(call_panel_card(replace(view, problem=problem)))

    async def _save_notes(self, turn: Turn, agent: Agent, data: Data) -> ActionResult:
        call_id = _text(data, CALL_ID)
        record_id = _text(data, RECORD_ID) or call_id
        if not call_id:
            return _bad_request("The card does not say which call.", "missingCallId")
        note = data.get(NOTE_INPUT)
        services = self._services
        try:
            await save_notes(
                services.repository,
                turn.tenant_id,
                record_id,
                Disposition(_text(data, CODE_INPUT) or None, note if isinstance(note, str) else ""),
                agent_id=agent.id,
                now=services.clock.now(),
            )
        except InvalidInput as err:
            return await self._panel(turn, agent, call_id, f"Not saved: {err}")
        except (NotYourCall, DispositionClosed, NotFound):
            return await self._panel(turn, agent, call_id, "Not saved: these notes are final.")
        return await self._panel(turn, agent, call_id)

    async def _transfer_to_queue(self, turn: Turn, agent: Agent, data: Data) -> ActionResult:
        call_id, queue_id = _text(data, CALL_ID), _text(data, TRANSFER_QUEUE_INPUT)
        if not queue_id:
            return await self._panel(turn, agent, call_id, "Pick a queue to transfer to.")
        engine = self._services.engine
        try:
            await engine.transfer_to_queue(turn.tenant_id, call_id, agent.id, queue_id)
        except NotYourTalk:
            return ActionResult(GONE_CALL)
        except (InvalidInput, NotFound) as err:
            return await self._panel(turn, agent, call_id, f"Not transferred: {err}")
        return await self._panel(turn, agent, call_id)

    async def _transfer_to_agent(self, turn: Turn, agent: Agent, data: Data) -> ActionResult:
        call_id, target = _text(data, CALL_ID), _text(data, TRANSFER_AGENT_INPUT)
        if not target:
            return await self._panel(turn, agent, call_id, "Pick an agent to transfer to.")
        engine = self._services.engine
        try:
            await engine.transfer_to_agent(turn.tenant_id, call_id, agent.id, target)
        except NotYourTalk:
            return ActionResult(GONE_CALL)
        except (InvalidInput, NotFound) as err:
            return await self._panel(turn, agent, call_id, f"Not transferred: {err}")
        return await self._panel(turn, agent, call_id)

    def _wrapping_up(self, agent: Agent, data: Data) -> tuple[str, bool]:
        """Return the call the card is about, and whether the agent is wrapping it up now."""
        shown = _text(data, RECORD_ID) or _text(data, CALL_ID)
        wrap_up = agent.wrap_up
        current = wrap_up is not None and (not shown or wrap_up.record_id == shown)
        return (wrap_up.record_id if current and wrap_up is not None else shown), current

    async def _end_wrap_up(self, turn: Turn, agent: Agent, data: Data) -> ActionResult:
        record_id, current = self._wrapping_up(agent, data)
        if not current:
            if not record_id:
                return await self._status(agent, "You are not in wrap-up.")
            return await self._panel(turn, agent, record_id, "This wrap-up had ended already.")
        agent = await self._services.engine.end_wrap_up(turn.tenant_id, agent.id)
        return await self._panel(turn, agent, record_id)

    async def _extend_wrap_up(self, turn: Turn, agent: Agent, data: Data) -> ActionResult:
        record_id, current = self._wrapping_up(agent, data)
        if not current:
            if not record_id:
                return await self._status(agent, "You are not in wrap-up.")
            return await self._panel(turn, agent, record_id, "This wrap-up had ended already.")
        try:
            agent = await self._services.engine.extend_wrap_up(turn.tenant_id, agent.id)
        except InvalidInput as err:
            return await self._panel(turn, agent, record_id, f"No more time: {err}.")
        return await self._panel(turn, agent, record_id)

    async def _call_back(self, turn: Turn, agent: Agent, data: Data) -> ActionResult:
        """Have the queue call back a voicemail's caller, or a missed call's."""
        services = self._services
        repository = services.repository
        voicemail_id = _text(data, VOICEMAIL_ID)
        if voicemail_id:
            found = await self._queue_voicemail(turn, voicemail_id)
            if isinstance(found, ActionResult):
                return found
            queue_id, number, origin = found.queue_id, found.caller, found.call_id
        else:
            call_id = _text(data, CALL_ID)
            try:
                record = (await repository.call_records.get(turn.tenant_id, call_id)).value
            except NotFound:
                return ActionResult(STILL_WAITING)
            if record.outcome is CallOutcome.ANSWERED:
                who = record.agent_name or "another agent"
                return ActionResult(
                    notice_card("Already answered", f"{who} took this call. Nothing was changed.")
                )
            queue_id, number, origin = record.queue_id or "", record.caller, record.id
        try:
            queue = (await repository.queues.get(turn.tenant_id, queue_id)).value
        except NotFound:
            return ActionResult(notice_card("No queue", "This call's queue no longer exists."))
        if agent.id not in queue.members:
            return ActionResult(
                error_card(
                    "Not your queue's call",
                    f"Only agents of {queue.name} can have this caller called back.",
                    code="notQueueAgent",
                ),
                status=403,
            )
        try:
            line = await services.engine.call_back(queue, number, origin)
        except (Conflict, InvalidInput) as err:
            return ActionResult(notice_card("No callback asked for", f"{err}."))
        return ActionResult(
            notice_card(
                "Callback asked for",
                f"{queue.name} calls {line.caller.id} back when an agent is free, "
                "the way the queue's callbacks go.",
            )
        )

    # -------------------------------------------------------------------- status
    async def _status(self, agent: Agent, note: str) -> ActionResult:
        view = await agent_status_view(self._services.repository, agent)
        return ActionResult(status_card(view, note=note))

    async def _available(self, turn: Turn, agent: Agent, data: Data) -> ActionResult:
        engine = self._services.engine
        agent = await engine.set_status(turn.tenant_id, agent.id, AgentStatus.AVAILABLE)
        return await self._status(agent, "You are available.")

    async def _away(self, turn: Turn, agent: Agent, data: Data) -> ActionResult:
        reason = _text(data, REASON_INPUT)[:100] or None
        if reason is not None and unsafe_character(reason) is not None:
            return _bad_request("A reason is plain text on one line.", "invalidReason")
        engine = self._services.engine
        agent = await engine.set_status(turn.tenant_id, agent.id, AgentStatus.AWAY, reason)
        return await self._status(agent, "You are away.")

    async def _sign_in(self, turn: Turn, agent: Agent, data: Data) -> ActionResult:
        queue_id = _text(data, QUEUE_INPUT)
        if not queue_id:
            return _bad_request("Pick a queue first.", "missingQueue")
        agent = await self._services.engine.sign_in(turn.tenant_id, agent.id, queue_id)
        return await self._status(agent, "You are signed in.")

    async def _sign_out(self, turn: Turn, agent: Agent, data: Data) -> ActionResult:
        queue_id = _text(data, QUEUE_INPUT)
        if not queue_id:
            return _bad_request("Pick a queue first.", "missingQueue")
        agent = await self._services.engine.sign_out(turn.tenant_id, agent.id, queue_id)
        return await self._status(agent, "You are signed out.")

    # ------------------------------------------------------------------- refresh
    async def _refresh(self, turn: Turn, data: Data) -> ActionResult:
        kind = _text(data, KIND)
        if kind == RefreshKind.QUEUE:
            card = await self._services.queue_cards.card(turn.tenant_id, _text(data, QUEUE_ID))
            if card is None:
                return ActionResult(notice_card("No such queue", "This queue no longer exists."))
            return ActionResult(card)
        if kind == RefreshKind.OFFER:
            return await self._refresh_offer(turn, _text(data, CALL_ID))
        if kind == RefreshKind.VOICEMAIL:
            return await self._refresh_voicemail(turn, _text(data, VOICEMAIL_ID))
        if kind == RefreshKind.CALL:
            agent = await self._services.agent(turn.tenant_id, turn.user_id)
            if agent is None:
                return ActionResult(GONE_CALL)
            return await self._panel(turn, agent, _text(data, CALL_ID))
        return _bad_request("The card does not say what to refresh.", "badRefresh")

    async def _refresh_offer(self, turn: Turn, call_id: str) -> ActionResult:
        """Show the offer as it is now: open, or how it ended."""
        documents = self._services.documents
        try:
            card = (
                await documents.offer_cards.get(
                    turn.tenant_id, offer_card_id(call_id, turn.user_id)
                )
            ).value
        except NotFound:
            return ActionResult(STALE_OFFER)
        if card.ended is not None:
            return ActionResult(offer_ended_card(card.view, card.ended))
        try:
            call = (await self._services.repository.calls.get(turn.tenant_id, call_id)).value
        except NotFound:
            return ActionResult(STALE_OFFER)
        offer = call.offer
        if (
            call.state is CallState.RINGING
            and offer is not None
            and turn.user_id in offer.agent_ids
        ):
            return ActionResult(offer_card(card.view))
        return ActionResult(STALE_OFFER)

    async def _refresh_voicemail(self, turn: Turn, voicemail_id: str) -> ActionResult:
        """Show the voicemail as it is now: waiting, or who handled it."""
        found = await self._queue_voicemail(turn, voicemail_id)
        if isinstance(found, ActionResult):
            return found
        view = await voicemail_view(
            self._services.repository, found, links=self._services.links, agent_mri=turn.user_mri
        )
        return ActionResult(voicemail_card(view))
