"""The agent's card follows the call from what the engine wrote, without reading it back.

The routing engine hands the Teams notifier the agent, the call and its record as it wrote
them, with the tenant's time zone and the queue's codes from its caches: the card of the
call at hand shows the same as one built from the store, and its updates make no reads.
The notifier's requests are counted on their own store (the engine's are not in them).
"""

from __future__ import annotations

from typing import cast

import pytest

from bot.background import Background
from bot.cards.adaptive import Card
from bot.cards.call import call_panel_card
from bot.messaging.adapter import BotChannel, Message
from bot.messaging.documents import ConversationRef, MessagingDocuments, offer_card_id
from bot.messaging.notifier import AT_HAND_TRUSTED_S, TeamsNotifier
from bot.messaging.views import call_panel_view
from contactcenter.dispositions import Disposition, save_notes
from contactcenter.engine import RoutingEngine
from contactcenter.model import AgentActivity, Tenant
from contactcenter.ports import OfferEnd
from contactcenter.repository import Repository
from tests.domain.harness import TENANT, CountingStore, Harness, make_agent, make_queue
from tests.messaging.support import ManualTimer, card_text

AGENT = "agent-1"
CODES = ("Sale", "Support")
WRAP_UP_S = 30


class ShowingChannel:
    """Stands in for the Bot Connector: keeps every card sent or updated, in order."""

    def __init__(self) -> None:
        self.shown: list[Card] = []

    async def send(self, ref: ConversationRef, message: Message) -> str:
        self.shown.append(message.card)
        return f"activity-{len(self.shown)}"

    async def update(self, ref: ConversationRef, activity_id: str, message: Message) -> None:
        self.shown.append(message.card)


class Rig:
    """The engine on the harness's store; the notifier on a counting view of the same store."""

    def __init__(self) -> None:
        self.h = Harness()
        self.store = CountingStore(self.h.store)
        self.repository = Repository(self.store)
        self.documents = MessagingDocuments(self.store)
        self.channel = ShowingChannel()
        self.background = Background()
        self.notifier = TeamsNotifier(timer=ManualTimer(), random_fraction=lambda: 0.5)
        self.notifier.bind(
            channel=cast(BotChannel, self.channel),
            documents=self.documents,
            repository=self.repository,
            background=self.background,
            clock=self.h.clock,
        )
        self.h.engine = RoutingEngine(
            self.h.repo, self.h.calls, self.notifier, self.h.clock, self.h.settings
        )

    async def seed(self) -> None:
        await self.h.seed(
            make_queue("q1", [AGENT], wrap_up_s=WRAP_UP_S, disposition_codes=CODES),
            [make_agent(AGENT)],
            tenant=Tenant(id=TENANT, name="Contoso", time_zone="America/New_York"),
        )
        await self.documents.references.put(
            ConversationRef(
                id=AGENT,
                tenant_id=TENANT,
                conversation_id=f"a:{AGENT}",
                service_url="https://smba.example/",
                bot_id="28:app",
                user_mri=f"29:{AGENT}",
            )
        )

    async def answered(self, call_id: str) -> None:
        h = self.h
        await h.arrive(call_id)
        assert h.invited(call_id) == [AGENT]
        await h.answers(call_id, AGENT)
        await h.roster(call_id, AGENT)

    async def hang_up(self, call_id: str) -> None:
        await self.h.roster(call_id)
        await self.h.terminated(call_id)

    async def card_from_the_store(self, call_id: str) -> Card:
        """Return the card of the call at hand as the store has it now."""
        view = await call_panel_view(
            self.h.repo, TENANT, AGENT, call_id, self.h.now, agent_mri=f"29:{AGENT}"
        )
        assert view is not None
        return call_panel_card(view)


@pytest.fixture
async def rig() -> Rig:
    made = Rig()
    await made.seed()
    made.store.reset()
    return made


def _reads(store: CountingStore) -> dict[str, int]:
    return {name: count for name, count in store.counts.items() if name.startswith("read ")}


def _on_cards(store: CountingStore) -> dict[str, int]:
    return {name: count for name, count in store.counts.items() if name.endswith(" offerCards")}


async def test_a_short_talk_s_card_goes_to_its_wrap_up_in_one_update_without_reads(
    rig: Rig,
) -> None:
    await rig.answered("call-1")
    rig.h.clock.advance(42)
    await rig.hang_up("call-1")

    await rig.notifier.wait_idle()

    # The alert, then the wrap-up at once: the answer was not shown before the talk ended.
    assert len(rig.channel.shown) == 2
    assert _reads(rig.store) == {}
    assert _on_cards(rig.store) == {"create offerCards": 1, "replace offerCards": 1}
    shown = rig.channel.shown[-1]
    assert shown.to_json() == (await rig.card_from_the_store("call-1")).to_json()
    text = card_text(shown.to_json())
    assert "Call ended · Q1" in text
    assert "Talked: 0:42" in text
    assert "EST" in text  # the tenant's time
    assert "End wrap-up" in text
    assert all(f"'title': '{code}'" in str(shown.to_json()) for code in CODES)
    card = (await rig.documents.offer_cards.get(TENANT, offer_card_id("call-1", AGENT))).value
    assert card.ended is OfferEnd.TALK_ENDED
    await rig.background.close()


async def test_the_card_on_the_call_and_at_the_talk_s_end_reads_nothing_back(rig: Rig) -> None:
    await rig.answered("call-1")
    await rig.notifier.wait_idle()
    on_call = rig.channel.shown[-1]
    assert on_call.to_json() == (await rig.card_from_the_store("call-1")).to_json()
    assert "On a call · Q1" in card_text(on_call.to_json())
    # Transfer targets and the caller's earlier calls are queried; nothing is read back.
    assert _reads(rig.store) == {}

    rig.h.clock.advance(95)
    await rig.hang_up("call-1")
    rig.store.reset()
    await rig.notifier.wait_idle()

    assert _reads(rig.store) == {}
    assert _on_cards(rig.store) == {"replace offerCards": 1}
    wrap_up = rig.channel.shown[-1]
    assert wrap_up.to_json() == (await rig.card_from_the_store("call-1")).to_json()
    text = card_text(wrap_up.to_json())
    assert "Call ended · Q1" in text
    assert "Talked: 1:35" in text
    assert "End wrap-up" in text
    agent = (await rig.h.repo.agents.get(TENANT, AGENT)).value
    assert agent.activity is AgentActivity.WRAP_UP
    await rig.background.close()


async def test_notes_saved_during_the_talk_are_on_the_wrap_up_card(rig: Rig) -> None:
    await rig.answered("call-1")
    await rig.notifier.wait_idle()
    await save_notes(
        rig.h.repo,
        TENANT,
        "call-1",
        Disposition("Support", "Wants a refund"),
        agent_id=AGENT,
        now=rig.h.now,
    )

    rig.h.clock.advance(60)
    await rig.hang_up("call-1")
    rig.store.reset()
    await rig.notifier.wait_idle()

    assert _reads(rig.store) == {}
    wrap_up = rig.channel.shown[-1]
    assert wrap_up.to_json() == (await rig.card_from_the_store("call-1")).to_json()
    assert "Wants a refund" in str(wrap_up.to_json())
    await rig.background.close()


async def test_an_update_that_waited_past_the_trust_window_reads_the_call_again(
    rig: Rig,
) -> None:
    await rig.answered("call-1")
    await rig.notifier.wait_idle()
    rig.h.clock.advance(60)
    await rig.hang_up("call-1")
    # The card's update is held up (Teams throttling it) while the agent saves a note.
    rig.h.clock.advance(AT_HAND_TRUSTED_S + 1)
    await save_notes(
        rig.h.repo,
        TENANT,
        "call-1",
        Disposition("Sale", "Called back later"),
        agent_id=AGENT,
        now=rig.h.now,
    )
    rig.store.reset()
    await rig.notifier.wait_idle()

    assert rig.store.counts["read agents"] == 1
    wrap_up = rig.channel.shown[-1]
    assert wrap_up.to_json() == (await rig.card_from_the_store("call-1")).to_json()
    assert "Called back later" in str(wrap_up.to_json())
    await rig.background.close()
