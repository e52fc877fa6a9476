"""The dependency rule: the domain imports none of the adapters, nor their libraries; the
adapters import neither the host nor the simulator, and the tab no other adapter.

Every import counts, also one under ``if TYPE_CHECKING:`` or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ROOT / "contactcenter"
ADAPTER_PACKAGES = {"bot", "graph", "storage", "tab", "bench", "simulator"}
# The domain talks to the world through its own Protocols, never through these libraries.
ADAPTER_LIBRARIES = {
    "aiohttp",
    "azure",
    "botbuilder",
    "botframework",
    "msgraph",
    "kiota_abstractions",
    "msal",
    "httpx",
    "sqlite3",
    "jwt",
    "adaptivecards",
}


def imported_top_levels(path: Path) -> set[str]:
    """Return the top-level package of every absolute import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


# What each adapter may not import. The host (bot/) wires them together; the simulator is
# for demo mode, tests and benchmarks, so only bot/, bench/ and the tests import it.
FORBIDDEN_IMPORTS = {
    "tab": {"bot", "storage", "graph", "simulator", "bench"},
    "graph": {"bot", "simulator", "bench"},
    "storage": {"bot", "simulator", "bench"},
}


def domain_files() -> list[Path]:
    return sorted(DOMAIN.rglob("*.py"))


def adapter_files() -> list[Path]:
    return sorted(path for package in FORBIDDEN_IMPORTS for path in (ROOT / package).rglob("*.py"))


def test_domain_package_exists() -> None:
    assert domain_files(), "contactcenter/ has no modules"


@pytest.mark.parametrize("path", domain_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_module_imports_no_adapter(path: Path) -> None:
    forbidden = imported_top_levels(path) & (ADAPTER_PACKAGES | ADAPTER_LIBRARIES)
    assert not forbidden, f"{path.relative_to(ROOT)} imports {sorted(forbidden)}"


@pytest.mark.parametrize("path", adapter_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_adapter_module_imports_no_forbidden_package(path: Path) -> None:
    package = path.relative_to(ROOT).parts[0]
    forbidden = imported_top_levels(path) & FORBIDDEN_IMPORTS[package]
    assert not forbidden, f"{path.relative_to(ROOT)} imports {sorted(forbidden)}"


@pytest.mark.parametrize("package", sorted(FORBIDDEN_IMPORTS))
def test_adapter_package_exists(package: str) -> None:
    assert any((ROOT / package).rglob("*.py")), f"{package}/ has no modules"


def test_rule_sees_imports_for_type_checking_and_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "hidden.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from bot.settings import Settings\n"
        "def later() -> None:\n"
        "    import simulator.signing\n"
    )
    assert imported_top_levels(module) & FORBIDDEN_IMPORTS["tab"] == {"bot", "simulator"}


def test_rule_detects_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from storage.sqlite import SqliteStore\nimport aiohttp.web\n")
    assert imported_top_levels(module) & ADAPTER_PACKAGES == {"storage"}
    assert imported_top_levels(module) & ADAPTER_LIBRARIES == {"aiohttp"}
