"""Typed Adaptive Card building blocks.

Body elements are made with the ``adaptivecards`` package. It hard-codes card version 1.2,
has no actions, no inputs and no ``refresh``, drops unknown arguments silently and carries
no type information, so this module puts typed functions in front of its elements and adds
small dataclasses for what it lacks. Card builders use only this module; handlers use only
the card builders, never hand-made dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from adaptivecards import adaptivecard as ac_card
from adaptivecards import containers as ac_containers
from adaptivecards import elements as ac_elements

# Universal Actions (Action.Execute, refresh) need 1.4; Teams renders 1.5.
CARD_VERSION = "1.5"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"

JsonObject = dict[str, Any]
DataValue = str | int | float | bool


class TextSize(StrEnum):
    SMALL = "Small"
    MEDIUM = "Medium"
    LARGE = "Large"
    EXTRA_LARGE = "ExtraLarge"


class TextWeight(StrEnum):
    LIGHTER = "Lighter"
    BOLDER = "Bolder"


class TextColor(StrEnum):
    ACCENT = "Accent"
    GOOD = "Good"
    WARNING = "Warning"
    ATTENTION = "Attention"


class Spacing(StrEnum):
    NONE = "None"
    SMALL = "Small"
    MEDIUM = "Medium"
    LARGE = "Large"


class ContainerStyle(StrEnum):
    EMPHASIS = "emphasis"
    GOOD = "good"
    ATTENTION = "attention"
    WARNING = "warning"
    ACCENT = "accent"


class ActionStyle(StrEnum):
    POSITIVE = "positive"
    DESTRUCTIVE = "destructive"


class Alignment(StrEnum):
    CENTER = "Center"
    RIGHT = "Right"


def _plain(value: Any) -> Any:
    """Turn the package's objects (and anything nested in them) into plain JSON values."""
    if isinstance(value, Element):
        return value.to_json()
    if hasattr(value, "render") and callable(value.render):
        return _plain(value.render())
    if isinstance(value, Mapping):
        plain = {str(key): _plain(item) for key, item in value.items()}
        # "type" first, as cards are written by hand: easier to read in snapshots.
        return {"type": plain.pop("type"), **plain} if "type" in plain else plain
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


class Element:
    """A body element built with the ``adaptivecards`` package."""

    __slots__ = ("_element",)

    def __init__(self, element: Any) -> None:
        self._element = element

    def to_json(self) -> JsonObject:
        """Return the element's JSON."""
        rendered = _plain(self._element)
        assert isinstance(rendered, dict)
        return rendered


# ------------------------------------------------------------------------ actions
@dataclass(frozen=True, slots=True)
class ExecuteAction:
    """``Action.Execute`` (Universal Actions): Teams sends the bot an ``adaptiveCard/action``."""

    title: str
    verb: str
    data: Mapping[str, DataValue] = field(default_factory=dict)
    style: ActionStyle | None = None

    def to_json(self) -> JsonObject:
        body: JsonObject = {"type": "Action.Execute", "title": self.title, "verb": self.verb}
        if self.data:
            body["data"] = dict(self.data)
        if self.style is not None:
            body["style"] = self.style.value
        return body


@dataclass(frozen=True, slots=True)
class OpenUrlAction:
    """``Action.OpenUrl``: open a link (the tab, a report)."""

    title: str
    url: str

    def to_json(self) -> JsonObject:
        return {"type": "Action.OpenUrl", "title": self.title, "url": self.url}


Action = ExecuteAction | OpenUrlAction


# ------------------------------------------------------------------------- inputs
@dataclass(frozen=True, slots=True)
class TextInput:
    """``Input.Text``: its value arrives in the action's data under ``id``."""

    id: str
    label: str | None = None
    placeholder: str | None = None
    max_length: int | None = None
    # Several lines (notes), and what the field holds when the card is shown.
    multiline: bool = False
    value: str | None = None

    def to_json(self) -> JsonObject:
        body: JsonObject = {"type": "Input.Text", "id": self.id}
        if self.label is not None:
            body["label"] = self.label
        if self.placeholder is not None:
            body["placeholder"] = self.placeholder
        if self.max_length is not None:
            body["maxLength"] = self.max_length
        if self.multiline:
            body["isMultiline"] = True
        if self.value:
            body["value"] = self.value
        return body


@dataclass(frozen=True, slots=True)
class Choice:
    title: str
    value: str

    def to_json(self) -> JsonObject:
        return {"title": self.title, "value": self.value}


@dataclass(frozen=True, slots=True)
class ChoiceSetInput:
    """``Input.ChoiceSet`` (a compact drop-down)."""

    id: str
    choices: Sequence[Choice]
    label: str | None = None
    value: str | None = None
    placeholder: str | None = None

    def to_json(self) -> JsonObject:
        body: JsonObject = {
            "type": "Input.ChoiceSet",
            "id": self.id,
            "choices": [choice.to_json() for choice in self.choices],
        }
        if self.label is not None:
            body["label"] = self.label
        if self.value is not None:
            body["value"] = self.value
        if self.placeholder is not None:
            body["placeholder"] = self.placeholder
        return body


BodyItem = Element | TextInput | ChoiceSetInput


@dataclass(frozen=True, slots=True)
class Refresh:
    """``refresh``: the client asks the bot for a fresh card when it shows this one.

    ``user_ids`` (Teams user MRIs, at most 60) get the automatic refresh; others see the
    card as it was sent.
    """

    action: ExecuteAction
    user_ids: Sequence[str] = ()

    def to_json(self) -> JsonObject:
        action = self.action.to_json()
        body: JsonObject = {"action": action}
        if self.user_ids:
            body["userIds"] = list(self.user_ids[:60])
        return body


@dataclass(frozen=True, slots=True)
class Card:
    """An Adaptive Card of version :data:`CARD_VERSION`."""

    body: Sequence[BodyItem]
    actions: Sequence[Action] = ()
    refresh: Refresh | None = None
    fallback_text: str | None = None

    def to_json(self) -> JsonObject:
        """Return the card's JSON, as Teams and the Adaptive Cards renderers take it."""
        card = ac_card.AdaptiveCard()
        card.body = [item.to_json() for item in self.body]
        if self.actions:
            card.actions = [action.to_json() for action in self.actions]
        if self.fallback_text is not None:
            card.fallback_text = self.fallback_text
        # The package hard-codes 1.2, which has neither Action.Execute nor refresh.
        card.set_data("version", CARD_VERSION)
        if self.refresh is not None:
            card.set_data("refresh", self.refresh.to_json())
        rendered = _plain(card)
        assert isinstance(rendered, dict)
        return rendered


def attachment(card: Card) -> JsonObject:
    """Return the Bot Framework attachment that carries ``card``."""
    return {"contentType": CARD_CONTENT_TYPE, "content": card.to_json()}


# ----------------------------------------------------------------------- elements
def _run(
    value: str,
    *,
    size: TextSize | None = None,
    weight: TextWeight | None = None,
    color: TextColor | None = None,
    subtle: bool = False,
) -> Any:
    run = ac_elements.TextRun(text=value)
    if size is not None:
        run.size = size.value
    if weight is not None:
        run.weight = weight.value
    if color is not None:
        run.color = color.value
    if subtle:
        run.isSubtle = True
    return run


def _rich_text(
    runs: Sequence[Any],
    *,
    spacing: Spacing | None = None,
    separator: bool = False,
    align: Alignment | None = None,
) -> Element:
    block = ac_elements.RichTextBlock(inlines=list(runs))
    if spacing is not None:
        block.spacing = spacing.value
    if separator:
        block.separator = True
    if align is not None:
        block.horizontalAlignment = align.value
    return Element(block)


def text(
    value: str,
    *,
    size: TextSize | None = None,
    weight: TextWeight | None = None,
    color: TextColor | None = None,
    subtle: bool = False,
    spacing: Spacing | None = None,
    separator: bool = False,
    align: Alignment | None = None,
) -> Element:
    """Return plain text: a ``RichTextBlock`` of one ``TextRun``, which wraps.

    Cards show what callers, agents and admins wrote (names, reasons, notes). A
    ``TextBlock`` (and a ``FactSet``) renders markdown, so a caller named
    ``[Verify your account](https://…)`` would show as a link; Adaptive Cards document that
    a ``TextRun`` does not support markdown. Every text of every card is made here, so no
    card can show a link or emphasis nobody put there.
    """
    run = _run(value, size=size, weight=weight, color=color, subtle=subtle)
    return _rich_text([run], spacing=spacing, separator=separator, align=align)


def facts(pairs: Sequence[tuple[str, str]], *, spacing: Spacing | None = None) -> Element:
    """Return (title, value) pairs as plain text, one line each: "title: value".

    Not a ``FactSet``, whose titles and values render markdown (see :func:`text`).
    """
    lines = [
        _rich_text(
            [_run(f"{title}: ", weight=TextWeight.BOLDER), _run(value)],
            spacing=Spacing.NONE if index else None,
        )
        for index, (title, value) in enumerate(pairs)
    ]
    box = ac_containers.Container(items=[line.to_json() for line in lines])
    if spacing is not None:
        box.spacing = spacing.value
    return Element(box)


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a :func:`columns` set; ``width`` is ``auto``, ``stretch`` or a weight."""

    items: Sequence[BodyItem]
    width: str = "stretch"


def columns(
    cols: Sequence[Column], *, spacing: Spacing | None = None, separator: bool = False
) -> Element:
    """Return a ``ColumnSet``."""
    column_set = ac_containers.ColumnSet(
        columns=[
            ac_containers.Column(items=[item.to_json() for item in col.items], width=col.width)
            for col in cols
        ]
    )
    if spacing is not None:
        column_set.spacing = spacing.value
    if separator:
        column_set.separator = True
    return Element(column_set)


def container(
    items: Sequence[BodyItem],
    *,
    style: ContainerStyle | None = None,
    bleed: bool = False,
    spacing: Spacing | None = None,
) -> Element:
    """Return a ``Container`` (a styled box of elements)."""
    box = ac_containers.Container(items=[item.to_json() for item in items])
    if style is not None:
        box.style = style.value
    if bleed:
        box.bleed = True
    if spacing is not None:
        box.spacing = spacing.value
    return Element(box)


def action_set(actions: Sequence[Action], *, spacing: Spacing | None = None) -> Element:
    """Return an ``ActionSet``: buttons placed in the body, next to the inputs they use."""
    row = ac_containers.ActionSet(actions=[action.to_json() for action in actions])
    if spacing is not None:
        row.spacing = spacing.value
    return Element(row)
