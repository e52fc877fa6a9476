"""One person's data (GDPR): export it all, or erase it, from the admin API and the CLI."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.demo import VIP_NUMBER, seed_demo_tenant
from bot.messaging.documents import (
    CardCopy,
    MessagingDocuments,
    NoticeCards,
    NoticeKind,
    notice_cards_id,
)
from bot.settings import DEMO_TENANT_ID
from bot.tenant_cli import add_tenant_parser, run_tenant
from contactcenter.audit import AuditLog
from contactcenter.clock import VirtualClock
from contactcenter.model import Party, PartyKind, TenantStatus
from contactcenter.personal_data import PSEUDONYM_PREFIX
from contactcenter.repository import Repository
from storage.memory import MemoryStore
from storage.sqlite import SqliteStore
from tests.security.conftest import A_CALL, A_CALLER, A_RECORD, TENANT_A, seed_tenant_a_calls
from tests.security.support import refused
from tests.tab.support import ADMIN, ANA, BEN, SALES, SUPERVISOR, TabStack

ANA_TRACES = (ANA.id, ANA.name, ANA.upn)


def _everything(tab: TabStack) -> str:
    store = tab.repository.store
    assert isinstance(store, MemoryStore)
    return json.dumps([doc.body for doc in store._docs.values()])


async def _remove_ana_from_sales(tab: TabStack) -> None:
    status, queue = await tab.call("GET", f"/api/tab/admin/queues/{SALES}", user=ADMIN.id)
    assert status == 200
    body = {k: queue[k] for k in ("name", "routingMethod")}
    body["members"] = [m for m in queue["members"] if m != ANA.id]
    status, _ = await tab.call("PUT", f"/api/tab/admin/queues/{SALES}", user=ADMIN.id, json=body)
    assert status == 200


async def test_an_export_holds_everything_stored_about_the_user(tab: TabStack) -> None:
    status, export = await tab.call("GET", f"/api/tab/admin/users/{ANA.id}/export", user=ADMIN.id)

    assert status == 200
    assert export["userId"] == ANA.id
    assert export["user"]["upn"] == ANA.upn
    assert export["agent"]["displayName"] == ANA.name
    assert export["queueIds"] == [SALES]
    assert [r["id"] for r in export["callRecords"]] == [A_RECORD]
    assert export["conversation"] is None


async def test_an_export_of_someone_unknown_or_of_another_tenant_is_404(tab: TabStack) -> None:
    for user_id in ("00000000-0000-4000-8000-000000000000", "b1000000-0000-4000-8000-000000000001"):
        status, body = await tab.call(
            "GET", f"/api/tab/admin/users/{user_id}/export", user=ADMIN.id
        )
        assert status == 404
        assert body["error"]["code"] == "notFound"
        refused("GET /api/tab/admin/users/{userId}/export")


async def test_erasure_is_refused_while_the_user_is_in_a_queue(tab: TabStack) -> None:
    status, body = await tab.call(
        "DELETE", f"/api/tab/admin/users/{ANA.id}/personal-data", user=ADMIN.id
    )
    assert status == 409
    assert body["error"]["code"] == "userInUse"
    assert body["error"]["details"] == [{"field": "userId", "message": "member of queue Sales"}]
    assert (await tab.repository.users.get(TENANT_A, ANA.id)).value.upn == ANA.upn
    refused("DELETE /api/tab/admin/users/{userId}/personal-data")


async def test_the_last_admin_cannot_be_erased(tab: TabStack) -> None:
    status, body = await tab.call(
        "DELETE", f"/api/tab/admin/users/{ADMIN.id}/personal-data", user=ADMIN.id
    )
    assert status == 409
    assert body["error"]["code"] == "lastAdmin"
    refused("DELETE /api/tab/admin/users/{userId}/personal-data")


async def test_erasure_leaves_no_trace_of_the_person(tab: TabStack) -> None:
    await _remove_ana_from_sales(tab)
    assert all(trace in _everything(tab) for trace in ANA_TRACES)

    status, erased = await tab.call(
        "DELETE", f"/api/tab/admin/users/{ANA.id}/personal-data", user=ADMIN.id
    )

    assert status == 200
    assert erased["pseudonym"].startswith(PSEUDONYM_PREFIX)
    assert erased["deleted"] >= 2
    everything = _everything(tab)
    assert [trace for trace in ANA_TRACES if trace in everything] == []
    record = (await tab.repository.call_records.get(TENANT_A, A_RECORD)).value
    assert (record.agent_id, record.agent_name, record.talk_s) == (erased["pseudonym"], "", 240.0)
    latest = (await AuditLog(tab.repository.store, tab.clock).all(TENANT_A))[0].value
    assert (latest.action, latest.actor_id, latest.target_id) == (
        "user.erase",
        ADMIN.id,
        erased["pseudonym"],
    )
    status, _ = await tab.call("GET", f"/api/tab/admin/users/{ANA.id}/export", user=ADMIN.id)
    assert status == 404
    # The person can no longer sign in either.
    assert (await tab.call("GET", "/api/tab/me", user=ANA.id))[0] == 403


# ------------------------------------------------------- notice cards and dispositions
VOICEMAIL = "a3000000-0000-4000-8000-0000000000f1"
HIROS_CALL = "a3000000-0000-4000-8000-0000000000f2"


async def _notice_to_ana_and_ben(tab: TabStack) -> str:
    notice = NoticeCards(
        id=notice_cards_id(NoticeKind.VOICEMAIL, VOICEMAIL),
        tenant_id=TENANT_A,
        kind=NoticeKind.VOICEMAIL,
        subject_id=VOICEMAIL,
        copies=(
            CardCopy(ANA.id, "a:ana-personal-chat", "activity-ana"),
            CardCopy(BEN.id, "a:ben-personal-chat", "activity-ben"),
        ),
        sent_at=tab.clock.now(),
    )
    await MessagingDocuments(tab.repository.store).notice_cards.create(notice)
    return notice.id


async def _ana_disposes(tab: TabStack, call_id: str, note: str) -> None:
    status, body = await tab.call(
        "POST", f"/api/tab/me/calls/{call_id}/disposition", user=ANA.id, json={"note": note}
    )
    assert status == 200, body


async def test_an_export_holds_the_users_own_copies_of_notice_cards(tab: TabStack) -> None:
    notice_id = await _notice_to_ana_and_ben(tab)

    status, export = await tab.call("GET", f"/api/tab/admin/users/{ANA.id}/export", user=ADMIN.id)

    assert status == 200
    [notice] = export["noticeCards"]
    assert notice["id"] == notice_id
    assert [c["agentId"] for c in notice["copies"]] == [ANA.id]
    assert "a:ben-personal-chat" not in json.dumps(export)


async def test_an_export_holds_the_dispositions_the_agent_recorded(tab: TabStack) -> None:
    await _ana_disposes(tab, A_RECORD, "Wants the premium plan")

    status, export = await tab.call("GET", f"/api/tab/admin/users/{ANA.id}/export", user=ADMIN.id)

    assert status == 200
    [record] = export["callRecords"]
    assert (record["disposedBy"], record["dispositionNote"]) == (ANA.id, "Wants the premium plan")


async def test_erasure_takes_the_users_copies_out_of_notice_cards(tab: TabStack) -> None:
    notice_id = await _notice_to_ana_and_ben(tab)
    await _remove_ana_from_sales(tab)

    status, _ = await tab.call(
        "DELETE", f"/api/tab/admin/users/{ANA.id}/personal-data", user=ADMIN.id
    )

    assert status == 200
    notice = (
        await MessagingDocuments(tab.repository.store).notice_cards.get(TENANT_A, notice_id)
    ).value
    assert [c.agent_id for c in notice.copies] == [BEN.id]
    assert "a:ana-personal-chat" not in _everything(tab)


async def test_erasing_an_agent_keeps_their_notes_but_not_who_wrote_them(tab: TabStack) -> None:
    await _ana_disposes(tab, A_RECORD, f"Escalated by {ANA.name} ({ANA.upn}): refund agreed")
    await _remove_ana_from_sales(tab)

    status, erased = await tab.call(
        "DELETE", f"/api/tab/admin/users/{ANA.id}/personal-data", user=ADMIN.id
    )

    assert status == 200
    record = (await tab.repository.call_records.get(TENANT_A, A_RECORD)).value
    assert record.disposed_by == erased["pseudonym"] == record.agent_id
    assert record.disposition_note == "Escalated by  (): refund agreed"
    assert [trace for trace in ANA_TRACES if trace in _everything(tab)] == []


async def test_erasing_a_teams_caller_clears_the_notes_about_them(tab: TabStack) -> None:
    """Hiro called Sales from Teams; Ana's note on that call is about Hiro."""
    record = (await tab.repository.call_records.get(TENANT_A, A_RECORD)).value
    hiro = Party(PartyKind.USER, SUPERVISOR.id, SUPERVISOR.name, TENANT_A)
    await tab.repository.call_records.create(
        replace(
            record,
            id=HIROS_CALL,
            caller=hiro,
            disposition_code="Complaint",
            disposition_note="Caller is moving house next month",
            disposed_by=ANA.id,
            disposed_at=tab.clock.now(),
        )
    )

    status, erased = await tab.call(
        "DELETE", f"/api/tab/admin/users/{SUPERVISOR.id}/personal-data", user=ADMIN.id
    )

    assert status == 200
    kept = (await tab.repository.call_records.get(TENANT_A, HIROS_CALL)).value
    assert (kept.caller.id, kept.caller.display_name) == (erased["pseudonym"], "")
    assert (kept.disposition_code, kept.disposition_note) == ("Complaint", "")
    # What the business keeps: who took the call, and how long it lasted.
    assert (kept.agent_id, kept.disposed_by, kept.talk_s) == (ANA.id, ANA.id, record.talk_s)
    # The other caller's record is untouched.
    assert (await tab.repository.call_records.get(TENANT_A, A_RECORD)).value == record


async def test_only_admins_export_or_erase(tab: TabStack) -> None:
    for user in (ANA.id, SUPERVISOR.id):
        for method, path in (
            ("GET", f"/api/tab/admin/users/{ANA.id}/export"),
            ("DELETE", f"/api/tab/admin/users/{ANA.id}/personal-data"),
        ):
            status, _ = await tab.call(method, path, user=user)
            assert status == 403
            refused(f"{method} {path.replace(ANA.id, '{userId}')}")


# ------------------------------------------------------------------------ the CLI
def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="contact-center")
    add_tenant_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


async def _seed(data_dir: Path, clock: VirtualClock) -> None:
    store = await SqliteStore.open(data_dir / "contactcenter.db")
    try:
        repository = Repository(store)
        await seed_demo_tenant(repository, clock)
        await seed_tenant_a_calls(repository, clock)
    finally:
        await store.close()


async def _read(data_dir: Path, collection: str, doc_id: str) -> dict[str, Any] | None:
    store = await SqliteStore.open(data_dir / "contactcenter.db")
    try:
        page = await store.query(collection, DEMO_TENANT_ID)
        found = [doc.body for doc in page.documents if doc.id == doc_id]
        return dict(found[0]) if found else None
    finally:
        await store.close()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("MICROSOFT_APP_PASSWORD", "COSMOS_ENDPOINT", "GRAPH_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    clock = VirtualClock()
    asyncio.run(_seed(tmp_path, clock))
    return tmp_path


def test_the_cli_exports_a_user(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = data_dir / "ana.json"
    args = _parse(
        "tenant",
        "export-user",
        "--demo",
        "--data-dir",
        str(data_dir),
        "--tenant",
        DEMO_TENANT_ID,
        "--user",
        ANA.id,
        "--out",
        str(out),
    )
    assert run_tenant(args) == 0
    export = json.loads(out.read_text())
    assert export["user"]["upn"] == ANA.upn
    assert [r["id"] for r in export["callRecords"]] == [A_RECORD]
    assert out.stat().st_mode & 0o077 == 0


def test_the_cli_refuses_to_erase_a_queue_member_and_says_why(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parse(
        "tenant",
        "delete-user",
        "--demo",
        "--data-dir",
        str(data_dir),
        "--tenant",
        DEMO_TENANT_ID,
        "--user",
        ANA.id,
    )
    assert run_tenant(args) == 1
    assert "member of queue Sales" in capsys.readouterr().err


def test_the_cli_erases_a_user_who_is_in_no_queue(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parse(
        "tenant",
        "delete-user",
        "--demo",
        "--data-dir",
        str(data_dir),
        "--tenant",
        DEMO_TENANT_ID,
        "--user",
        SUPERVISOR.id,
    )
    assert run_tenant(args) == 0
    assert "pseudonym" in capsys.readouterr().out
    assert asyncio.run(_read(data_dir, Repository.USERS, SUPERVISOR.id)) is None


def test_the_cli_exports_a_caller_by_number(data_dir: Path) -> None:
    out = data_dir / "caller.json"
    args = _parse(
        "tenant",
        "export-caller",
        "--demo",
        "--data-dir",
        str(data_dir),
        "--tenant",
        DEMO_TENANT_ID,
        "--number",
        A_CALLER,
        "--out",
        str(out),
    )
    assert run_tenant(args) == 0
    export = json.loads(out.read_text())
    assert export["number"] == A_CALLER
    assert [c["id"] for c in export["calls"]] == [A_CALL]
    assert [r["id"] for r in export["callRecords"]] == [A_RECORD]
    assert out.stat().st_mode & 0o077 == 0


def test_the_cli_refuses_to_erase_a_caller_on_a_call_and_says_why(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parse(
        "tenant",
        "delete-caller",
        "--demo",
        "--data-dir",
        str(data_dir),
        "--tenant",
        DEMO_TENANT_ID,
        "--number",
        A_CALLER,
    )
    assert run_tenant(args) == 1
    err = capsys.readouterr().err
    assert "try again when it has ended" in err
    assert f"call {A_CALL}" in err


def test_the_cli_erases_a_caller(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(
        "tenant",
        "delete-caller",
        "--demo",
        "--data-dir",
        str(data_dir),
        "--tenant",
        DEMO_TENANT_ID,
        "--number",
        VIP_NUMBER,
    )
    assert run_tenant(args) == 0
    assert "pseudonym" in capsys.readouterr().out
    lists = asyncio.run(_read(data_dir, Repository.CALLER_LISTS, "callers"))
    assert lists is not None
    assert VIP_NUMBER not in json.dumps(lists)
    latest = asyncio.run(_audit(data_dir))[0]
    assert latest["action"] == "caller.erase"
    assert latest["actorId"].startswith("cli:")
    # Again: nothing is left to erase.
    assert run_tenant(args) == 0
    assert "nothing stored names" in capsys.readouterr().out


@pytest.mark.parametrize("number", ["4255550100", "+1 425 555 01x0", "+04255550100"])
def test_the_cli_refuses_a_number_that_is_not_e164(
    number: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("export-caller", "delete-caller"):
        with pytest.raises(SystemExit) as exited:
            _parse("tenant", command, "--tenant", DEMO_TENANT_ID, "--number", number)
        assert exited.value.code == 2
        assert "is not an E.164 phone number" in capsys.readouterr().err


def test_the_cli_offboards_a_tenant_and_audits_it(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parse(
        "tenant", "offboard", "--demo", "--data-dir", str(data_dir), "--tenant", DEMO_TENANT_ID
    )
    assert run_tenant(args) == 0
    tenant = asyncio.run(_read(data_dir, Repository.TENANTS, DEMO_TENANT_ID))
    assert tenant is not None
    assert tenant["status"] == TenantStatus.TERMINATED.value
    assert "refused from now on" in capsys.readouterr().out
    entries = asyncio.run(_audit(data_dir))
    assert entries[0]["action"] == "tenant.offboard"
    assert entries[0]["actorId"].startswith("cli:")


def test_the_cli_reports_an_unknown_tenant(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parse(
        "tenant",
        "offboard",
        "--demo",
        "--data-dir",
        str(data_dir),
        "--tenant",
        "99999999-9999-4999-8999-999999999999",
    )
    assert run_tenant(args) == 1
    assert "no tenant" in capsys.readouterr().err


def test_the_cli_purges(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse("tenant", "purge", "--demo", "--data-dir", str(data_dir))
    assert run_tenant(args) == 0
    assert capsys.readouterr().out.startswith("purged ")


async def _audit(data_dir: Path) -> list[dict[str, Any]]:
    store = await SqliteStore.open(data_dir / "contactcenter.db")
    try:
        return [
            {"action": e.value.action, "actorId": e.value.actor_id}
            for e in await AuditLog(store, VirtualClock()).all(DEMO_TENANT_ID)
        ]
    finally:
        await store.close()
