"""infra/ deploys what the app needs: every setting it reads, and the resources of design §3.

No Bicep compiler runs here, so these tests also check the templates' structure the way a
compiler would at the seams: brackets balance, every module exists, is given every required
parameter and only declared ones, and every module output used is declared.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from bot.settings import OPTIONAL_SETTINGS

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
SETTINGS_SOURCE = ROOT / "bot" / "settings.py"
REPOSITORY_SOURCE = ROOT / "contactcenter" / "repository.py"

# App settings infra sets that the app itself does not read.
PLATFORM_SETTINGS = {
    # App Service runs the build (pip install) when a deployment arrives.
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    # The port App Service forwards requests to (the startup command listens there).
    "WEBSITES_PORT",
    # Read by azure-identity, not by Settings: which user-assigned identity to sign in as.
    "AZURE_CLIENT_ID",
}

_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")

# Built-in role definition ids (Azure RBAC and Cosmos DB data plane).
COSMOS_DATA_CONTRIBUTOR = "00000000-0000-0000-0000-000000000002"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"


# --- what the app reads, what infra sets -----------------------------------------------


def settings_read_by_app(source: str) -> set[str]:
    """Return every environment name the settings module reads.

    A name is read when an UPPER_SNAKE string is the first argument of a call
    (``text("NAME", ...)``, ``env.get("NAME", ...)``, ``_parse_int("NAME", ...)``) or a
    subscript (``env["NAME"]``), so a new setting is found whatever helper reads it.
    """
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        key: ast.expr | None = None
        if isinstance(node, ast.Call) and node.args:
            key = node.args[0]
        elif isinstance(node, ast.Subscript):
            key = node.slice
        if (
            isinstance(key, ast.Constant)
            and isinstance(key.value, str)
            and _ENV_NAME.fullmatch(key.value)
        ):
            names.add(key.value)
    return names


def app_settings_set_by_infra(bicep_sources: Iterable[str]) -> set[str]:
    """Return the names in every ``appSettings: [...]`` block of the Bicep sources."""
    names: set[str] = set()
    for text in bicep_sources:
        code = strip_bicep(text)
        for match in re.finditer(r"\bappSettings\s*:\s*\[", code):
            end = matching_bracket(code, match.end() - 1)
            names.update(re.findall(r"\bname\s*:\s*'([A-Za-z0-9_]+)'", text[match.end() : end]))
    return names


def consistency_problems(
    read: set[str], infra: set[str], optional: Iterable[str], platform: Iterable[str]
) -> list[str]:
    """Say which settings the app reads but infra omits, and which infra sets for nothing."""
    missing = sorted(read - infra - set(optional))
    unread = sorted(infra - read - set(platform))
    return [
        *(
            f"{name} is read by the app but infra/ does not set it: add it to the web app's "
            "appSettings, or to OPTIONAL_SETTINGS in bot/settings.py with a reason"
            for name in missing
        ),
        *(
            f"{name} is set by infra/ but the app never reads it: remove it, or allow-list "
            "it as a platform setting here with a reason"
            for name in unread
        ),
    ]


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_settings_names_are_derived_from_the_source() -> None:
    names = settings_read_by_app(read(SETTINGS_SOURCE))

    contract = {
        "MICROSOFT_APP_ID",
        "MICROSOFT_APP_PASSWORD",
        "MICROSOFT_APP_TENANT_ID",
        "MICROSOFT_APP_TYPE",
        "PUBLIC_BASE_URL",
        "GRAPH_BASE_URL",
        "COSMOS_ENDPOINT",
        "COSMOS_KEY",
        "COSMOS_DATABASE",
        "COSMOS_VERIFY_TLS",
        "BLOB_ACCOUNT_URL",
        "BLOB_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "DATA_DIR",
        "DEMO_CALL_RATE",
    }
    assert contract <= names


def test_optional_settings_are_all_settings_the_app_reads() -> None:
    stale = OPTIONAL_SETTINGS - settings_read_by_app(read(SETTINGS_SOURCE))

    assert not stale, f"OPTIONAL_SETTINGS names settings the app no longer reads: {sorted(stale)}"


def test_every_setting_the_app_reads_is_set_by_infra_unless_optional() -> None:
    read_names = settings_read_by_app(read(SETTINGS_SOURCE))
    infra_names = app_settings_set_by_infra(read(p) for p in bicep_files())

    problems = consistency_problems(read_names, infra_names, OPTIONAL_SETTINGS, PLATFORM_SETTINGS)

    assert not [p for p in problems if "read by the app" in p], "\n".join(problems)


def test_every_setting_infra_sets_is_read_by_the_app_unless_platform() -> None:
    read_names = settings_read_by_app(read(SETTINGS_SOURCE))
    infra_names = app_settings_set_by_infra(read(p) for p in bicep_files())

    problems = consistency_problems(read_names, infra_names, OPTIONAL_SETTINGS, PLATFORM_SETTINGS)

    assert not [p for p in problems if "set by infra" in p], "\n".join(problems)


def test_consistency_check_reports_a_fabricated_mismatch() -> None:
    source = (
        "def _parse(env):\n"
        "    a = text('KNOWN_SETTING')\n"
        "    b = env.get('BRAND_NEW_SETTING', '')\n"
        "    c = _parse_int('ANOTHER_NEW', env['ANOTHER_NEW'])\n"
        "    return SettingsError('NOT_A_SETTING is a message, not a read')\n"
    )
    bicep = (
        "resource site 'x' = {\n  properties: {\n    siteConfig: {\n      appSettings: [\n"
        "        { name: 'KNOWN_SETTING'\n value: 'a' }\n"
        "        {\n          name: 'LEFT_OVER'\n          value: '${x}'\n        }\n"
        "      ]\n    }\n  }\n}\n"
    )

    read_names = settings_read_by_app(source)
    problems = consistency_problems(read_names, app_settings_set_by_infra([bicep]), set(), set())

    assert read_names == {"KNOWN_SETTING", "BRAND_NEW_SETTING", "ANOTHER_NEW"}
    assert [p.split()[0] for p in problems] == ["ANOTHER_NEW", "BRAND_NEW_SETTING", "LEFT_OVER"]


# --- a small Bicep reader ----------------------------------------------------------------


def _skip_string(text: str, start: int) -> int:
    """Return the index just past the string literal starting at ``start``."""
    if text.startswith("'''", start):
        end = text.find("'''", start + 3)
        if end < 0:
            raise ValueError(f"unterminated multi-line string at {start}")
        return end + 3
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "'":
            return i + 1
        if text.startswith("${", i):
            i = _skip_expression(text, i + 2)
            continue
        if char == "\n":
            break
        i += 1
    raise ValueError(f"unterminated string at {start}")


def _skip_expression(text: str, start: int) -> int:
    """Return the index just past the ``}`` closing an interpolation opened before ``start``."""
    depth = 0
    i = start
    while i < len(text):
        char = text[i]
        if char == "'":
            i = _skip_string(text, i)
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return i + 1
            depth -= 1
        i += 1
    raise ValueError(f"unterminated interpolation at {start}")


def strip_bicep(text: str) -> str:
    """Blank out comments and string literals, keeping every other character in place."""
    out = list(text)
    i = 0
    while i < len(text):
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ValueError(f"unterminated comment at {i}")
            end += 2
        elif text[i] == "'":
            end = _skip_string(text, i)
        else:
            i += 1
            continue
        for j in range(i, end):
            if out[j] != "\n":
                out[j] = " "
        i = end
    return "".join(out)


_PAIRS = {"(": ")", "[": "]", "{": "}"}


def bracket_problems(code: str) -> list[str]:
    stack: list[tuple[str, int]] = []
    problems: list[str] = []
    for index, char in enumerate(code):
        if char in _PAIRS:
            stack.append((char, index))
        elif char in _PAIRS.values():
            if not stack or _PAIRS[stack[-1][0]] != char:
                problems.append(f"unexpected {char!r} at line {code.count(chr(10), 0, index) + 1}")
                continue
            stack.pop()
    problems += [f"unclosed {c!r} from line {code.count(chr(10), 0, i) + 1}" for c, i in stack]
    return problems


def matching_bracket(code: str, open_index: int) -> int:
    opener = code[open_index]
    closer = _PAIRS[opener]
    depth = 0
    for index in range(open_index, len(code)):
        if code[index] == opener:
            depth += 1
        elif code[index] == closer:
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"no match for {opener!r} at {open_index}")


def top_level_keys(code: str, open_index: int) -> list[str]:
    """Return the keys of the object literal whose ``{`` is at ``open_index``."""
    end = matching_bracket(code, open_index)
    keys: list[str] = []
    depth = 0
    line_start = True
    for index in range(open_index + 1, end):
        char = code[index]
        if depth == 0 and line_start:
            match = re.match(r"[ \t]*([A-Za-z_]\w*)\s*:", code[index:end])
            if match:
                keys.append(match.group(1))
        if char in _PAIRS:
            depth += 1
        elif char in _PAIRS.values():
            depth -= 1
        line_start = char == "\n"
    return keys


def declared_params(text: str) -> dict[str, bool]:
    """Map each ``param`` to whether it has a default (or is nullable)."""
    params: dict[str, bool] = {}
    for match in re.finditer(r"^param\s+(\w+)\s+([\w.]+\??)(\s*=)?", text, re.MULTILINE):
        params[match.group(1)] = bool(match.group(3)) or match.group(2).endswith("?")
    return params


def declared_outputs(text: str) -> set[str]:
    return set(re.findall(r"^output\s+(\w+)\s", text, re.MULTILINE))


def modules_of(path: Path) -> dict[str, tuple[Path, list[str]]]:
    """Map each module symbol in ``path`` to its file and the parameters it is given."""
    text = read(path)
    code = strip_bicep(text)
    modules: dict[str, tuple[Path, list[str]]] = {}
    for match in re.finditer(r"^module\s+(\w+)\s+'([^']+)'\s*=\s*\{", text, re.MULTILINE):
        body_end = matching_bracket(code, match.end() - 1)
        params = re.search(r"\bparams\s*:\s*\{", code[match.end() : body_end])
        given = top_level_keys(code, match.end() + params.end() - 1) if params else []
        modules[match.group(1)] = (path.parent / match.group(2), given)
    return modules


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_bicep_brackets_balance(path: Path) -> None:
    assert bracket_problems(strip_bicep(read(path))) == []


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_bicep_param_is_used(path: Path) -> None:
    text = read(path)
    without_comments = re.sub(r"//[^\n]*", "", text)
    unused = [
        name
        for name in declared_params(text)
        if len(re.findall(rf"\b{name}\b", without_comments)) < 2
    ]
    assert unused == []


def test_modules_exist_and_get_exactly_the_parameters_they_declare() -> None:
    modules = modules_of(MAIN)
    assert modules, "main.bicep uses no modules"
    for symbol, (module_path, given) in modules.items():
        assert module_path.is_file(), f"module {symbol}: {module_path} does not exist"
        declared = declared_params(read(module_path))
        unknown = sorted(set(given) - set(declared))
        missing = sorted(
            name for name, optional in declared.items() if not optional and name not in given
        )
        assert unknown == [], f"module {symbol} is given undeclared params {unknown}"
        assert missing == [], f"module {symbol} misses required params {missing}"


def test_module_outputs_used_are_declared() -> None:
    text = read(MAIN)
    modules = modules_of(MAIN)
    for symbol, output in set(re.findall(r"\b(\w+)\.outputs\.(\w+)", text)):
        assert symbol in modules, f"{symbol}.outputs.{output}: no module {symbol}"
        assert output in declared_outputs(read(modules[symbol][0])), (
            f"module {symbol} declares no output {output}"
        )


def test_bicep_reader_catches_what_a_compiler_would() -> None:
    broken = "param used string\nparam unused string\nvar x = '${used}-${replace(used, '-', '')}'\nresource r 'x' = {\n  a: [\n}\n"
    assert bracket_problems(strip_bicep(broken)) != []
    assert declared_params("param a string\nparam b int = 1\nparam c string?\n") == {
        "a": False,
        "b": True,
        "c": True,
    }
    code = strip_bicep(
        "module m 'm.bicep' = {\n  params: {\n    a: 'x{'\n    b: {\n      c: 1\n    }\n  }\n}\n"
    )
    assert top_level_keys(code, code.index("{", code.index("params"))) == ["a", "b"]


def test_parameters_file_names_only_declared_parameters() -> None:
    parameters = json.loads(read(INFRA / "main.parameters.json"))["parameters"]
    declared = declared_params(read(MAIN))

    assert set(parameters) <= set(declared)


def test_only_the_bot_identity_must_be_given_at_deployment() -> None:
    declared = declared_params(read(MAIN))
    required = {name for name, has_default in declared.items() if not has_default}
    deploy_doc = read(ROOT / "docs" / "deploy.md")

    assert required == {"botAppId", "botAppPassword"}
    assert all(name in deploy_doc for name in required)
    assert re.search(r"@secure\(\)\s*\nparam botAppPassword\b", read(MAIN))


# --- the resources of the deployment model -----------------------------------------------


def module_text(name: str) -> str:
    return read(INFRA / "modules" / f"{name}.bicep")


def test_web_app_runs_python_3_11_with_health_check_always_on_and_https_only() -> None:
    text = module_text("webapp")

    assert "linuxFxVersion: 'PYTHON|3.11'" in text
    assert "healthCheckPath: '/healthz'" in text
    assert "alwaysOn: true" in text
    assert "httpsOnly: true" in text
    assert "minTlsVersion: '1.2'" in text
    assert re.search(r"appCommandLine: 'contact-center serve --host 0\.0\.0\.0 --port", text)


def test_bot_secret_reaches_the_app_only_through_a_key_vault_reference() -> None:
    text = module_text("webapp")

    assert re.search(
        r"name: 'MICROSOFT_APP_PASSWORD'\s*value: '@Microsoft\.KeyVault\(SecretUri=\$\{botPasswordSecretUri\}\)'",
        text,
    )
    assert "keyVaultReferenceIdentity: identityId" in text
    assert "enableRbacAuthorization: true" in module_text("keyvault")


def repository_collections(source: str) -> dict[str, str]:
    """Return the ``Repository`` class's UPPER_CASE collection-name constants."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == "Repository":
            return {
                target.id: statement.value.value
                for statement in node.body
                if isinstance(statement, ast.Assign)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
                for target in statement.targets
                if isinstance(target, ast.Name) and target.id.isupper()
            }
    raise AssertionError("no class Repository in contactcenter/repository.py")


def test_cosmos_has_a_tenant_partitioned_container_for_every_collection() -> None:
    containers = dict(re.findall(r"name: '(\w+)'\s*perItemTtl: (true|false)", read(MAIN)))
    collections = repository_collections(read(REPOSITORY_SOURCE))
    text = module_text("cosmos")

    assert "CALL_RECORDS" in collections
    missing = sorted(set(collections.values()) - set(containers))
    assert missing == [], f"no Cosmos DB container for the collections {missing}"
    # Every container the Cosmos store opens (it cannot create them under managed identity).
    from storage.cosmos import COLLECTIONS

    assert sorted(set(COLLECTIONS) - set(containers)) == []
    from storage.cosmos import COLLECTIONS as LAYOUTS

    with_ttl = sorted(name for name, layout in LAYOUTS.items() if layout.default_ttl is not None)
    assert collections["CALL_RECORDS"] in with_ttl
    assert sorted(name for name, ttl in containers.items() if ttl == "true") == with_ttl
    assert re.search(r"paths: \[\s*'/tenantId'\s*\]", text)
    assert "defaultTtl: -1" in text


def test_cosmos_is_serverless_by_default_with_a_provisioned_option() -> None:
    text = module_text("cosmos")

    assert re.search(r"param capacityMode string = 'Serverless'", text)
    assert "'EnableServerless'" in text
    assert "autoscaleSettings" in text
    assert "disableLocalAuth: true" in text


def test_managed_identity_gets_the_three_data_plane_roles() -> None:
    cosmos = module_text("cosmos")

    assert "Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@" in cosmos
    assert COSMOS_DATA_CONTRIBUTOR in cosmos
    assert STORAGE_BLOB_DATA_CONTRIBUTOR in module_text("storage")
    assert KEY_VAULT_SECRETS_USER in module_text("keyvault")
    assert "allowSharedKeyAccess: false" in module_text("storage")


def test_azure_bot_is_single_tenant_with_teams_calling_on_the_calling_webhook() -> None:
    text = module_text("bot")

    assert "msaAppType: 'SingleTenant'" in text
    assert "msaAppTenantId: botTenantId" in text
    assert "endpoint: '${publicBaseUrl}/api/messages'" in text
    assert "channelName: 'MsTeamsChannel'" in text
    assert "enableCalling: true" in text
    assert "callingWebhook: '${publicBaseUrl}/api/calling'" in text


def test_app_insights_is_backed_by_log_analytics() -> None:
    text = module_text("monitoring")

    assert "Microsoft.OperationalInsights/workspaces@" in text
    assert "WorkspaceResourceId: workspace.id" in text
