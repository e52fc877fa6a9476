"""Text from callers, agents and admins is never read as markdown on a card.

A ``TextBlock`` or a ``FactSet`` renders markdown, so a caller who calls themselves
``[Verify your account](https://…)`` would show as a link on the agent's alert; a
``TextRun`` in a ``RichTextBlock`` shows its text as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bot.cards.offers import OfferView, missed_call_card, offer_card
from tests.cards.catalog import every_card

PHISHING = "[Verify your account](https://evil.example/login)"


def _elements(value: Any, parent: str = "") -> Iterator[tuple[str, str, Any]]:
    """Yield (element type, key, value) for every string in a card's JSON."""
    if isinstance(value, dict):
        kind = str(value.get("type", parent))
        for key, item in value.items():
            if isinstance(item, str):
                yield kind, key, item
            else:
                yield from _elements(item, kind)
    elif isinstance(value, list):
        for item in value:
            yield from _elements(item, parent)


def test_no_card_has_an_element_that_renders_markdown() -> None:
    for name, card in every_card().items():
        kinds = {kind for kind, _, _ in _elements(card.to_json())}
        assert not kinds & {"TextBlock", "FactSet"}, name


def test_a_caller_name_with_markdown_is_only_ever_a_text_runs_text() -> None:
    view = OfferView(
        call_id="call-1",
        queue_name="Sales",
        caller_name=PHISHING,
        caller_number="",
        previous_calls=0,
        waited_s=12,
    )
    for card in (offer_card(view), missed_call_card(view, missed_in_a_row=1, away_after=3)):
        body = card.to_json()
        places = {(kind, key) for kind, key, text in _elements(body) if PHISHING in text}
        # The card's body shows it as a TextRun; fallbackText is the notification's plain text.
        assert places <= {("TextRun", "text"), ("AdaptiveCard", "fallbackText")}
        assert ("TextRun", "text") in places
        runs = [text for kind, key, text in _elements(body["body"]) if PHISHING in text]
        assert PHISHING in runs
