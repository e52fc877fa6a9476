"""Short answers: an error, or a notice such as "this call is no longer yours to take"."""

from __future__ import annotations

from bot.cards.adaptive import (
    Card,
    ContainerStyle,
    TextColor,
    TextSize,
    TextWeight,
    container,
    text,
)


def error_card(title: str, message: str, *, code: str | None = None) -> Card:
    """Say what went wrong and what to do about it; ``code`` helps support find it."""
    items = [
        text(title, size=TextSize.MEDIUM, weight=TextWeight.BOLDER, color=TextColor.ATTENTION),
        text(message),
    ]
    if code is not None:
        items.append(text(f"Code: {code}", subtle=True, size=TextSize.SMALL))
    return Card(
        body=[container(items, style=ContainerStyle.ATTENTION, bleed=True)],
        fallback_text=f"{title}: {message}",
    )


def notice_card(title: str, message: str) -> Card:
    """Tell the user something that is not an error (a stale button, a coming feature)."""
    return Card(
        body=[
            text(title, size=TextSize.MEDIUM, weight=TextWeight.BOLDER),
            text(message),
        ],
        fallback_text=f"{title}: {message}",
    )
