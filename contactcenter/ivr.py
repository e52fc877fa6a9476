"""IVR menus (auto attendants): what a key, or no key, does, and what a valid IVR is.

Pure functions; the engine keeps the caller's place (``Call.menu_id``, ``menu_tries``)
and does what they decide.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from contactcenter.callbacks import is_e164
from contactcenter.errors import InvalidInput
from contactcenter.hours import validate_hours
from contactcenter.media import StandardPrompt, check_language, is_prompt_id
from contactcenter.model import Ivr, Menu, MenuActionKind, MenuOption

KEYS = frozenset("0123456789*#")
MAX_MENUS = 50
MAX_TIMEOUT_S = 60
MAX_RETRIES = 5


class StepKind(StrEnum):
    # Do what the option says.
    OPTION = "option"
    # Say what went wrong and play the menu again.
    RETRY = "retry"
    # Retries used up and no fallback: goodbye.
    DISCONNECT = "disconnect"


@dataclass(frozen=True, slots=True)
class MenuStep:
    """What happens next in a menu."""

    kind: StepKind
    option: MenuOption | None = None
    # A standard prompt to play first (invalid option, no input).
    notice: StandardPrompt | None = None
    # Failures in this menu so far, after this step.
    tries: int = 0


def find_menu(ivr: Ivr, menu_id: str | None) -> Menu | None:
    """Return the IVR's menu with this id, or None."""
    return next((m for m in ivr.menus if m.id == menu_id), None)


def on_key(menu: Menu, key: str, tries: int) -> MenuStep:
    """Return what pressing ``key`` does in ``menu`` after ``tries`` failures."""
    option = next((o for o in menu.options if o.digit == key), None)
    if option is not None:
        return MenuStep(StepKind.OPTION, option, tries=tries)
    return _failed(menu, tries, StandardPrompt.INVALID_OPTION)


def on_timeout(menu: Menu, tries: int) -> MenuStep:
    """Return what happens when the caller pressed nothing in time."""
    return _failed(menu, tries, StandardPrompt.NO_INPUT)


def _failed(menu: Menu, tries: int, notice: StandardPrompt) -> MenuStep:
    tries += 1
    if tries <= menu.max_retries:
        return MenuStep(StepKind.RETRY, notice=notice, tries=tries)
    if menu.fallback is not None:
        return MenuStep(StepKind.OPTION, menu.fallback, notice=notice, tries=tries)
    return MenuStep(StepKind.DISCONNECT, notice=notice, tries=tries)


def validate_ivr(ivr: Ivr, *, queue_ids: Collection[str] | None = None) -> None:
    """Raise InvalidInput naming the first thing wrong with an IVR definition.

    ``queue_ids``: the tenant's queues, to check queue and voicemail targets (not checked
    when None).
    """
    if not ivr.name.strip():
        raise InvalidInput("an IVR needs a name", field="name")
    check_language(ivr.language)
    if not ivr.menus:
        raise InvalidInput("an IVR needs at least one menu", field="menus")
    if len(ivr.menus) > MAX_MENUS:
        raise InvalidInput(f"at most {MAX_MENUS} menus", field="menus")
    menu_ids = [m.id for m in ivr.menus]
    if len(set(menu_ids)) != len(menu_ids):
        raise InvalidInput("two menus have the same id", field="menus")
    if ivr.root_menu_id not in menu_ids:
        raise InvalidInput(f"no menu {ivr.root_menu_id!r} to start with", field="rootMenuId")
    if ivr.greeting_prompt_id is not None and not is_prompt_id(ivr.greeting_prompt_id):
        raise InvalidInput("not a prompt id", field="greetingPromptId")
    if ivr.hours is not None:
        validate_hours(ivr.hours)
    for index, menu in enumerate(ivr.menus):
        _validate_menu(menu, f"menus[{index}]", set(menu_ids), queue_ids)


def _validate_menu(
    menu: Menu, where: str, menu_ids: set[str], queue_ids: Collection[str] | None
) -> None:
    if not menu.id:
        raise InvalidInput("a menu needs an id", field=f"{where}.id")
    if menu.prompt_id is not None and not is_prompt_id(menu.prompt_id):
        raise InvalidInput("not a prompt id", field=f"{where}.promptId")
    if not 1 <= menu.timeout_s <= MAX_TIMEOUT_S:
        raise InvalidInput(f"between 1 and {MAX_TIMEOUT_S} s", field=f"{where}.timeoutS")
    if not 0 <= menu.max_retries <= MAX_RETRIES:
        raise InvalidInput(f"between 0 and {MAX_RETRIES}", field=f"{where}.maxRetries")
    seen: set[str] = set()
    for index, option in enumerate(menu.options):
        at = f"{where}.options[{index}]"
        if option.digit not in KEYS:
            raise InvalidInput(f"{option.digit!r} is not a telephone key", field=f"{at}.digit")
        if option.digit in seen:
            raise InvalidInput(f"key {option.digit} is used twice", field=f"{at}.digit")
        seen.add(option.digit)
        validate_option(option, at, menu_ids, queue_ids)
    if menu.fallback is not None:
        validate_option(menu.fallback, f"{where}.fallback", menu_ids, queue_ids)


def validate_option(
    option: MenuOption, where: str, menu_ids: Collection[str], queue_ids: Collection[str] | None
) -> None:
    """Raise InvalidInput if the option's target does not fit its action."""
    target = option.target
    field = f"{where}.target"
    kind = option.action
    if kind in (MenuActionKind.REPEAT, MenuActionKind.DISCONNECT):
        return
    if kind is MenuActionKind.VOICEMAIL and target is None:
        raise InvalidInput("voicemail needs the queue whose shared voicemail it is", field=field)
    if not target:
        raise InvalidInput(f"{kind.value} needs a target", field=field)
    if kind is MenuActionKind.MENU and target not in menu_ids:
        raise InvalidInput(f"no menu {target!r}", field=field)
    if kind is MenuActionKind.NUMBER and not is_e164(target):
        raise InvalidInput(f"{target!r} is not an E.164 number", field=field)
    if (
        kind in (MenuActionKind.QUEUE, MenuActionKind.VOICEMAIL)
        and queue_ids is not None
        and target not in queue_ids
    ):
        raise InvalidInput(f"no queue {target!r}", field=field)


def path_in_words(
    path: Sequence[str], queue_names: Mapping[str, str], menu_names: Mapping[str, str]
) -> list[str]:
    """Say a call's way through the menus (``Call.ivr_path``) step by step, for people."""
    steps: list[str] = []
    for step in path:
        kind, _, value = step.partition(":")
        if kind == "menu":
            steps.append(f"Menu {menu_names.get(value) or value}")
        elif kind == "key":
            steps.append(f"Pressed {value}")
        elif kind == "queue":
            steps.append(f"To queue {queue_names.get(value) or value}")
        elif step == "no-input":
            steps.append("No key pressed")
        else:
            steps.append(step)
    return steps
