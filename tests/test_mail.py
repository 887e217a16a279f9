"""Mail from the mail client (`crm-tui mail log`, `mail scan`), emails that belong to their
addresses, and Last contacted: real messages written as files, real databases (SQLite and, where
a server is at hand, PostgreSQL), the real command line (and a real pipe, as mutt's pipe-message)."""

from __future__ import annotations

import json
import mailbox
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from crm_tui.cli.main import main
from crm_tui.domain import sources
from crm_tui.importing.mail import Mail, html_to_text, parse_message
from crm_tui.services import rules
from crm_tui.services.core import Crm
from crm_tui.services.query import parse_filter
from crm_tui.services.views import available_columns
from crm_tui.storage import db as dbmod

pytestmark = pytest.mark.backends("sqlite", "postgresql")

PROJECT = Path(__file__).resolve().parent.parent

# -- messages, as a mail client stores them -----------------------------------------------------

ALTERNATIVE = b"""\
From: =?utf-8?q?Ren=C3=A9e_Dupont?= <Renee@Acme.example>
To: Me <me@mine.example>, bob@other.example
Cc: Carl Jung <carl@acme.example>
Subject: =?utf-8?b?UXVhcnRhbHNiZXJpY2h0IMOcYmVyc2ljaHQ=?=
Date: Tue, 03 Mar 2026 10:15:00 +0100
Message-ID: <q1@acme.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XX"

--XX
Content-Type: multipart/alternative; boundary="YY"

--YY
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Hello, the plain text wins.
--YY
Content-Type: text/html; charset=utf-8

<p>Hello <b>html</b></p>
--YY--
--XX
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcOkw7zDtsOfCg==
--XX
Content-Type: text/csv
Content-Disposition: attachment; filename*=utf-8''%C3%9Cbersicht%202026.csv

a,b
1,2
--XX--
"""

HTML_ONLY = """\
From: Carl Jung <carl@acme.example>
To: me@mine.example
Subject: Offer [bold]not markup[/bold]
Date: Wed, 04 Mar 2026 08:00:00 +0000
Message-ID: <h1@acme.example>
MIME-Version: 1.0
Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

<html><head><title>T</title><style>p {{color: red}}</style></head><body>
<script>alert('x')</script><p>Gr=FC=DFe &amp; thanks</p><div>Line&nbsp;two [link=http://x]y[/link]</div>
</body></html>
"""

REPLY = b"""\
From: Me <me@mine.example>
To: Carl Jung <carl@acme.example>
Subject: Re: Offer
Date: Thu, 05 Mar 2026 09:00:00 +0000
Message-ID: <r1@mine.example>
In-Reply-To: <h1@acme.example>
References: <h1@acme.example>

Thanks Carl.
"""

REPLY_2 = b"""\
From: Carl Jung <carl@acme.example>
To: me@mine.example
Subject: Re: Re: Offer
Date: Fri, 06 Mar 2026 09:00:00 +0000
Message-ID: <r2@acme.example>
In-Reply-To: <r1@mine.example>
References: <h1@acme.example> <r1@mine.example>

You are welcome.
"""

BROKEN = b"""\
From: =?x-unknown?q?Odd?= <odd@acme.example>
To: carl@acme.example
Subject: =?utf-8?b?broken-base64?=
Date: not a date at all
Content-Type: text/plain; charset=x-no-such-charset
Content-Transfer-Encoding: base64

!!!not base64!!!\x1b[31m
"""


def plain(n: int, *, sender="Carl Jung <carl@acme.example>", day: int = 1, to="me@mine.example") -> bytes:
    return (f"From: {sender}\nTo: {to}\nSubject: message {n}\nDate: Wed, {day:02d} Apr 2026 10:00:00 +0000\n"
            f"Message-ID: <m{n}@acme.example>\n\nbody {n}\n").encode()


@pytest.fixture
def carl(crm):
    return crm.records.create("contacts", {"email": "carl@acme.example", "firstname": "Carl", "lastname": "Jung"}).id


def email_row(crm, email_id: int) -> dict:
    return crm.records.get("emails", email_id).properties


def linked(crm, ref, other: str) -> list[int]:
    return sorted(i.id for g in crm.assoc.groups(ref, per_group=None) if g.object == other for i in g.items)


# -- reading messages ---------------------------------------------------------------------------

def test_multipart_alternative_with_attachments_and_encoded_words(crm, carl):
    result = Mail(crm, ["me@mine.example"]).log(ALTERNATIVE)
    assert result.status == "logged" and result.contacts == [carl]
    row = email_row(crm, result.email_id)
    assert row["hs_email_subject"] == "Quartalsbericht Übersicht"
    assert row["hs_email_text"] == "Hello, the plain text wins."
    assert row["hs_email_from"] == "Renée Dupont <renee@acme.example>"
    assert row["hs_email_to"] == "Me <me@mine.example>, bob@other.example"
    assert row["hs_email_cc"] == "Carl Jung <carl@acme.example>"
    assert row["hs_email_direction"] == "INCOMING_EMAIL"
    assert row["hs_timestamp"].startswith("2026-03-03T09:15:00")
    assert row["hs_email_message_id"] == "<q1@acme.example>"
    assert row["hs_email_attachments"].splitlines() == ["report.pdf (19 bytes)", "Übersicht 2026.csv (7 bytes)"]
    assert linked(crm, ("contacts", carl), "emails") == [result.email_id]


def test_html_only_is_reduced_to_its_literal_text(crm, carl):
    result = Mail(crm).log(HTML_ONLY.encode("latin-1"))
    row = email_row(crm, result.email_id)
    assert row["hs_email_text"] == "Grüße & thanks\n\nLine two [link=http://x]y[/link]"
    assert "alert" not in row["hs_email_text"] and "color" not in row["hs_email_text"]
    assert row["hs_email_subject"] == "Offer [bold]not markup[/bold]"
    assert html_to_text("<p>a<br>b</p><script>x</script><style>y</style>c") == "a\nb\nc"


def test_replies_thread_by_references(crm, carl):
    mail = Mail(crm, ["me@mine.example"])
    first = mail.log(HTML_ONLY.encode("latin-1")).email_id
    second = mail.log(REPLY).email_id
    third = mail.log(REPLY_2).email_id
    threads = {email_row(crm, i)["hs_email_thread_id"] for i in (first, second, third)}
    assert threads == {"<h1@acme.example>"}
    assert email_row(crm, second)["hs_email_direction"] == "EMAIL"  # from one of my addresses: Sent


def test_a_broken_message_is_logged_as_far_as_it_reads_and_says_what_was_wrong(crm, carl):
    result = Mail(crm).log(BROKEN)
    assert result.status == "logged"
    row = email_row(crm, result.email_id)
    assert "\x1b" not in (row["hs_email_text"] or "")
    assert row["hs_email_message_id"].endswith("@crm-tui.invalid>")  # no Message-ID: known by its content
    assert any("Date" in p for p in result.problems) and any("Message-ID" in p for p in result.problems)
    assert Mail(crm).log(BROKEN).status == "already"


@pytest.mark.parametrize("raw", [b"", b"\x00\x01\x02 binary", b"just some words\n"])
def test_input_that_is_no_mail_is_one_line(crm, raw):
    from crm_tui.domain.errors import InvalidValue

    with pytest.raises(InvalidValue, match="mail message|no message"):
        parse_message(raw)


def test_the_same_message_is_logged_once(crm, carl):
    mail = Mail(crm)
    first = mail.log(ALTERNATIVE)
    again = mail.log(ALTERNATIVE)
    assert again.status == "already" and again.email_id == first.email_id
    assert "already logged" in again.message
    assert crm.registry.get("emails").model.select().count() == 1


def test_every_contact_in_from_to_and_cc_gets_it_additional_emails_too(crm, carl):
    renee = crm.records.create("contacts", {"email": "other@elsewhere.example",
                                            "hs_additional_emails": "renee@acme.example;r@x.example"}).id
    me = crm.records.create("contacts", {"email": "me@mine.example"}).id
    result = Mail(crm, ["me@mine.example"]).log(ALTERNATIVE)
    assert sorted(result.contacts) == sorted([carl, renee])  # never my own address
    assert linked(crm, ("contacts", me), "emails") == []


def test_create_adds_the_unknown_sender_named_after_the_display_name(crm):
    mail = Mail(crm)
    missing = mail.log(ALTERNATIVE)
    assert missing.status == "no_contact" and "--create" in missing.message
    result = mail.log(ALTERNATIVE, create=True)
    assert result.created and result.status == "logged"
    person = crm.records.get("contacts", result.created[0]).properties
    assert (person["firstname"], person["lastname"], person["email"]) == ("Renée", "Dupont", "renee@acme.example")


def test_activity_rules_reach_every_contacts_primary_company(crm):
    acme = crm.records.create("companies", {"name": "Acme", "domain": "acme.example"}).id
    other = crm.records.create("companies", {"name": "Other", "domain": "other.example"}).id
    crm.records.create("contacts", {"email": "carl@acme.example"})
    crm.records.create("contacts", {"email": "bob@other.example"})
    result = Mail(crm, ["me@mine.example"]).log(ALTERNATIVE)
    assert len(result.contacts) == 2
    for company in (acme, other):
        assert linked(crm, ("companies", company), "emails") == [result.email_id]
        assert crm.records.get("companies", company).properties["notes_last_contacted"].startswith("2026-03-03T09:15")


# -- emails belong to their addresses -----------------------------------------------------------

def test_a_contact_deleted_and_created_again_shows_its_earlier_emails(crm, carl, tmp_path):
    mail = Mail(crm)
    ids = [mail.log(plain(n, day=n)).email_id for n in (1, 2)]
    crm.records.delete("contacts", carl)
    again = crm.records.create("contacts", {"email": "Carl@acme.example"})
    assert linked(crm, ("contacts", again.id), "emails") == sorted(ids)
    assert any("earlier email" in note for note in again.notes)
    assert crm.records.get("contacts", again.id).properties["notes_last_contacted"].startswith("2026-04-02")
    # and by import, set-based
    crm.records.delete("contacts", again.id)
    csv = tmp_path / "people.csv"
    csv.write_text("email,firstname\ncarl@acme.example,Carl\nnew@acme.example,New\n")
    from crm_tui.importing import importer

    spec = importer.plan_import(crm, str(csv), ["contacts"])
    spec.error_dir = str(tmp_path)
    result = importer.run_import(crm, spec)
    assert result.linked >= 2
    model = crm.registry.get("contacts").model
    imported = model.select(model.id).where((model.email == "carl@acme.example") & model.deleted_at.is_null(True)).scalar()
    assert linked(crm, ("contacts", imported), "emails") == sorted(ids)


def test_an_address_added_later_brings_its_emails(crm, carl):
    mail = Mail(crm)
    mail.log(plain(1, sender="Zed <zed@else.example>", to="carl@acme.example"))
    other = crm.records.create("contacts", {"email": "someone@x.example"}).id
    crm.records.update("contacts", other, {"hs_additional_emails": "zed@else.example"})
    assert len(linked(crm, ("contacts", other), "emails")) == 1


# -- Last contacted -----------------------------------------------------------------------------

def last_contacted(crm, ref):
    return crm.records.get(*ref).properties.get("notes_last_contacted")


def test_last_contacted_moves_forward_only_by_emails_calls_and_meetings(crm, carl):
    ref = ("contacts", carl)
    assert last_contacted(crm, ref) is None
    crm.activities.log(ref, "notes", {"hs_note_body": "a note", "hs_timestamp": "2026-05-01T10:00:00Z"})
    assert last_contacted(crm, ref) is None  # a note is no contact
    Mail(crm).log(plain(1, day=2))
    assert last_contacted(crm, ref).startswith("2026-04-02T10:00")
    crm.activities.log(ref, "calls", {"hs_call_title": "call", "hs_timestamp": "2026-04-10T10:00:00Z"})
    assert last_contacted(crm, ref).startswith("2026-04-10T10:00")
    Mail(crm).log(plain(2, day=1))  # older: never backward
    assert last_contacted(crm, ref).startswith("2026-04-10T10:00")
    future = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    crm.activities.log(ref, "meetings", {"hs_meeting_title": "later", "hs_timestamp": future})
    assert last_contacted(crm, ref).startswith("2026-04-10T10:00")  # not contacted yet
    crm.activities.log(ref, "meetings", {"hs_meeting_title": "met", "hs_timestamp": "2026-04-20T10:00:00Z"})
    assert last_contacted(crm, ref).startswith("2026-04-20T10:00")
    history = crm.history.property_history("contacts", carl, prop="notes_last_contacted")
    Operation = crm.models.Operation
    assert Operation.select().where((Operation.kind == "last_contacted") & (Operation.source == sources.JOB)
                                    & Operation.parent.is_null(False)).count() == 3
    assert len(history) == 3


def test_last_contacted_by_a_link_made_by_hand_and_by_import(crm, carl, tmp_path):
    call = crm.records.create("calls", {"hs_call_title": "c", "hs_timestamp": "2026-02-01T00:00:00Z"}).id
    crm.assoc.add(("calls", call), ("contacts", carl))
    assert last_contacted(crm, ("contacts", carl)).startswith("2026-02-01")
    # bulk links (import, roll-ups) take the same rule
    other = crm.records.create("contacts", {"email": "x@y.example"}).id
    meeting = crm.records.create("meetings", {"hs_meeting_title": "m", "hs_timestamp": "2026-02-03T00:00:00Z"}).id
    with crm.operation("bulk", sources.API) as op:
        crm.assoc.bulk_link([(("contacts", other), ("meetings", meeting))], op)
    assert last_contacted(crm, ("contacts", other)).startswith("2026-02-03")


def test_last_contacted_is_a_filterable_index_column_and_read_only(crm, carl):
    from crm_tui.domain.errors import InvalidValue

    meta = crm.registry.get("contacts")
    assert "notes_last_contacted" in available_columns(crm, meta)
    assert "notes_last_contacted" in available_columns(crm, crm.registry.get("companies"))
    assert meta.properties["notes_last_contacted"].label == "Last contacted"
    other = crm.records.create("contacts", {"email": "y@z.example"}).id
    Mail(crm).log(plain(1, day=2))
    rows = crm.records.list("contacts", filters=[parse_filter("notes_last_contacted<2026-05-01")]).rows
    assert [row["id"] for row in rows] == [carl]
    rows = crm.records.list("contacts", filters=[parse_filter("notes_last_contacted!")]).rows
    assert [row["id"] for row in rows] == [other]
    with pytest.raises(InvalidValue):
        crm.records.update("contacts", other, {"notes_last_contacted": "2026-01-01T00:00:00Z"})


def test_last_contacted_filters_from_the_command_line(db_path, capsys, backend):
    with Crm.open(db_path) as crm:
        carl = crm.records.create("contacts", {"email": "carl@acme.example"}).id
        quiet = crm.records.create("contacts", {"email": "quiet@acme.example"}).id
        Mail(crm).log(plain(1, day=2))
    assert main(["--db", str(db_path), "list", "contacts", "--filter", "notes_last_contacted<2026-05-01", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [carl]
    assert main(["--db", str(db_path), "list", "contacts", "--filter", "notes_last_contacted!", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [quiet]


# -- undo ---------------------------------------------------------------------------------------

def test_undo_of_a_mail_log_removes_the_email_and_the_contact_it_created(crm):
    result = Mail(crm).log(ALTERNATIVE, create=True)
    contact = result.created[0]
    crm.journal.undo(source=sources.API)
    assert crm.records.get("emails", result.email_id).deleted
    assert crm.records.get("contacts", contact).deleted
    assert Mail(crm).log(ALTERNATIVE).status == "already"  # it is in the recycle bin: said so
    crm.journal.redo(source=sources.API)
    assert not crm.records.get("emails", result.email_id).deleted
    assert linked(crm, ("contacts", contact), "emails") == [result.email_id]


# -- scans --------------------------------------------------------------------------------------

def test_maildir_scan_logs_only_new_messages_and_resumes_when_interrupted(crm, carl, tmp_path):
    box = mailbox.Maildir(tmp_path / "Mail", create=True)
    for n in range(1, 5):
        box.add(plain(n, day=n))
    box.add(plain(99, sender="stranger@nowhere.example"))
    mail = Mail(crm)
    calls = []

    def stop_after_two(done, total, result):
        calls.append(done)
        if result.logged == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        mail.scan(tmp_path / "Mail", progress=stop_after_two)
    assert len(linked(crm, ("contacts", carl), "emails")) == 2
    first = Mail(crm).scan(tmp_path / "Mail")
    assert first.logged == 2 and first.before + first.logged + first.no_contact == 5  # the rest, once
    box.add(plain(5, day=5))
    second = Mail(crm).scan(tmp_path / "Mail")
    assert (second.total, second.before, second.logged) == (6, 5, 1)
    assert len(linked(crm, ("contacts", carl), "emails")) == 5
    again = Mail(crm).scan(tmp_path / "Mail")
    assert again.logged == 0 and again.before == 6
    Operation = crm.models.Operation
    scans = Operation.select().where(Operation.kind == "mail_scan").count()
    assert scans == 3  # a scan with nothing new leaves no operation


def test_mbox_scan_remembers_what_it_read_and_an_undo_takes_a_whole_scan_back(crm, carl, tmp_path):
    path = tmp_path / "inbox.mbox"
    box = mailbox.mbox(path, create=True)
    for n in range(1, 4):
        box.add(plain(n, day=n))
    box.flush()
    result = Mail(crm).scan(path)
    assert (result.kind, result.logged) == ("mbox", 3)
    box.add(plain(4, day=4))
    box.flush()
    box.close()
    result = Mail(crm).scan(path)
    assert (result.before, result.logged) == (3, 1)
    crm.journal.undo(source=sources.API)  # the second scan, whole
    assert len(linked(crm, ("contacts", carl), "emails")) == 3


def test_scan_refuses_what_is_no_mailbox_in_one_line(crm, tmp_path):
    from crm_tui.domain.errors import CrmError

    (tmp_path / "folder").mkdir()
    (tmp_path / "file.txt").write_text("hello\n")
    for target, words in ((tmp_path / "missing", "no such"), (tmp_path / "folder", "not a Maildir"),
                          (tmp_path / "file.txt", "not an mbox")):
        with pytest.raises(CrmError, match=words):
            Mail(crm).scan(target)


# -- the command line, and mutt's pipe ----------------------------------------------------------

@pytest.fixture
def config_home(tmp_path, monkeypatch):
    home = tmp_path / "config"
    (home / "crm-tui").mkdir(parents=True)
    (home / "crm-tui" / "config.yaml").write_text("my_addresses: [Me@Mine.example]\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.mark.backends("sqlite")
def test_mutt_pipe_message_logs_once_from_stdin(db_path, tmp_path, config_home):
    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"email": "carl@acme.example"})
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home), "PYTHONPATH": str(PROJECT)}
    command = [sys.executable, "-m", "crm_tui.cli.main", "--db", str(db_path), "mail", "log"]
    first = subprocess.run(command, input=REPLY, capture_output=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert b"(sent)" in first.stdout
    second = subprocess.run(command, input=REPLY, capture_output=True, env=env, timeout=120)
    assert second.returncode == 0 and b"already logged" in second.stdout
    empty = subprocess.run(command, input=b"", capture_output=True, env=env, timeout=120)
    assert empty.returncode == 2 and empty.stderr.decode().count("\n") == 1 and b"Traceback" not in empty.stderr


def test_cli_mail_log_scan_and_thread(db_path, tmp_path, capsys, config_home):
    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"email": "carl@acme.example"})
    files = {}
    for name, raw in (("h.eml", HTML_ONLY.encode("latin-1")), ("r.eml", REPLY), ("b.eml", BROKEN)):
        files[name] = tmp_path / name
        files[name].write_bytes(raw)
    assert main(["--db", str(db_path), "mail", "log", str(files["h.eml"]), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["status"] == "logged"
    assert main(["--db", str(db_path), "mail", "log", str(files["r.eml"])]) == 0
    assert "(sent)" in capsys.readouterr().out
    assert main(["--db", str(db_path), "mail", "log", str(files["b.eml"])]) == 0
    out, err = capsys.readouterr()
    assert "warning:" in err and "Traceback" not in err
    assert main(["--db", str(db_path), "mail", "thread", str(first["email_id"]), "--json"]) == 0
    assert [t["subject"] for t in json.loads(capsys.readouterr().out)] == ["Offer [bold]not markup[/bold]", "Re: Offer"]
    assert main(["--db", str(db_path), "mail", "log", str(tmp_path / "nope.eml")]) == 2
    assert "no such file" in capsys.readouterr().err
    stranger = tmp_path / "s.eml"
    stranger.write_bytes(plain(7, sender="Stranger <s@nowhere.example>"))
    assert main(["--db", str(db_path), "mail", "log", str(stranger)]) == 1
    assert "--create" in capsys.readouterr().out
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(plain(8))
    assert main(["--db", str(db_path), "mail", "scan", str(tmp_path / "Maildir")]) == 0
    assert "1 logged" in capsys.readouterr().out


# -- an older database --------------------------------------------------------------------------

@pytest.mark.backends("sqlite")
def test_migration_10_adds_the_properties_and_tables_to_an_older_database(db_path):
    with Crm.open(db_path) as crm:
        carl = crm.records.create("contacts", {"email": "carl@acme.example"}).id
    conn = sqlite3.connect(db_path)
    new_props = {"contacts": ["notes_last_contacted"], "companies": ["notes_last_contacted"],
                 "emails": ["hs_email_cc", "hs_email_message_id", "hs_email_thread_id", "hs_email_attachments"]}
    for obj, props in new_props.items():
        for prop in props:
            conn.execute(f"DROP INDEX IF EXISTS ix_obj_{obj}_{prop}")
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name=? AND sql LIKE ?",
                                        (f"obj_{obj}", f"%{prop}%")).fetchall():
                conn.execute(f'DROP INDEX "{name}"')
            conn.execute(f'ALTER TABLE obj_{obj} DROP COLUMN "{prop}"')
            conn.execute("DELETE FROM property_def WHERE name = ? AND object_id = (SELECT id FROM object_type WHERE name = ?)",
                         (prop, obj))
    conn.executescript("DROP TABLE mail_address; DROP TABLE mail_seen; PRAGMA user_version = 6;")
    conn.commit()
    conn.close()
    with Crm.open(db_path) as crm:
        assert crm.db.execute_sql("PRAGMA user_version").fetchone()[0] == dbmod.SCHEMA_VERSION
        for obj, props in new_props.items():
            assert set(props) <= set(crm.registry.get(obj).properties)
        result = Mail(crm).log(plain(1, day=2))
        assert result.contacts == [carl]
        assert last_contacted(crm, ("contacts", carl)).startswith("2026-04-02")


def test_the_rule_functions_are_set_based(crm):
    """One call for many records: the rule reads and writes a batch, not a record at a time."""
    ids = [crm.records.create("contacts", {"email": f"p{n}@acme.example"}).id for n in range(5)]
    calls = [crm.records.create("calls", {"hs_call_title": f"c{n}", "hs_timestamp": f"2026-01-0{n + 1}T00:00:00Z"}).id
             for n in range(5)]
    moved = rules.touch_last_contacted(crm, [(("contacts", i), ("calls", c)) for i, c in zip(ids, calls)])
    assert moved == 5
    assert rules.touch_last_contacted(crm, [(("calls", c), ("contacts", i)) for i, c in zip(ids, calls)]) == 0


def test_imported_emails_belong_to_their_addresses_too(crm, tmp_path):
    from crm_tui.importing import importer

    path = tmp_path / "emails.csv"
    path.write_text("Subject,From,To,Activity date\nHello,Zed <zed@else.example>,me@mine.example,2026-02-02 10:00\n")
    spec = importer.plan_import(crm, str(path), ["emails"])
    spec.error_dir = str(tmp_path)
    assert importer.run_import(crm, spec).failed == 0
    zed = crm.records.create("contacts", {"email": "zed@else.example"}).id
    assert len(linked(crm, ("contacts", zed), "emails")) == 1
    assert last_contacted(crm, ("contacts", zed)).startswith("2026-02-02T10:00")


@pytest.mark.backends("sqlite")
async def test_the_index_shows_and_filters_last_contacted(db_path):
    from crm_tui.services.views import Views
    from crm_tui.shell.app import CrmApp
    from screens.index import IndexScreen

    with Crm.open(db_path) as crm:
        carl = crm.records.create("contacts", {"email": "carl@acme.example", "firstname": "Carl"}).id
        crm.records.create("contacts", {"email": "quiet@acme.example", "firstname": "Quiet"})
        Mail(crm).log(plain(1, day=2))
        Views(crm).create("contacts", "Contacted", ["firstname", "notes_last_contacted"],
                          [parse_filter("notes_last_contacted<2026-05-01")], make_default=True)
    app = CrmApp(db_path)
    async with app.run_test(size=(120, 30)) as pilot:
        for _ in range(3):
            await pilot.pause()
        screen = app.screen
        assert isinstance(screen, IndexScreen)
        assert [c.key for c in screen.table.columns] == ["firstname", "notes_last_contacted"]
        assert screen.table.row_count == 1 and screen.table.record_id_at(0) == carl
        assert screen.pager.fetch(0, 1)[0][1] == ("Carl", "2026-04-02 10:00")
        assert "Last contacted" in str(screen.query_one("#filterbar").render())


def test_control_sequences_in_a_message_never_reach_the_terminal(crm, carl):
    raw = (b"From: carl@acme.example\nTo: me@x.example\nSubject: hi\x07 there\nMessage-ID: <esc@x>\n"
           b"Date: Wed, 01 Apr 2026 10:00:00 +0000\n\n\x1b[31mred\x1b[0m text\x1b]0;title\x07\n")
    result = Mail(crm).log(raw)
    row = email_row(crm, result.email_id)
    assert (row["hs_email_subject"], row["hs_email_text"]) == ("hi there", "red text")
    assert "\x1b" not in result.message and "\x07" not in result.message


def test_a_merge_brings_the_merged_away_contacts_last_contacted(crm, carl):
    other = crm.records.create("contacts", {"email": "c.jung@else.example"}).id
    Mail(crm).log(plain(1, day=9, sender="C <c.jung@else.example>"))
    Mail(crm).log(plain(2, day=3))
    crm.merger.merge("contacts", carl, other, source=sources.API)
    assert last_contacted(crm, ("contacts", carl)).startswith("2026-04-09T10:00")


def test_create_on_a_sent_message_adds_its_unknown_recipients(crm):
    sent = (b"From: Me <me@mine.example>\nTo: \"Lee, Ann\" <ann@new.example>, me@mine.example\n"
            b"Cc: cc@new.example\nSubject: Hello\nMessage-ID: <sent1@mine.example>\n"
            b"Date: Wed, 01 Apr 2026 10:00:00 +0000\n\nHi Ann\n")
    mail = Mail(crm, ["me@mine.example"])
    assert "--create adds the recipients" in mail.log(sent).message
    result = mail.log(sent, create=True)
    assert len(result.created) == 1
    ann = crm.records.get("contacts", result.created[0]).properties
    assert (ann["firstname"], ann["lastname"], ann["email"]) == ("Ann", "Lee", "ann@new.example")
    assert email_row(crm, result.email_id)["hs_email_direction"] == "EMAIL"


def test_a_meeting_moved_into_the_past_moves_last_contacted(crm, carl):
    ref = ("contacts", carl)
    future = (datetime.now(timezone.utc) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    meeting = crm.activities.log(ref, "meetings", {"hs_meeting_title": "Planned", "hs_timestamp": future}).id
    assert last_contacted(crm, ref) is None
    crm.records.update("meetings", meeting, {"hs_timestamp": "2026-06-01T09:00:00Z"})
    assert last_contacted(crm, ref).startswith("2026-06-01T09:00")


def test_meetings_from_a_calendar_move_last_contacted(crm, carl, tmp_path):
    from crm_tui.importing import ical

    event = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:cal-1@x\r\nSEQUENCE:0\r\n"
             "SUMMARY:Review\r\nDTSTART:20260310T090000Z\r\nDTEND:20260310T100000Z\r\n"
             "ATTENDEE;CN=Carl:mailto:carl@acme.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    path = tmp_path / "work.ics"
    path.write_text(event, encoding="utf-8")
    ical.import_calendar(crm, path, own_addresses={"me@mine.example"})
    assert last_contacted(crm, ("contacts", carl)).startswith("2026-03-10T09:00")
    path.write_text(event.replace("SEQUENCE:0", "SEQUENCE:1").replace("20260310T09", "20260312T09")
                    .replace("20260310T10", "20260312T10"), encoding="utf-8")
    ical.import_calendar(crm, path, own_addresses={"me@mine.example"})  # the event moved later
    assert last_contacted(crm, ("contacts", carl)).startswith("2026-03-12T09:00")


def test_a_scans_warnings_name_each_message_by_its_message_id_or_subject(crm, carl, tmp_path):
    path = tmp_path / "odd.mbox"
    box = mailbox.mbox(path, create=True)
    box.add(b"From: Carl Jung <carl@acme.example>\nTo: me@mine.example\nSubject: no date here\n"
            b"Message-ID: <nodate@acme.example>\n\nbody\n")
    box.add(b"From: Carl Jung <carl@acme.example>\nTo: me@mine.example\nSubject: Quarterly \x1b[31mnumbers\n"
            b"Date: Wed, 01 Apr 2026 10:00:00 +0000\n\nno id\n")
    box.flush()
    box.close()
    result = Mail(crm).scan(path)
    assert any(p.startswith("message <nodate@acme.example>: no Date header") for p in result.problems), result.problems
    assert any(p.startswith("message 'Quarterly [31mnumbers'") or p.startswith("message 'Quarterly numbers'")
               for p in result.problems), result.problems
    assert not any("\x1b" in p for p in result.problems)
