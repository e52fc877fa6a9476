"""The Teams notifier spends few store requests per offer.

The agents' conversation references are kept in a bounded in-process cache (refreshed when
this process stores one, dropped when Teams says the chat is gone), and an offer card's
first write is a create: the card it wrote is what the offer's end updates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import pytest

from bot.background import Background
from bot.cards.offers import OfferView
from bot.messaging.adapter import BotChannel, ConnectorError, Message
from bot.messaging.documents import (
    ConversationRef,
    ConversationRefs,
    MessagingDocuments,
    OfferCard,
    offer_card_id,
)
from bot.messaging.notifier import TeamsNotifier
from bot.settings import DEMO_APP_ID
from contactcenter.clock import VirtualClock
from contactcenter.model import Party, PartyKind
from contactcenter.ports import OfferAlert, OfferEnd
from contactcenter.repository import Repository
from storage.memory import MemoryStore
from tests.domain.harness import CountingStore
from tests.messaging.support import ANA, SALES, TENANT, ManualTimer, Stack, card_of, card_text

SERVICE_URL = "https://smba.example/"


class RecordingChannel:
    """Stands in for the Bot Connector: records sends and updates, or fails sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Message]] = []
        self.updated: list[tuple[str, str]] = []
        self.send_failure: ConnectorError | None = None

    async def send(self, ref: ConversationRef, message: Message) -> str:
        if self.send_failure is not None:
            raise self.send_failure
        self.sent.append((ref.conversation_id, message))
        return f"activity-{len(self.sent)}"

    async def update(self, ref: ConversationRef, activity_id: str, message: Message) -> None:
        self.updated.append((ref.conversation_id, activity_id))


class Rig:
    """A bound notifier over a counting store, with a recording channel."""

    def __init__(self) -> None:
        self.store = CountingStore(MemoryStore())
        self.timer = ManualTimer()
        self.documents = MessagingDocuments(self.store, monotonic=self.timer.monotonic)
        self.channel = RecordingChannel()
        self.background = Background()
        self.notifier = TeamsNotifier(timer=self.timer, random_fraction=lambda: 0.5)
        self.notifier.bind(
            channel=cast(BotChannel, self.channel),
            documents=self.documents,
            repository=Repository(self.store),
            background=self.background,
            clock=VirtualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC)),
        )

    def counted(self, *collections: str) -> dict[str, int]:
        """Return the counted requests on these collections, by request."""
        return {
            name: count
            for name, count in sorted(self.store.counts.items())
            if name.split(" ", 1)[1] in collections
        }

    async def offer(self, call_id: str, how: OfferEnd = OfferEnd.ANSWERED) -> None:
        alert = _alert(call_id)
        await self.notifier.offer_started(alert)
        await self.notifier.offer_ended(alert, how)
        await self.notifier.wait_idle()


def _ref(conversation_id: str = f"a:{ANA}") -> ConversationRef:
    return ConversationRef(
        id=ANA,
        tenant_id=TENANT,
        conversation_id=conversation_id,
        service_url=SERVICE_URL,
        bot_id="28:app",
        user_mri=f"29:{ANA}",
    )


def _alert(call_id: str) -> OfferAlert:
    return OfferAlert(
        tenant_id=TENANT,
        call_id=call_id,
        agent_id=ANA,
        queue_id=SALES,
        queue_name="Sales",
        caller=Party(PartyKind.PHONE, "+14255550100"),
        waited_s=3.0,
    )


COLLECTIONS = (MessagingDocuments.CONVERSATION_REFS, MessagingDocuments.OFFER_CARDS)


@pytest.fixture
async def rig() -> Rig:
    made = Rig()
    await made.documents.references.put(_ref())
    made.store.reset()
    return made


async def test_an_answered_offer_reads_neither_the_reference_nor_the_card(rig: Rig) -> None:
    await rig.offer("call-1")

    assert rig.counted(*COLLECTIONS) == {"create offerCards": 1, "replace offerCards": 1}
    assert [activity for _, activity in rig.channel.updated] == ["activity-1"]
    card = (await rig.documents.offer_cards.get(TENANT, offer_card_id("call-1", ANA))).value
    assert card.ended is OfferEnd.ANSWERED
    await rig.background.close()


async def test_a_talk_that_ends_before_its_answer_is_shown_updates_the_card_once(
    rig: Rig,
) -> None:
    alert = _alert("call-1")
    await rig.notifier.offer_started(alert)
    await rig.notifier.offer_ended(alert, OfferEnd.ANSWERED)
    await rig.notifier.offer_ended(alert, OfferEnd.TALK_ENDED)
    await rig.notifier.wait_idle()

    assert rig.counted(*COLLECTIONS) == {"create offerCards": 1, "replace offerCards": 1}
    assert [activity for _, activity in rig.channel.updated] == ["activity-1"]
    card = (await rig.documents.offer_cards.get(TENANT, offer_card_id("call-1", ANA))).value
    assert card.ended is OfferEnd.TALK_ENDED
    await rig.background.close()


async def test_the_talk_s_end_after_the_answer_replaces_the_card_without_reading_it(
    rig: Rig,
) -> None:
    await rig.offer("call-1")
    rig.store.reset()

    await rig.notifier.offer_ended(_alert("call-1"), OfferEnd.TALK_ENDED)
    await rig.notifier.wait_idle()

    assert rig.counted(*COLLECTIONS) == {"replace offerCards": 1}
    assert [activity for _, activity in rig.channel.updated] == ["activity-1", "activity-1"]
    card = (await rig.documents.offer_cards.get(TENANT, offer_card_id("call-1", ANA))).value
    assert card.ended is OfferEnd.TALK_ENDED
    await rig.background.close()


async def test_the_reference_is_read_once_per_ttl(rig: Rig) -> None:
    rig.documents.references.forget(TENANT, ANA)

    await rig.offer("call-1")
    await rig.offer("call-2")
    await rig.timer.advance(ConversationRefs.TTL_S + 1)
    await rig.offer("call-3")

    assert rig.store.counts["read conversationRefs"] == 2
    await rig.background.close()


async def test_an_offer_card_already_stored_is_read_and_replaced(rig: Rig) -> None:
    card_id = offer_card_id("call-1", ANA)
    other = MessagingDocuments(rig.store)
    await rig.offer("call-1", OfferEnd.MISSED)
    # Another host wrote the card meanwhile: this process's copy is stale.
    stored = await other.offer_cards.get(TENANT, card_id)
    await other.offer_cards.save(stored.value, etag=stored.etag)
    rig.store.reset()

    await rig.offer("call-1")

    card = (await other.offer_cards.get(TENANT, card_id)).value
    assert card.ended is OfferEnd.ANSWERED
    assert card.activity_id == f"activity-{len(rig.channel.sent)}"
    assert rig.store.counts["create offerCards"] == 1
    assert rig.store.counts["read offerCards"] >= 1
    await rig.background.close()


async def test_an_offer_ended_on_another_host_reads_the_card(rig: Rig) -> None:
    await MessagingDocuments(rig.store).offer_cards.create(
        OfferCard(
            id=offer_card_id("call-9", ANA),
            tenant_id=TENANT,
            call_id="call-9",
            agent_id=ANA,
            conversation_id=f"a:{ANA}",
            activity_id="activity-elsewhere",
            view=OfferView.from_alert(_alert("call-9")),
        )
    )
    rig.store.reset()

    await rig.notifier.offer_ended(_alert("call-9"), OfferEnd.CALLER_HUNG_UP)
    await rig.notifier.wait_idle()

    assert rig.store.counts["read offerCards"] == 1
    await rig.background.close()


async def test_a_reference_stored_by_an_install_is_used_at_once(rig: Rig) -> None:
    await rig.offer("call-1")
    # Reinstalled: Teams gives the chat a new conversation, and this process stores it.
    await rig.documents.references.put(_ref("a:ana-new-chat"))
    rig.store.reset()

    await rig.offer("call-2")

    assert rig.channel.sent[-1][0] == "a:ana-new-chat"
    assert "read conversationRefs" not in rig.store.counts
    await rig.background.close()


async def test_a_chat_teams_says_is_gone_is_read_again(rig: Rig) -> None:
    rig.channel.send_failure = ConnectorError("gone", status=403, retry_after=None)
    await rig.offer("call-1")
    rig.channel.send_failure = None
    rig.store.reset()

    await rig.offer("call-2")

    assert rig.store.counts["read conversationRefs"] == 1
    assert len(rig.channel.sent) == 1
    await rig.background.close()


async def test_a_send_refused_for_another_reason_keeps_the_reference(rig: Rig) -> None:
    rig.channel.send_failure = ConnectorError("bad request", status=400, retry_after=None)
    await rig.offer("call-1")
    rig.channel.send_failure = None
    rig.store.reset()

    await rig.offer("call-2")

    assert "read conversationRefs" not in rig.store.counts
    await rig.background.close()


async def test_a_chat_reinstalled_through_teams_gets_the_next_alert(stack: Stack) -> None:
    await stack.install(ANA)
    await stack.notifier.offer_started(_alert("call-1"))
    await stack.notifier.wait_idle()

    # Teams tells the bot about a new 1:1 chat with the agent (the app added again).
    await stack.simulator.send_activity(
        "a:ana-reinstalled",
        {"type": "conversationUpdate", "membersAdded": [{"id": f"28:{DEMO_APP_ID}"}]},
        tenant_id=TENANT,
        user_id=ANA,
    )
    await stack.notifier.offer_started(_alert("call-2"))
    await stack.notifier.wait_idle()

    events = (await stack.simulator.conversation("a:ana-reinstalled"))["events"]
    assert "Incoming call" in card_text(card_of(events[-1]["activity"]))
