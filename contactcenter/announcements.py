"""Comfort messages: the caller's position and estimated wait, assembled from prompts.

Graph has no text-to-speech, so every announcement is a list of standard prompts: "you
are number" + "twenty" + "one" + "in line", "your estimated wait is" + "four" +
"minutes". Numbers up to 99 are spoken; a longer line or wait is "more than ninety nine".

The estimated wait is the caller's position divided by the rate the queue has answered
calls at lately, measured over two windows of recent call records and weighted toward the
short one, so it follows the queue as it speeds up or slows down. With no answered call in
the longer window there is no estimate, and only the position is announced.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from contactcenter.media import StandardPrompt, number_prompt_name

MAX_SPOKEN = 99

# The windows the answer rate is measured over, and the weight of the short one.
SHORT_WINDOW_S = 15 * 60
LONG_WINDOW_S = 60 * 60
SHORT_WEIGHT = 0.7


@dataclass(frozen=True, slots=True)
class AnswerRate:
    """Answered calls counted over the short and the long window."""

    short_count: int
    long_count: int
    short_window_s: float = SHORT_WINDOW_S
    long_window_s: float = LONG_WINDOW_S

    def per_second(self) -> float | None:
        """Return the weighted answer rate, or None when the queue answered nothing lately."""
        if self.long_count <= 0:
            return None
        short = self.short_count / self.short_window_s
        long = self.long_count / self.long_window_s
        if self.short_count <= 0:
            return long
        return SHORT_WEIGHT * short + (1 - SHORT_WEIGHT) * long


def estimated_wait_s(position: int, rate: AnswerRate) -> float | None:
    """Return how long the caller at ``position`` (1 = next) is expected to wait."""
    per_second = rate.per_second()
    if per_second is None or per_second <= 0 or position < 1:
        return None
    return position / per_second


def number_parts(number: int) -> list[str]:
    """Return the standard prompt names that say ``number`` (0-99)."""
    if not 0 <= number <= MAX_SPOKEN:
        raise ValueError(f"{number} cannot be spoken")
    if number < 20 or number % 10 == 0:
        return [number_prompt_name(number)]
    return [number_prompt_name(number - number % 10), number_prompt_name(number % 10)]


def _capped(number: int) -> list[str]:
    if number > MAX_SPOKEN:
        return [StandardPrompt.MORE_THAN.value, *number_parts(MAX_SPOKEN)]
    return number_parts(number)


def position_parts(position: int) -> list[str]:
    """Return "you are number N in line"."""
    return [StandardPrompt.YOU_ARE_NUMBER.value, *_capped(position), StandardPrompt.IN_LINE.value]


def wait_parts(wait_s: float) -> list[str]:
    """Return "your estimated wait is N minutes", rounded up to whole minutes."""
    if wait_s < 60:
        return [StandardPrompt.ESTIMATED_WAIT.value, StandardPrompt.LESS_THAN_ONE_MINUTE.value]
    minutes = math.ceil(wait_s / 60)
    unit = StandardPrompt.MINUTE if minutes == 1 else StandardPrompt.MINUTES
    return [StandardPrompt.ESTIMATED_WAIT.value, *_capped(minutes), unit.value]


def key_parts(key: str) -> list[str]:
    """Return "press K" for a telephone key."""
    if key == "*":
        return [StandardPrompt.PRESS.value, StandardPrompt.STAR.value]
    if key == "#":
        return [StandardPrompt.PRESS.value, StandardPrompt.POUND.value]
    return [StandardPrompt.PRESS.value, number_prompt_name(int(key))]


def comfort_parts(
    *,
    position: int | None,
    wait_s: float | None,
    callback_key: str | None,
) -> list[str]:
    """Return the standard prompt names of one comfort message.

    ``callback_key`` adds the callback offer ("to keep your place in line and have us call
    you back, press K"). The greeting-like "thank you for waiting" part comes first; a
    queue's own comfort prompt replaces it (the caller of this function decides).
    """
    parts: list[str] = [StandardPrompt.COMFORT.value]
    if position is not None:
        parts.extend(position_parts(position))
    if wait_s is not None:
        parts.extend(wait_parts(wait_s))
    if callback_key is not None:
        parts.append(StandardPrompt.CALLBACK_OFFER.value)
        parts.extend(key_parts(callback_key)[1:])
    return parts


def spoken_numbers(parts: Sequence[str]) -> list[int]:
    """Return the numbers prompts in ``parts`` name, in order (for tests and logs)."""
    prefix = "number-"
    return [int(p.rsplit(".", 1)[-1][len(prefix) :]) for p in parts if prefix in p]
