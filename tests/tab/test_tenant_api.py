"""The admin console's organization-wide settings: settings, prompt library, admin consent."""

from __future__ import annotations

import io
import wave
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.media_routes import MEDIA_STORE
from bot.settings import DEMO_TENANT_ID
from contactcenter.media import MAX_PROMPT_BYTES
from contactcenter.model import AgentStatus, Ivr, Menu, QueueAction
from graph.consent import required_permission_names
from simulator.media import wav_bytes
from storage.media import DataDirMediaStore
from tests.tab.support import ADMIN, ANA, SALES, TabStack

SETTINGS = "/api/tab/admin/settings"
PROMPTS = "/api/tab/admin/prompts"
CONSENT = "/api/tab/admin/consent"

GOOD_SETTINGS: dict[str, Any] = {
    "timeZone": "Europe/Paris",
    "retentionDays": 90,
    "notReadyReasons": ["Break", "Coaching", "Lunch"],
}


async def upload(
    tab: TabStack,
    body: bytes,
    *,
    name: str | None = "Welcome",
    user: str = ADMIN.id,
    content_type: str = "audio/wav",
    language: str | None = None,
) -> tuple[int, Any]:
    params = {}
    if name is not None:
        params["name"] = name
    if language is not None:
        params["language"] = language
    headers = {"Content-Type": content_type, **tab.auth(user)}
    async with tab.host.post(
        PROMPTS, params=params, data=io.BytesIO(body), headers=headers
    ) as response:
        return response.status, await response.json()


def three_channel_wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(3)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x01\x00" * 3 * 4000)
    return buffer.getvalue()


def stored_audio(tab: TabStack) -> list[Path]:
    store = tab.app[MEDIA_STORE]
    assert isinstance(store, DataDirMediaStore)
    folder = store.path(DEMO_TENANT_ID, "x").parent
    return sorted(folder.glob("*")) if folder.exists() else []


async def stored_prompts(tab: TabStack) -> list[str]:
    return [p.value.id for p in await tab.repository.prompts.find(DEMO_TENANT_ID)]


def fields(body: Any) -> list[str]:
    return [detail["field"] for detail in body["error"]["details"]]


# ==================================================================== settings
async def test_settings_start_with_the_tenant_defaults(tab: TabStack) -> None:
    status, body = await tab.call("GET", SETTINGS, user=ADMIN.id)

    assert status == 200
    tenant = (await tab.repository.tenants.get(DEMO_TENANT_ID, DEMO_TENANT_ID)).value
    assert body["timeZone"] == tenant.time_zone
    assert body["retentionDays"] == tenant.retention_days
    assert body["notReadyReasons"] == list(tenant.not_ready_reasons)


async def test_settings_are_replaced_and_audited(tab: TabStack) -> None:
    status, body = await tab.call("PUT", SETTINGS, user=ADMIN.id, json=GOOD_SETTINGS)

    assert status == 200
    assert {k: body[k] for k in GOOD_SETTINGS} == GOOD_SETTINGS
    tenant = (await tab.repository.tenants.get(DEMO_TENANT_ID, DEMO_TENANT_ID)).value
    assert (tenant.time_zone, tenant.retention_days, tenant.not_ready_reasons) == (
        "Europe/Paris",
        90,
        ("Break", "Coaching", "Lunch"),
    )
    entries = [e.value for e in await tab.audit.all(DEMO_TENANT_ID)]
    changed = [e for e in entries if e.action == "tenant.settings"]
    assert len(changed) == 1
    assert changed[0].actor_id == ADMIN.id
    assert changed[0].before is not None
    assert changed[0].after is not None
    assert changed[0].after["retentionDays"] == 90
    assert changed[0].before["retentionDays"] != 90


async def test_saving_the_same_settings_twice_audits_once(tab: TabStack) -> None:
    await tab.call("PUT", SETTINGS, user=ADMIN.id, json=GOOD_SETTINGS)
    status, _ = await tab.call("PUT", SETTINGS, user=ADMIN.id, json=GOOD_SETTINGS)

    assert status == 200
    entries = [e.value for e in await tab.audit.all(DEMO_TENANT_ID)]
    assert [e.action for e in entries].count("tenant.settings") == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timeZone": "Mars/Olympus_Mons"}, "timeZone"),
        ({"timeZone": "localtime"}, "timeZone"),
        ({"retentionDays": 29}, "retentionDays"),
        ({"retentionDays": 3651}, "retentionDays"),
        ({"notReadyReasons": []}, "notReadyReasons"),
        ({"notReadyReasons": [f"Reason {i}" for i in range(21)]}, "notReadyReasons"),
        ({"notReadyReasons": ["Lunch", "lunch"]}, "notReadyReasons"),
        ({"notReadyReasons": ["Lunch", "x" * 41]}, "notReadyReasons[1]"),
        ({"notReadyReasons": ["Lunch", "  "]}, "notReadyReasons[1]"),
    ],
)
async def test_bad_settings_are_refused_field_by_field_and_change_nothing(
    tab: TabStack, change: dict[str, Any], field: str
) -> None:
    before = (await tab.repository.tenants.get(DEMO_TENANT_ID, DEMO_TENANT_ID)).value

    status, body = await tab.call("PUT", SETTINGS, user=ADMIN.id, json={**GOOD_SETTINGS, **change})

    assert status == 422
    assert body["error"]["code"] == "validationFailed"
    assert fields(body) == [field]
    after = (await tab.repository.tenants.get(DEMO_TENANT_ID, DEMO_TENANT_ID)).value
    assert after == before


async def test_settings_are_for_admins_only(tab: TabStack) -> None:
    status, body = await tab.call("PUT", SETTINGS, user=ANA.id, json=GOOD_SETTINGS)

    assert status == 403
    assert body["error"]["code"] == "forbidden"


# ================================================================ agent reasons
async def test_me_offers_the_organizations_reasons(tab: TabStack) -> None:
    await tab.call("PUT", SETTINGS, user=ADMIN.id, json=GOOD_SETTINGS)

    status, me = await tab.call("GET", "/api/tab/me", user=ANA.id)

    assert status == 200
    assert me["notReadyReasons"] == ["Break", "Coaching", "Lunch"]


async def test_an_away_reason_from_the_list_is_taken_in_its_spelling(tab: TabStack) -> None:
    await tab.call("PUT", SETTINGS, user=ADMIN.id, json=GOOD_SETTINGS)

    status, me = await tab.call(
        "POST", "/api/tab/me/status", user=ANA.id, json={"status": "away", "reason": "coaching"}
    )

    assert status == 200
    assert me["agent"]["notReadyReason"] == "Coaching"


async def test_an_away_reason_not_in_the_list_is_refused(tab: TabStack) -> None:
    await tab.call("PUT", SETTINGS, user=ADMIN.id, json=GOOD_SETTINGS)

    status, body = await tab.call(
        "POST", "/api/tab/me/status", user=ANA.id, json={"status": "away", "reason": "Napping"}
    )

    assert status == 422
    assert fields(body) == ["reason"]
    agent = (await tab.repository.agents.get(DEMO_TENANT_ID, ANA.id)).value
    assert agent.status is AgentStatus.AVAILABLE


async def test_away_without_a_reason_is_still_accepted(tab: TabStack) -> None:
    status, me = await tab.call("POST", "/api/tab/me/status", user=ANA.id, json={"status": "away"})

    assert status == 200
    assert (me["agent"]["status"], me["agent"]["notReadyReason"]) == ("away", None)


# ===================================================================== prompts
async def test_an_uploaded_prompt_is_listed_played_and_audited(tab: TabStack) -> None:
    audio = wav_bytes(1.5, rate=16000)

    status, created = await upload(tab, audio, name="Spring welcome", language="fr-FR")

    assert status == 201
    assert created["name"] == "Spring welcome"
    assert created["language"] == "fr-FR"
    assert created["durationS"] == pytest.approx(1.5)
    assert created["sizeBytes"] == len(audio)
    status, listing = await tab.call("GET", PROMPTS, user=ADMIN.id)
    assert status == 200
    assert listing["maxBytes"] == MAX_PROMPT_BYTES
    [listed] = listing["prompts"]
    assert listed["id"] == created["id"]
    assert listed["uploadedBy"] == ADMIN.id
    assert listed["uploadedByName"] == ADMIN.name
    assert listed["uploadedAt"] is not None
    assert listed["usedBy"] == []
    async with tab.host.get(
        f"{PROMPTS}/{created['id']}/audio", headers=tab.auth(ADMIN.id)
    ) as response:
        assert response.status == 200
        assert response.content_type == "audio/wav"
        assert await response.read() == audio
    actions = [e.value.action for e in await tab.audit.all(DEMO_TENANT_ID)]
    assert "prompt.upload" in actions


async def test_a_file_that_is_not_a_prompt_wav_is_refused_and_nothing_is_stored(
    tab: TabStack,
) -> None:
    status, body = await upload(tab, three_channel_wav())

    assert status == 422
    assert fields(body) == ["file"]
    assert "3 channels" in body["error"]["message"]
    assert "mono or stereo" in body["error"]["message"]
    assert await stored_prompts(tab) == []
    assert stored_audio(tab) == []


async def test_a_text_file_is_refused_and_nothing_is_stored(tab: TabStack) -> None:
    status, body = await upload(tab, b"hello, this is not audio")

    assert status == 422
    assert fields(body) == ["file"]
    assert await stored_prompts(tab) == []
    assert stored_audio(tab) == []


async def test_a_file_over_the_limit_is_refused_and_nothing_is_stored(tab: TabStack) -> None:
    status, body = await upload(tab, b"\0" * (MAX_PROMPT_BYTES + 1))

    assert status == 413
    assert body["error"]["code"] == "payloadTooLarge"
    assert await stored_prompts(tab) == []
    assert stored_audio(tab) == []


async def test_an_upload_that_is_not_audio_is_refused(tab: TabStack) -> None:
    status, _ = await upload(tab, wav_bytes(0.5), content_type="text/plain")

    assert status == 415
    assert await stored_prompts(tab) == []


async def test_an_upload_without_a_name_is_refused_field_by_field(tab: TabStack) -> None:
    status, body = await upload(tab, wav_bytes(0.5), name=None)

    assert status == 422
    assert fields(body) == ["name"]
    assert await stored_prompts(tab) == []


async def test_an_upload_whose_name_holds_an_override_is_refused(tab: TabStack) -> None:
    status, body = await upload(tab, wav_bytes(0.5), name="Welcome\u202eevaw.exe")

    assert status == 422
    assert fields(body) == ["name"]
    assert await stored_prompts(tab) == []


async def test_agents_may_neither_upload_nor_play_prompts(tab: TabStack) -> None:
    status, _ = await upload(tab, wav_bytes(0.5), user=ANA.id)
    assert status == 403
    _, created = await upload(tab, wav_bytes(0.5))

    status, _ = await tab.call("GET", f"{PROMPTS}/{created['id']}/audio", user=ANA.id)

    assert status == 403


async def test_an_unknown_prompt_is_not_found(tab: TabStack) -> None:
    status, body = await tab.call("GET", f"{PROMPTS}/{'ab' * 16}/audio", user=ADMIN.id)
    assert status == 404
    assert body["error"]["message"] == "not found"
    status, _ = await tab.call("DELETE", f"{PROMPTS}/not-a-prompt-id", user=ADMIN.id)
    assert status == 404


async def test_a_prompt_a_queue_or_ivr_plays_cannot_be_deleted(tab: TabStack) -> None:
    _, created = await upload(tab, wav_bytes(0.5))
    prompt_id = created["id"]
    await tab.repository.queues.update(
        DEMO_TENANT_ID,
        SALES,
        lambda q: replace(
            q,
            greeting_prompt_id=prompt_id,
            overflow_action=QueueAction(prompt_id=prompt_id),
        ),
    )
    await tab.repository.ivrs.create(
        Ivr(
            id="main-menu",
            tenant_id=DEMO_TENANT_ID,
            name="Main menu",
            menus=(Menu(id="root", name="Welcome", prompt_id=prompt_id),),
            root_menu_id="root",
        )
    )

    status, body = await tab.call("DELETE", f"{PROMPTS}/{prompt_id}", user=ADMIN.id)

    assert status == 409
    assert body["error"]["code"] == "promptInUse"
    assert sorted(d["message"] for d in body["error"]["details"]) == [
        "Main menu plays it (menu Welcome)",
        "Sales plays it (greeting)",
        "Sales plays it (overflowAction)",
    ]
    assert await stored_prompts(tab) == [prompt_id]
    _, listing = await tab.call("GET", PROMPTS, user=ADMIN.id)
    uses = {(u["kind"], u["usage"]) for u in listing["prompts"][0]["usedBy"]}
    assert uses == {("queue", "greeting"), ("queue", "overflowAction"), ("ivr", "menu Welcome")}


async def test_an_unused_prompt_is_deleted_with_its_audio(tab: TabStack) -> None:
    _, created = await upload(tab, wav_bytes(0.5))
    assert len(stored_audio(tab)) == 1

    status, _ = await tab.call("DELETE", f"{PROMPTS}/{created['id']}", user=ADMIN.id)

    assert status == 204
    assert await stored_prompts(tab) == []
    assert stored_audio(tab) == []
    actions = [e.value.action for e in await tab.audit.all(DEMO_TENANT_ID)]
    assert "prompt.delete" in actions


async def test_the_upload_is_documented_as_a_size_limited_wav_body(tab: TabStack) -> None:
    _, document = await tab.call("GET", "/api/tab/openapi.json")

    operation = document["paths"][PROMPTS]["post"]
    body = operation["requestBody"]
    assert body["content"]["audio/wav"]["schema"] == {
        "type": "string",
        "format": "binary",
        "x-max-bytes": MAX_PROMPT_BYTES,
    }
    assert str(MAX_PROMPT_BYTES) in body["description"]
    assert "8-48 kHz" in body["description"]
    assert "stored as 16 kHz mono" in body["description"]
    assert {"413", "415", "422"} <= set(operation["responses"])
    assert {p["name"] for p in operation["parameters"]} == {"name", "language"}
    audio = document["paths"][f"{PROMPTS}/{{promptId}}/audio"]["get"]
    assert "audio/wav" in audio["responses"]["200"]["content"]


# ===================================================================== consent
async def test_consent_in_demo_mode_has_every_permission_granted(tab: TabStack) -> None:
    status, body = await tab.call("GET", CONSENT, user=ADMIN.id)

    assert status == 200
    assert [p["name"] for p in body["permissions"]] == list(required_permission_names())
    assert all(p["granted"] for p in body["permissions"])
    url = urlsplit(body["consentUrl"])
    assert url.netloc == "login.microsoftonline.com"
    assert url.path == f"/{DEMO_TENANT_ID}/adminconsent"
    query = parse_qs(url.query)
    assert query["client_id"] == [tab.settings.microsoft_app_id]
    assert query["redirect_uri"] == [f"{tab.settings.public_base_url}/tab/"]


async def test_consent_shows_which_permissions_are_missing(tab: TabStack) -> None:
    await tab.simulator.set_granted_app_roles(["Calls.Initiate.All", "Application.Read.All"])

    status, body = await tab.call("GET", CONSENT, user=ADMIN.id)

    assert status == 200
    granted = {p["name"]: p["granted"] for p in body["permissions"]}
    assert granted["Calls.Initiate.All"] is True
    assert granted["Presence.Read.All"] is False
    assert sum(granted.values()) == 2


async def test_a_graph_failure_answers_502_with_the_error_shape(tab: TabStack) -> None:
    await tab.simulator.add_fault(path_pattern=r"/servicePrincipals", status=503, count=None)

    status, body = await tab.call("GET", CONSENT, user=ADMIN.id)

    assert status == 502
    assert body["error"]["code"] == "graphFailed"
    assert body["error"]["message"]


async def test_consent_is_for_admins_only(tab: TabStack) -> None:
    status, _ = await tab.call("GET", CONSENT, user=ANA.id)

    assert status == 403
