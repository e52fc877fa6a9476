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
    "storage": {"bot", "tab", "simulator", "bench"},
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


def imported_modules(path: Path) -> set[str]:
    """Return the dotted name of every absolute import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


STORAGE = ROOT / "storage"
# The Cosmos DB store's modules, lower layers first: each imports only those before it.
COSMOS_LAYERS = ["layout", "items", "query", "errors", "charges", "store"]


def test_every_cosmos_module_has_its_layer() -> None:
    modules = {path.stem for path in (STORAGE / "cosmos").glob("*.py")} - {"__init__"}
    assert modules == set(COSMOS_LAYERS)


@pytest.mark.parametrize("layer", COSMOS_LAYERS)
def test_a_cosmos_module_imports_only_lower_layers(layer: str) -> None:
    allowed = {f"storage.cosmos.{name}" for name in COSMOS_LAYERS[: COSMOS_LAYERS.index(layer)]}
    imported = {
        name
        for name in imported_modules(STORAGE / "cosmos" / f"{layer}.py")
        if name == "storage.cosmos" or name.startswith("storage.cosmos.")
    }
    assert imported <= allowed, f"storage/cosmos/{layer}.py imports {sorted(imported - allowed)}"


# The routing engine's layers, lowest first: each module imports only modules listed
# before it, so the package forms no import circle and a lower layer never calls upward.
ENGINE = DOMAIN / "engine"
ENGINE_PACKAGE = "contactcenter.engine"
ENGINE_LAYERS = (
    "settings",
    "codecs",
    "context",
    "timing",
    "store",
    "wrapups",
    "prompts",
    "alerts",
    "endings",
    "unknown",
    "offers",
    "matching",
    "leaving",
    "voicemail",
    "queueing",
    "answers",
    "handover",
    "reconciling",
    "transfers",
    "callbacks",
    "menus",
    "incoming",
    "events",
    "timers",
    "agents",
    "__init__",
)
# A module longer than this is more than one idea: split it.
ENGINE_MODULE_MAX_LINES = 800


def engine_modules_imported(path: Path) -> set[str]:
    """Return the engine modules ``path`` imports (``__init__`` for the package itself)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == ENGINE_PACKAGE:
                    found.add("__init__")
                elif alias.name.startswith(f"{ENGINE_PACKAGE}."):
                    found.add(alias.name.split(".")[2])
        elif isinstance(node, ast.ImportFrom):
            if node.level > 0:
                raise AssertionError(f"{path.name}: use absolute imports in the engine")
            module = node.module or ""
            if module == ENGINE_PACKAGE:
                found.update(
                    alias.name if (ENGINE / f"{alias.name}.py").exists() else "__init__"
                    for alias in node.names
                )
            elif module.startswith(f"{ENGINE_PACKAGE}."):
                found.add(module.split(".")[2])
    return found


def test_every_engine_module_has_a_layer() -> None:
    assert {p.stem for p in ENGINE.glob("*.py")} == set(ENGINE_LAYERS)


def imports_not_below(path: Path, layer: str) -> set[str]:
    """Return the engine modules ``path`` (at ``layer``) imports that are not below it."""
    below = set(ENGINE_LAYERS[: ENGINE_LAYERS.index(layer)])
    return engine_modules_imported(path) - below


@pytest.mark.parametrize("layer", ENGINE_LAYERS)
def test_engine_module_imports_only_lower_layers(layer: str) -> None:
    upward = imports_not_below(ENGINE / f"{layer}.py", layer)
    assert not upward, f"contactcenter/engine/{layer}.py imports {sorted(upward)} (not below it)"


@pytest.mark.parametrize("layer", ENGINE_LAYERS)
def test_engine_module_stays_short(layer: str) -> None:
    lines = len((ENGINE / f"{layer}.py").read_text(encoding="utf-8").splitlines())
    assert lines <= ENGINE_MODULE_MAX_LINES, f"contactcenter/engine/{layer}.py has {lines} lines"


def test_layer_rule_detects_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "store.py"
    module.write_text(
        "from contactcenter.engine.settings import EngineSettings\n"
        "from contactcenter.engine.matching import Matching\n"
        "import contactcenter.engine.timers\n"
    )
    assert imports_not_below(module, "store") == {"matching", "timers"}
    assert imports_not_below(module, "__init__") == set()
