"""The top of every card about one caller: who calls which queue, and the facts of the call.

Offers, voicemails and callbacks show it alike, so that an agent reads them the same way:
a header (emphasised while the agent may still act) and the caller's number, the queue,
what the card is about, and the caller's way through the menus.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.cards.adaptive import (
    BodyItem,
    ContainerStyle,
    Spacing,
    TextColor,
    TextSize,
    TextWeight,
    container,
    facts,
    text,
)

# Between the steps of a caller's way through the menus (a right-pointing angle quote).
MENU_STEP = " \u203a "


def caller_header(title: str, caller_name: str, *, live: bool) -> BodyItem:
    """Return the card's header: ``title`` over the caller's name, emphasised when live."""
    return container(
        [
            text(title, weight=TextWeight.BOLDER, color=TextColor.ACCENT if live else None),
            text(caller_name, size=TextSize.LARGE, weight=TextWeight.BOLDER),
        ],
        style=ContainerStyle.EMPHASIS if live else None,
        bleed=live,
    )


def caller_facts(
    *,
    caller_name: str,
    caller_number: str,
    queue_name: str,
    ivr_path: Sequence[str],
    about: Sequence[tuple[str, str]],
) -> BodyItem:
    """Return the facts: the number (unless it is the name), the queue, ``about``, the menus."""
    pairs: list[tuple[str, str]] = []
    if caller_number and caller_number != caller_name:
        pairs.append(("Number", caller_number))
    pairs.append(("Queue", queue_name))
    pairs.extend(about)
    if ivr_path:
        pairs.append(("Menu path", MENU_STEP.join(ivr_path)))
    return facts(pairs, spacing=Spacing.MEDIUM)
