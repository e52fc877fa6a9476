"""The tab explains each figure with the formula that docs/kpis.md publishes for it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DEFINITIONS = ROOT / "tab" / "static" / "assets" / "js" / "kpi_definitions.js"
KPIS = ROOT / "docs" / "kpis.md"


def _shipped() -> dict[str, str]:
    """Return each figure's name and formula as the tab ships them."""
    text = DEFINITIONS.read_text(encoding="utf-8")
    found = re.findall(r'name: "([^"]+)", formula: "([^"]+)"', text)
    return dict(found)


def _published() -> dict[str, str]:
    """Return each KPI's formula as the KPI table of docs/kpis.md gives it."""
    formulas: dict[str, str] = {}
    for line in KPIS.read_text(encoding="utf-8").splitlines():
        cells = [c.strip().replace("`", "") for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1] and not set(cells[1]) <= {"-"}:
            formulas[cells[0]] = cells[1]
    return formulas


def test_every_figure_the_tab_explains_has_the_published_formula() -> None:
    shipped = _shipped()
    published = _published()
    assert {"SL1", "SL2", "SL3", "SL4", "ASA", "AHT"} <= set(shipped)
    for name, formula in shipped.items():
        assert formula in published.values(), f"{name}: {formula!r} is not in docs/kpis.md"
    for level in ("SL1", "SL2", "SL3", "SL4"):
        assert shipped[level] == published[level]
