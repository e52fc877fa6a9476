"""Every card kind: its JSON as snapshotted, and valid for Microsoft's Adaptive Cards library.

Rerun with ``UPDATE_SNAPSHOTS=1`` to accept an intended change of a card.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.cards.adaptive import CARD_VERSION, Card
from tests.cards.catalog import every_card

HERE = Path(__file__).resolve().parent
SNAPSHOTS = HERE / "snapshots"
ROOT = HERE.parent.parent
VALIDATOR = HERE / "validate_cards.mjs"
LIBRARY = ROOT / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.js"

CARDS = every_card()


def _dump(card: Card) -> str:
    return json.dumps(card.to_json(), indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name", sorted(CARDS))
def test_card_matches_its_snapshot(name: str) -> None:
    path = SNAPSHOTS / f"{name}.json"
    rendered = _dump(CARDS[name])
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"no snapshot for {name}; rerun with UPDATE_SNAPSHOTS=1"
    assert path.read_text(encoding="utf-8") == rendered, (
        f"the {name} card changed; if that is intended, rerun with UPDATE_SNAPSHOTS=1"
    )


def test_every_snapshot_belongs_to_a_card_kind() -> None:
    stale = {path.stem for path in SNAPSHOTS.glob("*.json")} - set(CARDS)
    assert not stale, f"snapshots without a card: {sorted(stale)}"


def test_cards_declare_the_universal_actions_version() -> None:
    for name, card in CARDS.items():
        body = card.to_json()
        assert body["version"] == CARD_VERSION, name
        assert body["type"] == "AdaptiveCard", name


def _validate(paths: list[Path]) -> dict[str, list[str]]:
    node = shutil.which("node")
    if node is None or not LIBRARY.exists():
        if os.environ.get("CI"):
            pytest.fail("node and the npm package adaptivecards are needed (npm ci)")
        pytest.skip("node or node_modules/adaptivecards is missing (run npm ci)")
    completed = subprocess.run(
        [node, str(VALIDATOR), *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    report: dict[str, list[str]] = json.loads(completed.stdout)
    return report


def test_every_card_kind_parses_and_validates_in_the_adaptive_cards_library() -> None:
    paths = [SNAPSHOTS / f"{name}.json" for name in sorted(CARDS)]
    report = _validate(paths)
    assert set(report) == {str(path) for path in paths}
    problems = {Path(file).stem: found for file, found in report.items() if found}
    assert problems == {}


def test_the_validator_reports_unknown_elements_and_properties(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "type": "AdaptiveCard",
                "version": CARD_VERSION,
                "body": [
                    {"type": "TextBlock", "text": "hi", "colour": "Good"},
                    {"type": "Hologram"},
                    {"type": "TextBlock", "text": "x", "size": "Enormous"},
                ],
                "actions": [{"type": "Action.Teleport", "title": "Go"}],
            }
        ),
        encoding="utf-8",
    )
    [found] = _validate([bad]).values()
    joined = "\n".join(found)
    assert "Hologram" in joined
    assert "Action.Teleport" in joined
    assert "colour" in joined
    assert "Enormous" in joined
