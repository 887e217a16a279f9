"""The address book, mailbox and calendar from the app's command palette: the path asked first
(one that is not there is said in the prompt), the core's sync or import run behind a progress
modal, its summary shown; the records land as the command line's would."""

from __future__ import annotations

import asyncio

from crm_tui.services.core import Crm
from crm_tui.shell.app import CrmApp
from screens.index_modals import TextPromptModal


async def settle(pilot, times: int = 4) -> None:
    for _ in range(times):
        await pilot.pause()


async def _run_from_palette(pilot, app, command: str, path: str) -> None:
    names = [c.title for c in app.get_system_commands(app.screen)]
    assert command in names
    [chosen] = [c for c in app.get_system_commands(app.screen) if c.title == command]
    chosen.callback()
    await settle(pilot)
    assert isinstance(app.screen, TextPromptModal)
    app.screen.query_one("#text").value = path
    await pilot.press("enter")
    for _ in range(600):  # the worker runs in a thread; a busy machine may take a while
        await asyncio.sleep(0.05)
        await pilot.pause()
        if not app.screen.__class__.__name__.endswith("Modal"):
            break
    assert not app.screen.__class__.__name__.endswith("Modal"), f"{command} still running after 30 s"


def _notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_an_address_book_folder_synced_from_the_palette(db_path, tmp_path):
    Crm.open(db_path).close()
    folder = tmp_path / "contacts"
    folder.mkdir()
    (folder / "ada.vcf").write_text("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ada-1\r\nFN:Ada Quill\r\nN:Quill;Ada;;;\r\n"
                                    "EMAIL;TYPE=work:ada@quill.example\r\nEND:VCARD\r\n")
    app = CrmApp(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        if app.screen.__class__.__name__ == "WelcomeScreen":
            await pilot.press("escape")
            await settle(pilot)
        await _run_from_palette(pilot, app, "Sync an address book folder", str(folder))
        assert any("1 contact(s) created" in n for n in _notices(app)), _notices(app)
    with Crm.open(db_path) as crm:
        [row] = crm.records.list("contacts").rows
        assert row["email"] == "ada@quill.example"


async def test_a_path_that_is_not_there_is_said_in_the_prompt(db_path, tmp_path):
    Crm.open(db_path).close()
    app = CrmApp(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        if app.screen.__class__.__name__ == "WelcomeScreen":
            await pilot.press("escape")
            await settle(pilot)
        [chosen] = [c for c in app.get_system_commands(app.screen) if c.title == "Import a calendar"]
        chosen.callback()
        await settle(pilot)
        app.screen.query_one("#text").value = str(tmp_path / "nowhere.ics")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TextPromptModal)
        assert "no such file or folder" in str(app.screen.query_one("#error").render())


async def test_a_calendar_and_a_mailbox_from_the_palette(db_path, tmp_path):
    with Crm.open(db_path) as crm:
        carl = crm.records.create("contacts", {"email": "carl@acme.example", "firstname": "Carl"}).id
    calendar = tmp_path / "work.ics"
    calendar.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:m-1@t\r\n"
                        "SUMMARY:Kickoff\r\nDTSTART:20261203T100000Z\r\nDTEND:20261203T110000Z\r\n"
                        "ATTENDEE;CN=Carl:mailto:carl@acme.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    mbox = tmp_path / "sent.mbox"
    mbox.write_bytes(b"From carl@acme.example Mon Nov 30 10:00:00 2026\nFrom: Carl <carl@acme.example>\n"
                     b"To: me@mine.example\nSubject: Quote\nMessage-ID: <q-1@acme.example>\n"
                     b"Date: Mon, 30 Nov 2026 10:00:00 +0000\n\nThe quote.\n")
    app = CrmApp(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await _run_from_palette(pilot, app, "Import a calendar", str(calendar))
        await _run_from_palette(pilot, app, "Scan a mailbox", str(mbox))
        notices = _notices(app)
        assert any("1 new" in n for n in notices), notices
        assert any("logged 1" in n.lower() or "1 logged" in n.lower() for n in notices), notices
    with Crm.open(db_path) as crm:
        assert crm.records.count("meetings") == 1 and crm.records.count("emails") == 1
        assert crm.assoc.linked_ids(("contacts", carl), "meetings") and crm.assoc.linked_ids(("contacts", carl), "emails")


async def test_a_new_address_book_folder_is_made_and_a_mailbox_scan_stops_on_escape(db_path, tmp_path, monkeypatch):
    """The palette's vdir sync takes a folder that is not there yet (the command line makes it too);
    escape stops a mailbox scan between two messages, keeping what it logged, in one line."""
    from screens import neighbours

    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"email": "carl@acme.example", "firstname": "Carl"})
    mbox = tmp_path / "big.mbox"
    mbox.write_bytes(b"".join(
        f"From carl@acme.example Mon Nov 30 10:00:00 2026\nFrom: Carl <carl@acme.example>\nTo: me@mine.example\n"
        f"Subject: Note {i}\nMessage-ID: <n-{i}@acme.example>\nDate: Mon, 30 Nov 2026 10:00:00 +0000\n\nBody {i}.\n\n"
        .encode() for i in range(5)))
    app = CrmApp(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await _run_from_palette(pilot, app, "Sync an address book folder", str(tmp_path / "new-book"))
        assert (tmp_path / "new-book").is_dir()
        real = neighbours._stop_on_cancel

        def cancelled_after_first(progress, cancel, stopped):
            inner = real(progress, cancel, stopped)

            def each(done, total, *rest):
                if done >= 2:
                    cancel.set()  # as escape does, between the second and third message
                inner(done, total, *rest)
            return each

        monkeypatch.setattr(neighbours, "_stop_on_cancel", cancelled_after_first)
        await _run_from_palette(pilot, app, "Scan a mailbox", str(mbox))
        assert any("stopped: the messages logged so far are kept" in n for n in _notices(app)), _notices(app)
    with Crm.open(db_path) as crm:
        assert 1 <= crm.records.count("emails") < 5
