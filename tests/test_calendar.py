"""Calendars: `crm-tui calendar import FILE.ics|DIR` logs events as meetings once per UID, updates
them when the event changes, marks cancelled ones; `crm-tui export meetings --format ics` writes
them back. Real .ics files and the real khal writing and reading the calendar folders."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import icalendar
import pytest

from crm_tui.cli import main as cli
from crm_tui.domain import sources
from crm_tui.importing import ical
from crm_tui.services.core import Crm
from crm_tui.storage import db as dbmod

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def ics(*events: str, extra: str = "") -> str:
    """A calendar of VEVENTs (each given as its property lines), CRLF line ends as RFC 5545 has them."""
    body = "".join(f"BEGIN:VEVENT\n{e.strip()}\nEND:VEVENT\n" for e in events)
    text = f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n{extra}{body}END:VCALENDAR\n"
    return text.replace("\n", "\r\n")


SYNC = """UID:sync-1@example.org
SEQUENCE:0
SUMMARY:Quarterly review\\, budget\\; plan
DESCRIPTION:Agenda:\\n1. numbers\\n2. hiring
LOCATION:Room 4
DTSTART;TZID=Europe/Berlin:20261203T100000
DTEND;TZID=Europe/Berlin:20261203T113000
ORGANIZER;CN=Me Myself:mailto:me@mine.example
ATTENDEE;CN="Lee, Ann";PARTSTAT=ACCEPTED:mailto:Ann@Acme.example
ATTENDEE;CN=Bob Stone:MAILTO:bob.private@mail.example
ATTENDEE;CN=Carol New:mailto:carol@new.example"""


def people(crm):
    ann = crm.records.create("contacts", {"email": "ann@acme.example", "firstname": "Ann", "lastname": "Lee"},
                             sources.API).id
    bob = crm.records.create("contacts", {"email": "bob@work.example", "firstname": "Bob", "lastname": "Stone",
                                          "hs_additional_emails": "old@x.example;bob.private@mail.example"},
                             sources.API).id
    return ann, bob


def meetings(crm) -> list[dict]:
    model = crm.registry.get("meetings").model
    return list(model.select().where(model.deleted_at.is_null(True)).order_by(model.id).dicts())


def contacts_of(crm, meeting_id) -> set[int]:
    return set(crm.assoc.linked_ids(("meetings", meeting_id), "contacts"))


def test_an_event_lands_once_on_its_attendees_and_a_second_import_changes_nothing(crm, tmp_path):
    ann, bob = people(crm)
    path = tmp_path / "work.ics"
    path.write_text(ics(SYNC), encoding="utf-8")

    result = ical.import_calendar(crm, path, own_addresses={"me@mine.example"})
    assert (result.new, result.updated, result.no_contact, result.contacts_created) == (1, 0, 0, 0)
    [m] = meetings(crm)
    assert m["hs_meeting_title"] == "Quarterly review, budget; plan"
    assert m["hs_meeting_body"] == "Agenda:\n1. numbers\n2. hiring"
    assert m["hs_meeting_location"] == "Room 4"
    assert m["hs_meeting_uid"] == "sync-1@example.org"
    assert m["hs_meeting_start_time"].startswith("2026-12-03T09:00:00")  # 10:00 in Berlin (CET) is 09:00 UTC
    assert m["hs_meeting_end_time"].startswith("2026-12-03T10:30:00")
    assert m["hs_timestamp"] == m["hs_meeting_start_time"]
    assert m["hs_meeting_outcome"] == "SCHEDULED" and not m["hs_meeting_all_day"]
    # Ann by her primary email (written in another case), Bob by an additional one; no one else
    assert contacts_of(crm, m["id"]) == {ann, bob}
    assert crm.records.count("contacts") == 2  # Carol is no contact, and "me" never is
    [created] = [c for c in crm.history.property_history("meetings", m["id"]) if c.property == "hs_meeting_uid"]
    assert created.source == sources.IMPORT and created.actor == "calendar import work.ics"

    again = ical.import_calendar(crm, path, own_addresses={"me@mine.example"})
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
    assert "0 new, 0 updated" in again.summary_lines()[0]
    assert len(meetings(crm)) == 1


def test_a_changed_event_updates_its_meeting_in_one_operation(crm, tmp_path):
    ann, bob = people(crm)
    path = tmp_path / "work.ics"
    path.write_text(ics(SYNC), encoding="utf-8")
    ical.import_calendar(crm, path)
    [m] = meetings(crm)
    dave = crm.records.create("contacts", {"email": "dave@acme.example"}, sources.API).id
    changed = (SYNC.replace("SEQUENCE:0", "SEQUENCE:1").replace("LOCATION:Room 4", "LOCATION:Room 9")
               .replace("T100000", "T140000") + "\nATTENDEE:mailto:dave@acme.example")
    path.write_text(ics(changed), encoding="utf-8")
    before = crm.models.Operation.select().count()

    result = ical.import_calendar(crm, path)
    assert (result.new, result.updated) == (0, 1)
    [after] = meetings(crm)
    assert after["id"] == m["id"] and after["hs_meeting_location"] == "Room 9"
    assert after["hs_meeting_start_time"].startswith("2026-12-03T13:00:00") and after["hs_meeting_sequence"] == 1
    assert contacts_of(crm, m["id"]) == {ann, bob, dave}
    top = [op for op in crm.models.Operation.select().where(crm.models.Operation.id > before)
           if op.parent is None]
    assert len(top) == 1 and top[0].source == sources.IMPORT and top[0].actor == "calendar import work.ics"
    changes = {c.property: c for c in crm.history.property_history("meetings", m["id"]) if c.op_id != m["created_op"]}
    assert changes["hs_meeting_location"].old_value == "Room 4" and changes["hs_meeting_location"].source == sources.IMPORT
    # the whole update is one operation: one undo takes it back, the link to Dave with it
    crm.journal.undo(top[0].id, source=sources.API)
    assert meetings(crm)[0]["hs_meeting_location"] == "Room 4" and contacts_of(crm, m["id"]) == {ann, bob}
    crm.journal.redo(source=sources.API)

    # an older version (a lower SEQUENCE) changes nothing
    path.write_text(ics(SYNC.replace("LOCATION:Room 4", "LOCATION:Old room")), encoding="utf-8")
    older = ical.import_calendar(crm, path)
    assert (older.updated, older.older) == (0, 1) and meetings(crm)[0]["hs_meeting_location"] == "Room 9"

    # an edit made in the CRM stays while the event does not change
    crm.records.update("meetings", m["id"], {"hs_meeting_title": "Review (my notes)"}, sources.API)
    path.write_text(ics(changed), encoding="utf-8")
    assert ical.import_calendar(crm, path).unchanged == 1
    assert meetings(crm)[0]["hs_meeting_title"] == "Review (my notes)"
    # ... and an attendee who has become a contact since is linked all the same
    carol = crm.records.create("contacts", {"email": "carol@new.example"}, sources.API).id
    assert ical.import_calendar(crm, path).updated == 1
    assert carol in contacts_of(crm, m["id"]) and meetings(crm)[0]["hs_meeting_title"] == "Review (my notes)"

    # the same SEQUENCE with other values (a client that never bumps it) still updates
    path.write_text(ics(changed.replace("SUMMARY:Quarterly review", "SUMMARY:Yearly review")), encoding="utf-8")
    assert ical.import_calendar(crm, path).updated == 1
    assert meetings(crm)[0]["hs_meeting_title"].startswith("Yearly review")


def test_a_cancelled_event_is_marked_not_deleted(crm, tmp_path):
    people(crm)
    path = tmp_path / "work.ics"
    path.write_text(ics(SYNC), encoding="utf-8")
    ical.import_calendar(crm, path)
    path.write_text(ics(SYNC.replace("SEQUENCE:0", "SEQUENCE:2\nSTATUS:CANCELLED")), encoding="utf-8")
    result = ical.import_calendar(crm, path)
    assert (result.updated, result.cancelled) == (1, 1)
    [m] = meetings(crm)
    assert m["hs_meeting_outcome"] == "CANCELED" and m["deleted_at"] is None
    # taking place again after all
    path.write_text(ics(SYNC.replace("SEQUENCE:0", "SEQUENCE:3\nSTATUS:CONFIRMED")), encoding="utf-8")
    ical.import_calendar(crm, path)
    assert meetings(crm)[0]["hs_meeting_outcome"] == "SCHEDULED"


def test_times_all_day_floating_utc_duration_and_repeating_events(crm, tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        people(crm)
        att = "ATTENDEE:mailto:ann@acme.example"
        path = tmp_path / "times.ics"
        path.write_text(ics(
            f"UID:allday\nSUMMARY:Offsite\nDTSTART;VALUE=DATE:20261210\nDTEND;VALUE=DATE:20261212\n{att}",
            f"UID:floating\nSUMMARY:Lunch\nDTSTART:20260701T120000\nDURATION:PT90M\n{att}",
            f"UID:utc\nSUMMARY:Call\nDTSTART:20260105T080000Z\nDTEND:20260105T083000Z\n{att}",
            f"UID:weekly\nSUMMARY:Standup\nDTSTART:20260105T090000Z\nDTEND:20260105T091500Z\n"
            f"RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10\n{att}",
            # one occurrence of the standup moved: not a meeting of its own
            f"UID:weekly\nRECURRENCE-ID:20260112T090000Z\nSUMMARY:Standup (moved)\n"
            f"DTSTART:20260112T100000Z\nDTEND:20260112T101500Z\n{att}",
        ), encoding="utf-8")
        result = ical.import_calendar(crm, path)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert (result.new, result.repeating, result.overrides) == (4, 1, 1)
    by_uid = {m["hs_meeting_uid"]: m for m in meetings(crm)}
    assert by_uid["allday"]["hs_meeting_all_day"] == 1
    assert by_uid["allday"]["hs_meeting_start_time"].startswith("2026-12-10T00:00:00")
    assert by_uid["allday"]["hs_meeting_end_time"].startswith("2026-12-12T00:00:00")
    # a floating time is this computer's local time (New York, summer: UTC-4); DURATION gives the end
    assert by_uid["floating"]["hs_meeting_start_time"].startswith("2026-07-01T16:00:00")
    assert by_uid["floating"]["hs_meeting_end_time"].startswith("2026-07-01T17:30:00")
    assert by_uid["utc"]["hs_meeting_start_time"].startswith("2026-01-05T08:00:00")
    # logged once, at its first occurrence, with its rule kept
    assert by_uid["weekly"]["hs_meeting_title"] == "Standup"
    assert by_uid["weekly"]["hs_meeting_start_time"].startswith("2026-01-05T09:00:00")
    assert by_uid["weekly"]["hs_meeting_recurrence"] == "FREQ=WEEKLY;COUNT=10;BYDAY=MO"
    assert any("logged once, at its first occurrence" in line for line in result.summary_lines())


def test_create_adds_unknown_attendees_but_never_your_own_addresses(db_path, tmp_path, capsys):
    with Crm.open(db_path) as crm:
        people(crm)
    config = tmp_path / "config" / "crm-tui" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("my_addresses: [me@mine.example]\n", encoding="utf-8")
    path = tmp_path / "work.ics"
    path.write_text(ics(SYNC + "\nATTENDEE;CN=Also Me:mailto:second@mine.example\nATTENDEE:mailto:bad@@x.example"),
                    encoding="utf-8")
    args = ["--db", str(db_path), "calendar", "import", str(path), "--create", "--me", "Second@mine.example"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "1 new, 0 updated" in out and "1 contact created from attendees" in out
    assert "attendee bad@@x.example: contacts.email" in out  # listed; the event still lands on the others
    with Crm.open(db_path) as crm:
        emails = {r["email"]: r for r in crm.records.list("contacts", limit=10).rows}
        assert set(emails) == {"ann@acme.example", "bob@work.example", "carol@new.example"}
        assert (emails["carol@new.example"]["firstname"], emails["carol@new.example"]["lastname"]) == ("Carol", "New")
        [m] = meetings(crm)
        assert contacts_of(crm, m["id"]) == set(r["id"] for r in emails.values())
    assert cli.main(args) == 0
    assert "0 new, 0 updated" in capsys.readouterr().out
    # without --create first, with it the next time: the attendee is added to the same meeting
    later = tmp_path / "later.ics"
    later.write_text(ics("UID:later\nSUMMARY:Later\nDTSTART:20260105T080000Z\nATTENDEE:mailto:ann@acme.example\n"
                         "ATTENDEE;CN=Dan:mailto:dan@new.example"), encoding="utf-8")
    assert cli.main(args[:4] + [str(later)]) == 0 and "1 new, 0 updated" in capsys.readouterr().out
    assert cli.main(args[:4] + [str(later), "--create"]) == 0
    assert "0 new, 1 updated" in capsys.readouterr().out
    with Crm.open(db_path) as crm:
        dan = crm.records.find_existing("contacts", {"email": "dan@new.example"})
        assert dan in contacts_of(crm, meetings(crm)[-1]["id"])
    # someone invited later, with --create: made a contact and linked to the same meeting
    path.write_text(ics(SYNC.replace("SEQUENCE:0", "SEQUENCE:1") + "\nATTENDEE;CN=Eve Late:mailto:eve@late.example"),
                    encoding="utf-8")
    assert cli.main(args) == 0
    assert "0 new, 1 updated" in capsys.readouterr().out
    with Crm.open(db_path) as crm:
        m = meetings(crm)[0]
        eve = crm.records.list("contacts", [], limit=10).rows[-1]
        assert eve["email"] == "eve@late.example" and eve["id"] in contacts_of(crm, m["id"])


def _hostile_meetings(crm):
    ann, bob = people(crm)
    values = {"hs_meeting_title": "Plan; phase 1, 2 \\ 3 \x1b[31mred\x1b[0m",
              "hs_meeting_body": "line one\nline two; with, commas\\ and a backslash\n\x07bell\r\nEND:VEVENT\nBEGIN:VEVENT",
              "hs_meeting_location": "Café \"Zum Löwen\", Berlin",
              "hs_meeting_start_time": "2026-03-02T15:00:00Z", "hs_meeting_end_time": "2026-03-02T16:00:00Z",
              "hs_timestamp": "2026-03-02T15:00:00Z", "hs_meeting_outcome": "COMPLETED"}
    first = crm.activities.log(("contacts", ann), "meetings", values, also=[("contacts", bob)]).id
    second = crm.activities.log(("contacts", bob), "meetings", {
        "hs_meeting_title": "Offsite", "hs_meeting_start_time": "2026-05-04T00:00:00Z",
        "hs_meeting_end_time": "2026-05-06T00:00:00Z", "hs_timestamp": "2026-05-04T00:00:00Z",
        "hs_meeting_all_day": True, "hs_meeting_recurrence": "FREQ=YEARLY", "hs_meeting_outcome": "CANCELED"}).id
    return first, second


SAME = ("hs_meeting_title", "hs_meeting_body", "hs_meeting_location", "hs_meeting_start_time",
        "hs_meeting_end_time", "hs_timestamp", "hs_meeting_all_day", "hs_meeting_recurrence")


def test_export_then_import_into_a_fresh_database_gives_the_same_meetings(db_path, tmp_path, backend):
    with Crm.open(db_path) as crm:
        _hostile_meetings(crm)
        original = meetings(crm)
        attendees = [{crm.records.get("contacts", c).properties["email"] for c in contacts_of(crm, m["id"])}
                     for m in original]
    out = tmp_path / "meetings.ics"
    assert cli.main(["--db", str(db_path), "export", "meetings", "--format", "ics", "-o", str(out)]) == 0
    data = out.read_bytes()
    # a valid calendar: two events, no raw control characters, no line over 75 octets, user text
    # never opened a component of its own
    [calendar] = icalendar.Calendar.from_ical(data, multiple=True)
    assert len(calendar.walk("VEVENT")) == 2
    assert data.split(b"\r\n").count(b"BEGIN:VEVENT") == 2 and b"\x1b" not in data and b"\x07" not in data
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))
    assert b"SUMMARY:Plan\\; phase 1\\, 2 \\\\ 3 red\r\n" in data.replace(b"\r\n ", b"")
    assert b"STATUS:CANCELLED" in data and b"DTSTART;VALUE=DATE:20260504" in data

    fresh = tmp_path / "fresh.db"
    assert cli.main(["--db", str(fresh), "calendar", "import", str(out), "--create"]) == 0
    with Crm.open(fresh) as copy:
        again = meetings(copy)
        for m, o in zip(again, original):
            assert {k: m[k] for k in SAME} == {k: o[k] for k in SAME}
        assert [m["hs_meeting_outcome"] for m in again] == ["COMPLETED", "CANCELED"]
        assert [{copy.records.get("contacts", c).properties["email"] for c in contacts_of(copy, m["id"])}
                for m in again] == attendees
    # the UIDs made on export are the ones the copy keeps: importing the export again changes nothing
    assert cli.main(["--db", str(fresh), "calendar", "import", str(out)]) == 0
    with Crm.open(fresh) as copy:
        assert len(meetings(copy)) == 2
    # and back into the database it came from (through khal, say): the same meetings, now with their UIDs
    assert cli.main(["--db", str(db_path), "calendar", "import", str(out)]) == 0
    with Crm.open(db_path) as crm:
        back = meetings(crm)
        assert [m["id"] for m in back] == [m["id"] for m in original]
        assert [m["hs_meeting_uid"] for m in back] == [m["hs_meeting_uid"] for m in again]
        assert all(m["hs_meeting_uid"] for m in back)


def test_export_refuses_other_objects_in_one_line(db_path, tmp_path, capsys):
    Crm.open(db_path).close()
    assert cli.main(["--db", str(db_path), "export", "contacts", "--format", "ics", "-o", str(tmp_path / "c.ics")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "for meetings" in err and not (tmp_path / "c.ics").exists()


# -- hostile input ----------------------------------------------------------------------------------

def test_hostile_folder_symlinks_broken_and_huge_files(crm, tmp_path):
    ann, _bob = people(crm)
    folder = tmp_path / "calendar"
    folder.mkdir()
    good = "ATTENDEE:mailto:ann@acme.example\nDTSTART:20260105T080000Z"
    (folder / "control.ics").write_text(ics(f"UID:ctl\nSUMMARY:\x1b]0;pwned\x07Hi \x1b[2Jthere\x9b31m\n{good}"),
                                        encoding="utf-8")
    (folder / "only-controls.ics").write_text(ics(f"UID:blank\nSUMMARY:\x1b[31m\x1b[0m\n{good}"), encoding="utf-8")
    (folder / "broken.ics").write_bytes(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nthis is not a property\r\n\xff\xfe\r\n")
    (folder / "bad-date.ics").write_text(ics(f"UID:bad\nSUMMARY:x\nDTSTART:2026-99-99\n{good}",
                                             f"UID:fine\nSUMMARY:Fine\n{good}"), encoding="utf-8")
    (folder / "not-a-calendar.ics").write_text("hello\n", encoding="utf-8")
    # a line that is no property, a fold without its leading space, bare LF line ends: the rest comes in
    (folder / "broken-lines.ics").write_bytes(
        b"BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:lines\nSUMMARY:Broken lin\nes\n"
        b"DTSTART:20260105T080000Z\nthis line is broken\nATTENDEE:mailto:ann@acme.example\nEND:VEVENT\nEND:VCALENDAR\n")
    with open(folder / "huge.ics", "wb") as f:  # sparse: 60 MiB that cost nothing to write
        f.truncate(60 * 1024 * 1024)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.ics").write_text(ics(f"UID:outside\nSUMMARY:Outside\n{good}"), encoding="utf-8")
    os.symlink(outside / "secret.ics", folder / "link.ics")
    os.symlink(outside, folder / "linked-dir")
    os.symlink(folder, folder / "loop")
    os.symlink("/etc/passwd", folder / "passwd.ics")
    (folder / "sub").mkdir()
    (folder / "sub" / "nested.ics").write_text(ics(f"UID:nested\nSUMMARY:Nested\n{good}"), encoding="utf-8")

    result = ical.import_calendar(crm, folder)
    titles = {m["hs_meeting_uid"]: m["hs_meeting_title"] for m in meetings(crm)}
    assert titles == {"ctl": "Hi there", "blank": ical.NO_TITLE, "fine": "Fine", "nested": "Nested",
                      "lines": "Broken lin"}
    problems = "\n".join(result.problems)
    for name in ("link.ics", "linked-dir", "loop", "passwd.ics"):
        assert f"{folder / name}: a symlink (not followed)" in problems
    assert "huge.ics: larger than 50 MiB" in problems
    assert "broken.ics" in problems and "not-a-calendar.ics" in problems and "event bad" in problems
    assert "broken-lines.ics: event lines: a line not read" in problems and "'this line is broken'" in problems
    assert all("\n" not in p and "\x1b" not in p for p in result.problems)
    assert "outside" not in titles


def test_a_huge_calendar_file_is_read_whole(crm, tmp_path):
    """Many events in one file (a calendar exported whole), each with a long folded description."""
    people(crm)
    long_text = "word " * 2000
    events = [f"UID:e{i}\nSUMMARY:Event {i}\nDTSTART:20260105T080000Z\nATTENDEE:mailto:ann@acme.example\n"
              f"DESCRIPTION:{long_text}" for i in range(300)]
    path = tmp_path / "big.ics"
    text = ics(*events)
    path.write_text("\r\n".join(line[:70] + "".join("\r\n " + line[i:i + 70] for i in range(70, len(line), 70))
                                for line in text.split("\r\n")), encoding="utf-8")
    result = ical.import_calendar(crm, path)
    assert result.new == 300 and len(meetings(crm)) == 300
    assert meetings(crm)[0]["hs_meeting_body"] == long_text.strip()


def test_missing_path_is_one_line_and_nothing_written(db_path, tmp_path, capsys):
    Crm.open(db_path).close()
    assert cli.main(["--db", str(db_path), "calendar", "import", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file or folder" in err
    assert cli.main(["--db", str(db_path), "calendar", "import", str(tmp_path), "--me", "not an address"]) == 2


# -- the schema ----------------------------------------------------------------------------------

def test_a_version_6_database_gets_the_calendar_properties(tmp_path):
    path = tmp_path / "old.db"
    with Crm.open(path) as crm:
        people(crm)
        crm.activities.log(("contacts", 1), "meetings", {"hs_meeting_title": "Before"})
    conn = sqlite3.connect(path)
    names = [p.split(".")[1] for p in sorted(dbmod.CALENDAR_PROPERTIES)]
    conn.execute("DROP INDEX IF EXISTS ix_obj_meetings_hs_meeting_uid")
    for index, in conn.execute("SELECT name FROM sqlite_master WHERE type='index' AND sql LIKE '%hs_meeting_uid%'").fetchall():
        conn.execute(f'DROP INDEX "{index}"')
    for name in names:
        conn.execute(f'ALTER TABLE obj_meetings DROP COLUMN "{name}"')
    conn.execute(f"DELETE FROM property_def WHERE name IN ({','.join('?' * len(names))})", names)
    conn.execute("PRAGMA user_version = 6")
    conn.commit()
    conn.close()
    with Crm.open(path) as crm:
        assert crm.db.execute_sql("PRAGMA user_version").fetchone()[0] == dbmod.SCHEMA_VERSION
        meta = crm.registry.get("meetings")
        assert set(names) <= set(meta.properties)
        assert meetings(crm)[0]["hs_meeting_title"] == "Before"
        ics_path = tmp_path / "a.ics"
        ics_path.write_text(ics("UID:x\nSUMMARY:After\nDTSTART:20260105T080000Z\nATTENDEE:mailto:ann@acme.example"))
        assert ical.import_calendar(crm, ics_path).new == 1


# -- the real khal ----------------------------------------------------------------------------------

KHAL = shutil.which("khal", path=os.path.dirname(sys.executable)) or shutil.which("khal")


def khal_config(tmp_path) -> tuple[Path, Path, Path]:
    vdir = tmp_path / "calendars" / "work"
    back = tmp_path / "calendars" / "back"
    vdir.mkdir(parents=True)
    back.mkdir(parents=True)
    config = tmp_path / "khal.conf"
    config.write_text(f"""[calendars]
[[work]]
path = {vdir}
type = calendar
[[back]]
path = {back}
type = calendar
[locale]
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%d %H:%M
longdatetimeformat = %Y-%m-%d %H:%M
local_timezone = Europe/Berlin
default_timezone = Europe/Berlin
[default]
default_calendar = work
""", encoding="utf-8")
    return config, vdir, back


def khal(config: Path, *args: str) -> str:
    done = subprocess.run([KHAL, "-c", str(config), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(KHAL is None, reason="khal is in the test extra: pip install -e '.[test]'")
def test_with_the_real_khal(crm, tmp_path, backend):
    if backend != "sqlite":
        pytest.skip("khal's part runs once")
    ann, bob = people(crm)
    config, vdir, back = khal_config(tmp_path)
    # khal writes events into its vdir: one made with `khal new`, one with attendees imported by khal
    khal(config, "new", "-a", "work", "-l", "Room 1", "2026-12-03", "10:00", "11:00", "Solo focus", "::", "no one else")
    invite = tmp_path / "invite.ics"
    invite.write_text(ics(SYNC), encoding="utf-8")
    khal(config, "import", "--batch", "-a", "work", str(invite))
    assert len(list(vdir.glob("*.ics"))) == 2

    result = ical.import_calendar(crm, vdir, own_addresses={"me@mine.example"})
    assert (result.files, result.new, result.no_contact) == (2, 1, 1)
    [m] = meetings(crm)
    assert m["hs_meeting_uid"] == "sync-1@example.org" and contacts_of(crm, m["id"]) == {ann, bob}
    assert ical.import_calendar(crm, vdir).new == 0

    # the event changes in khal's calendar (a new version of the invitation): the meeting follows
    invite.write_text(ics(SYNC.replace("SEQUENCE:0", "SEQUENCE:1").replace("Room 4", "Room 7")), encoding="utf-8")
    khal(config, "import", "--batch", "-a", "work", str(invite))
    again = ical.import_calendar(crm, vdir)
    assert (again.new, again.updated) == (0, 1) and meetings(crm)[0]["hs_meeting_location"] == "Room 7"

    # khal reads what the CRM exports
    out = tmp_path / "export.ics"
    ical.export_meetings(crm, out)
    khal(config, "import", "--batch", "-a", "back", str(out))
    listed = khal(config, "list", "-a", "back", "2026-12-01", "2026-12-10")
    assert "Quarterly review, budget; plan" in listed and "10:00" in listed  # shown in Berlin time again


def test_my_addresses_in_the_config_are_checked(tmp_path):
    from crm_tui.storage.config import load_config

    path = tmp_path / "config.yaml"
    path.write_text("my_addresses: [Me@Mine.example, ' me@mine.example ', other@x.example]\n", encoding="utf-8")
    config, warnings = load_config(path)
    assert config.my_addresses == ("me@mine.example", "other@x.example") and warnings == []
    path.write_text("my_addresses:\n  - not an address\n", encoding="utf-8")
    config, warnings = load_config(path)
    assert config.my_addresses == () and len(warnings) == 1
    assert warnings[0].startswith(f"{path}:1: my_addresses: 'not an address' is not an email address")
    path.write_text("my_addresses: {a: 1}\n", encoding="utf-8")
    assert "expected a list of email addresses" in load_config(path)[1][0]


# -- the app ----------------------------------------------------------------------------------------

async def test_an_imported_meeting_in_the_app_names_its_calendar_import(db_path, tmp_path, backend):
    """The meeting is on the contact's timeline; its record shows the calendar properties and its
    property history names the calendar import as the source."""
    if backend != "sqlite":
        pytest.skip("the screens run once")
    from textual.widgets import DataTable

    from crm_tui.shell.app import CrmApp
    from screens.history import PropertyHistoryScreen
    from screens.record import RecordScreen

    with Crm.open(db_path) as crm:
        ann, _bob = people(crm)
        path = tmp_path / "work.ics"
        path.write_text(ics(SYNC.replace("SUMMARY:", "SUMMARY:\x1b[31m[b]bold[/b] ")), encoding="utf-8")
        ical.import_calendar(crm, path)
        path.write_text(ics(SYNC.replace("SEQUENCE:0", "SEQUENCE:1").replace("Room 4", "Room 5")), encoding="utf-8")
        ical.import_calendar(crm, path)
        [m] = meetings(crm)
        assert [t.id for t in crm.activities.timeline(("contacts", ann))] == [m["id"]]
    app = CrmApp(db_path, crm=Crm.open(db_path, user_name="tester"))
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_record("meetings", m["id"])
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, RecordScreen)
        await pilot.press("P")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, PropertyHistoryScreen)
        table = screen.query_one(DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        location = [r for r in rows if r[0] == "Location"]
        assert location[0][1:3] == ["Room 4", "Room 5"] and location[0][4] == "Import (calendar import work.ics)"
        assert any(r[0] == "Calendar UID" and r[2] == "sync-1@example.org" for r in rows)
        assert any(r[0] == "Meeting name" and r[2].startswith("Quarterly review") for r in rows)


async def test_export_the_meetings_view_to_ics_from_the_app(db_path, tmp_path, backend):
    """E on the meetings index, a file name ending .ics: the view's meetings as a calendar."""
    if backend != "sqlite":
        pytest.skip("the screens run once")
    from textual.widgets import Input

    from crm_tui.shell.app import CrmApp
    from screens.index import IndexScreen
    from screens.index_modals import TextPromptModal

    with Crm.open(db_path) as crm:
        _hostile_meetings(crm)
    app = CrmApp(db_path, crm=Crm.open(db_path, user_name="tester"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, IndexScreen)
        screen.show_object("meetings")
        await pilot.pause()
        await pilot.press("E")
        await pilot.pause()
        prompt = app.screen
        assert isinstance(prompt, TextPromptModal)
        target = tmp_path / "meetings.ics"
        prompt.query_one(Input).value = str(target)
        await pilot.press("enter")
        for _ in range(40):
            await pilot.pause()
            if target.exists():
                break
    [calendar] = icalendar.Calendar.from_ical(target.read_bytes(), multiple=True)
    assert sorted(str(e["summary"]) for e in calendar.walk("VEVENT")) == ["Offsite", "Plan; phase 1, 2 \\ 3 red"]


def test_an_imported_meeting_moves_last_contacted_on_its_attendees(crm, tmp_path):
    """The mail branch's rule (Last contacted) holds for meetings from a calendar: they are logged
    through the activities service, so every attendee's Last contacted moves to a past meeting."""
    ann, bob = people(crm)
    path = tmp_path / "past.ics"
    path.write_text(ics("UID:past\nSUMMARY:Past\nDTSTART:20250105T080000Z\nATTENDEE:mailto:ann@acme.example\n"
                        "ATTENDEE:mailto:bob.private@mail.example"), encoding="utf-8")
    ical.import_calendar(crm, path)
    for rid in (ann, bob):
        assert crm.records.get("contacts", rid).properties["notes_last_contacted"].startswith("2025-01-05T08:00:00")


def test_a_meeting_with_several_attendees_shows_on_each_ones_company(crm, tmp_path):
    """The activity rules apply to every contact a meeting lands on, not only the first: each
    attendee's primary company gets it (a mail to several contacts does the same)."""
    crm.set_setting("auto_associate_by_domain", False)
    ann, bob = people(crm)
    acme = crm.records.create("companies", {"name": "Acme"}).id
    work = crm.records.create("companies", {"name": "Work Ltd"}).id
    crm.assoc.add(("contacts", ann), ("companies", acme))
    crm.assoc.add(("contacts", bob), ("companies", work))
    path = tmp_path / "work.ics"
    path.write_text(ics(SYNC), encoding="utf-8")
    ical.import_calendar(crm, path, own_addresses={"me@mine.example"})
    [m] = meetings(crm)
    assert set(crm.assoc.linked_ids(("meetings", m["id"]), "companies")) == {acme, work}
    # the roll-up is the automation's (Job), the attendees' links the import's
    for company in (acme, work):
        [change] = crm.assoc.history(("companies", company), with_ref=("meetings", m["id"]))
        assert change.source == sources.JOB
