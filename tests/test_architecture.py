"""The architecture's promises, checked end to end on real SQLite files.

Per-database binding: every model (the fixed ones of models.py and each object's record model)
belongs to one open database, so any number of databases can be open in one process, each with its
own records, operations and history, used interleaved and from several threads at once.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest

from crm_tui.services import integrity
from crm_tui.domain import sources
from crm_tui.services.core import Crm
from crm_tui.domain.errors import InvalidValue
from crm_tui.importing import importer
from crm_tui.importing import undo as import_journal
from crm_tui.services.maintenance import doctor


def raw_counts(path) -> dict[str, int]:
    """Rows per table, read from the file with sqlite3 itself (not through the models under test)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                for table in ("operation", "property_change", "association", "association_change",
                              "obj_contacts", "obj_companies", "obj_notes", "external_id")}
    finally:
        conn.close()


def raw_operations(path) -> list[tuple[str, str | None, int | None]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT kind, object, parent FROM operation ORDER BY id").fetchall()
    finally:
        conn.close()


def raw_emails(path) -> set[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {e for (e,) in conn.execute("SELECT email FROM obj_contacts WHERE email IS NOT NULL")}
    finally:
        conn.close()


def assert_healthy(crm: Crm) -> None:
    assert integrity.check_all(crm.registry) == []
    assert integrity.check_property_history(crm) == []
    report = doctor(crm)
    assert report.healthy, report.problems


@pytest.fixture
def two(tmp_path):
    a = Crm.open(tmp_path / "a.db", user_name="ann")
    b = Crm.open(tmp_path / "b.db", user_name="bo")
    yield a, b
    a.close()
    b.close()


def test_each_open_database_has_its_own_model_classes(two):
    a, b = two
    assert a.models.Operation is not b.models.Operation
    assert a.models.Operation._meta.database is a.db and b.models.Operation._meta.database is b.db
    # foreign keys point at the same database's classes, not at another database's or the templates
    assert a.models.Stage.pipeline.rel_model is a.models.Pipeline
    assert a.models.LabelDef.inverse.rel_model is a.models.LabelDef
    assert b.models.PropertyDef.object.rel_model is b.models.ObjectType
    assert a.registry.get("contacts").model._meta.database is a.db
    assert b.registry.get("contacts").model._meta.database is b.db


def test_the_model_templates_are_bound_to_no_database(two):
    """Code that queries models.py's classes directly fails loudly instead of writing into whichever
    database happened to be opened last."""
    from crm_tui.storage import models

    for template in models.ALL_MODELS:
        assert template._meta.database is None
    with pytest.raises(Exception, match="bound to a database"):
        models.Operation.select().count()


def test_two_databases_interleaved_each_keep_their_own_records_operations_and_history(two):
    a, b = two
    before_a, before_b = raw_counts(a.path), raw_counts(b.path)
    ann = a.records.create("contacts", {"email": "ann@acme.example", "firstname": "Ann"}, sources.USER).id
    globex = b.records.create("companies", {"name": "Globex", "domain": "globex.example"}, sources.API).id
    acme = a.records.create("companies", {"name": "Acme", "domain": "acme.example"}, sources.API).id
    bo = b.records.create("contacts", {"email": "bo@elsewhere.example", "firstname": "Bo"}, sources.API).id
    b.assoc.add(("contacts", bo), ("companies", globex), source=sources.API)
    a.records.update("contacts", ann, {"jobtitle": "CEO"}, sources.USER)
    b.records.update("contacts", bo, {"jobtitle": "CTO"}, sources.API)
    a.activities.log(("contacts", ann), "notes", {"hs_note_body": "met at the fair"}, source=sources.USER)
    b.records.delete("contacts", bo, sources.API)

    assert raw_emails(a.path) == {"ann@acme.example"}
    assert raw_emails(b.path) == {"bo@elsewhere.example"}
    after_a, after_b = raw_counts(a.path), raw_counts(b.path)
    assert after_a["obj_contacts"] - before_a["obj_contacts"] == 1
    assert after_b["obj_contacts"] - before_b["obj_contacts"] == 1
    assert after_a["obj_notes"] == 1 and after_b["obj_notes"] == 0
    # each database's journal holds exactly the operations made through it, in its own order
    new_a = raw_operations(a.path)[before_a["operation"]:]
    new_b = raw_operations(b.path)[before_b["operation"]:]
    top_a = [(kind, obj) for kind, obj, parent in new_a if parent is None]
    top_b = [(kind, obj) for kind, obj, parent in new_b if parent is None]
    assert top_a == [("create", "contacts"), ("create", "companies"), ("update", "contacts"),
                     ("log_activity", "contacts")]
    assert top_b == [("create", "companies"), ("create", "contacts"), ("associate", "contacts"),
                     ("update", "contacts"), ("delete", "contacts")]
    assert ("auto_associate", None) in [(k, o) for k, o, _p in new_a]
    assert ("delete_links", "contacts") in [(k, o) for k, o, _p in new_b]
    # property history: Ann's job title only in A, Bo's only in B
    titles_a = [c.new_value for c in a.history.property_history("contacts", ann, prop="jobtitle")]
    titles_b = [c.new_value for c in b.history.property_history("contacts", bo, prop="jobtitle")]
    assert "CEO" in titles_a and "CTO" not in titles_a
    assert "CTO" in titles_b and "CEO" not in titles_b
    # association history: A's automatic link by domain and B's link, each in its own file
    assert [h.action for h in a.assoc.history(("contacts", ann), object_name="companies")]
    assert b.assoc.history(("contacts", bo), object_name="companies")
    assert a.assoc.linked_ids(("contacts", ann), "companies") == [acme]
    # undo in A reverses A's newest operation and leaves B untouched
    b_before_undo = raw_counts(b.path)
    a.journal.undo()
    assert raw_counts(b.path) == b_before_undo
    assert_healthy(a)
    assert_healthy(b)


def test_settings_and_caches_belong_to_their_database(two):
    a, b = two
    a.set_setting("auto_associate_by_domain", False)
    assert b.setting("auto_associate_by_domain") is True
    b.records.create("companies", {"name": "Acme", "domain": "acme.example"}, sources.API)
    a.records.create("companies", {"name": "Acme", "domain": "acme.example"}, sources.API)
    ann_a = a.records.create("contacts", {"email": "ann@acme.example"}, sources.API).id
    ann_b = b.records.create("contacts", {"email": "ann@acme.example"}, sources.API).id
    assert a.assoc.linked_ids(("contacts", ann_a), "companies") == []  # switched off in A only
    assert len(b.assoc.linked_ids(("contacts", ann_b), "companies")) == 1


def test_schema_changes_stay_in_their_database(two):
    a, b = two
    a.registry.add_property("contacts", {"name": "shoe_size", "label": "Shoe size", "type": "number"})
    assert "shoe_size" in a.registry.get("contacts").properties
    assert "shoe_size" not in b.registry.get("contacts").properties
    a.records.create("contacts", {"email": "x@a.example", "shoe_size": "44"}, sources.API)
    with pytest.raises(InvalidValue):  # B has no such property
        b.records.create("contacts", {"email": "x@b.example", "shoe_size": "44"}, sources.API)
    assert raw_emails(b.path) == set()


def test_two_databases_changed_from_threads_at_once(two):
    """Each thread works on its own database, at the same time as the other: every record, operation
    and history row lands in the database it was made through."""
    a, b = two
    n = 30
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(crm: Crm, tag: str) -> None:
        try:
            start.wait()
            company = crm.records.create("companies", {"name": f"{tag} Inc", "domain": f"{tag}.example"},
                                         sources.API).id
            for i in range(n):
                rid = crm.records.create("contacts", {"email": f"{tag}{i}@{tag}.example"}, sources.API).id
                crm.records.update("contacts", rid, {"jobtitle": f"{tag} {i}"}, sources.API)
                if i % 3 == 0:
                    crm.assoc.add(("contacts", rid), ("companies", company), labels=(), source=sources.API) \
                        if company not in crm.assoc.linked_ids(("contacts", rid), "companies") else None
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a, "alpha")), threading.Thread(target=work, args=(b, "beta"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert raw_emails(a.path) == {f"alpha{i}@alpha.example" for i in range(n)}
    assert raw_emails(b.path) == {f"beta{i}@beta.example" for i in range(n)}
    for crm, tag in ((a, "alpha"), (b, "beta")):
        conn = sqlite3.connect(f"file:{crm.path}?mode=ro", uri=True)
        try:
            titles = [v for (v,) in conn.execute("SELECT new_value FROM property_change WHERE property = 'jobtitle'")]
            creates = conn.execute("SELECT count(*) FROM operation WHERE kind = 'create'").fetchone()[0]
        finally:
            conn.close()
        assert sorted(titles) == sorted(f"{tag} {i}" for i in range(n))
        assert creates == n + 1
        assert_healthy(crm)


def test_an_import_into_one_database_while_another_is_changed(two, tmp_path):
    """The importer's writer and its parse-ahead helper thread write only into their own database
    while the other database is changed from the main thread."""
    a, b = two
    rows = ["Email,First Name,Company Name"] + [f"p{i}@import.example,P{i},Imported Co" for i in range(400)]
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    spec = importer.plan_import(a, str(csv_path), ["contacts"])
    spec.batch_size = 50
    spec.error_dir = str(tmp_path)
    done: dict = {}

    def run() -> None:
        try:
            done["result"] = importer.run_import(a, spec)
        except BaseException as exc:
            done["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    made_in_b = []
    while worker.is_alive() or len(made_in_b) < 5:
        made_in_b.append(b.records.create("contacts", {"email": f"b{len(made_in_b)}@b.example"}, sources.USER).id)
        if len(made_in_b) > 2000:
            break
    worker.join(120)
    assert "error" not in done, done.get("error")
    assert done["result"].created.get("contacts") == 400
    assert raw_emails(a.path) == {f"p{i}@import.example" for i in range(400)}
    assert raw_emails(b.path) == {f"b{i}@b.example" for i in range(len(made_in_b))}
    assert not [op for op in raw_operations(b.path) if op[0].startswith("import")]
    assert [op for op in raw_operations(a.path) if op[0] == "import"]
    assert_healthy(a)
    assert_healthy(b)
    # and the import is undone in A alone
    b_before = raw_counts(b.path)
    import_journal.undo_import(a, done["result"].import_id, backup=False)
    assert raw_emails(a.path) == set()
    assert raw_counts(b.path) == b_before


# -- the config's switches hold on the command line too ----------------------------------------------

from crm_tui.storage import paths  # noqa: E402
from crm_tui.cli.main import main  # noqa: E402


def write_config(text: str) -> None:
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def cli(db_path, capsys):
    def run(*args, code=0):
        result = main(["--db", str(db_path), *args])
        out, err = capsys.readouterr()
        assert result == code, (args, out, err)
        return out
    return run


def companies_of(cli, ref: str) -> list[str]:
    import json

    groups = json.loads(cli("assoc", "list", ref, "--json"))
    return [f"{item['id']}" for g in groups if g["object"] == "companies" for item in g["items"]]


@pytest.mark.parametrize("switch", [None, "true", "false"])
def test_record_create_follows_auto_associate_by_domain(cli, switch):
    if switch is not None:
        write_config(f"automations:\n  auto_associate_by_domain: {switch}\n")
    cli("record", "create", "companies", "name=Acme", "domain=acme.example")
    ann = cli("record", "create", "contacts", "email=ann@acme.example").splitlines()[0]
    assert companies_of(cli, f"contacts:{ann}") == ([] if switch == "false" else ["1"])


def test_a_command_line_import_follows_the_config(cli, tmp_path):
    write_config("automations:\n  auto_associate_by_domain: false\n  set_close_date: false\n")
    cli("record", "create", "companies", "name=Acme", "domain=acme.example")
    people = tmp_path / "people.csv"
    people.write_text("Email,First Name\nann@acme.example,Ann\nbo@acme.example,Bo\n", encoding="utf-8")
    cli("import", str(people), "--object", "contacts")
    assert companies_of(cli, "contacts:1") == [] and companies_of(cli, "contacts:2") == []
    deals = tmp_path / "deals.csv"
    deals.write_text("Deal Name,Deal Stage\nBig one,closedwon\n", encoding="utf-8")
    cli("import", str(deals), "--object", "deals")
    import json

    deal = json.loads(cli("record", "get", "deals", "1", "--json"))
    assert deal["properties"]["dealstage"] == "closedwon"
    assert not deal["properties"].get("closedate")  # set_close_date: false


def test_lifecycle_switch_holds_for_assoc_add(cli):
    import json

    write_config("automations:\n  lifecycle_opportunity_on_deal: false\n")
    ann = cli("record", "create", "contacts", "email=ann@nowhere.example").splitlines()[0]
    deal = cli("record", "create", "deals", "dealname=Big one").splitlines()[0]
    cli("assoc", "add", f"contacts:{ann}", f"deals:{deal}")
    got = json.loads(cli("record", "get", "contacts", ann, "--json"))
    assert got["properties"]["lifecyclestage"] != "opportunity"


def test_engagement_cap_and_activity_switch_hold_for_log(cli):
    write_config("engagement_cap: 1\n")
    cli("record", "create", "companies", "name=Acme", "domain=acme.example")
    ann = cli("record", "create", "contacts", "email=ann@acme.example").splitlines()[0]
    cli("log", f"contacts:{ann}", "notes", "hs_note_body=first")
    out = cli("log", f"contacts:{ann}", "notes", "hs_note_body=second")
    assert "engagement cap of 1" in out
    write_config("automations:\n  activity_auto_associate: false\n")
    cli("record", "create", "contacts", "email=bo@acme.example")
    out = cli("log", "contacts:2", "notes", "hs_note_body=third")
    assert "also on" not in out
    import json

    groups = json.loads(cli("assoc", "list", "companies:1", "--json"))
    notes = [item["id"] for g in groups if g["object"] == "notes" for item in g["items"]]
    assert 3 not in notes


def test_the_activity_roll_up_is_recorded_as_job(cli, db_path):
    """Logging a note on a contact links it to the contact (the user's change, source API) and rolls
    it up to the contact's primary company and open deal (an automation, source Job)."""
    cli("record", "create", "companies", "name=Acme", "domain=acme.example")
    ann = cli("record", "create", "contacts", "email=ann@acme.example").splitlines()[0]
    deal = cli("record", "create", "deals", "dealname=Big one").splitlines()[0]
    cli("assoc", "add", f"contacts:{ann}", f"deals:{deal}")
    note = cli("log", f"contacts:{ann}", "notes", "hs_note_body=called them").splitlines()[0]
    with Crm.open(db_path) as crm:
        history = crm.assoc.history(("notes", int(note)))
        sources_by_other = {(h.other_object, h.other_id): h.source for h in history if h.action.startswith("created")}
        assert sources_by_other == {("contacts", int(ann)): sources.API, ("companies", 1): sources.JOB,
                                    ("deals", int(deal)): sources.JOB}
        log_op = crm.journal.list(limit=1)[0]
        assert log_op.kind == "log_activity"
        crm.journal.undo(log_op.id)
        assert crm.assoc.counts(("companies", 1)).get("notes", 0) == 0
        assert crm.assoc.counts(("deals", int(deal))).get("notes", 0) == 0
        assert_healthy(crm)


def test_date_formats_hold_on_the_command_line(cli):
    write_config('date_format: "%d/%m/%Y"\ndatetime_format: "%d.%m.%Y at %H:%M"\n')
    deal = cli("record", "create", "deals", "dealname=Big one", "closedate=2026-03-31").splitlines()[0]
    out = cli("record", "get", "deals", deal)
    assert "31/03/2026" in out and "2026-03-31" not in out
    import re

    assert re.search(r"Create date: \d\d\.\d\d\.\d{4} at \d\d:\d\d", out), out
    assert re.search(r"^\d\d\.\d\d\.\d{4} at \d\d:\d\d  ", cli("history", "deals", deal), re.M)
    cli("log", f"deals:{deal}", "notes", "hs_note_body=hello", "hs_timestamp=2026-04-01T09:30:00Z")
    assert "01.04.2026 at 09:30" in cli("timeline", f"deals:{deal}")
    assert "31/03/2026" in cli("list", "deals", "--sort", "closedate")


def test_default_views_hold_for_export(cli, db_path, tmp_path):
    from crm_tui.services.query import Filter
    from crm_tui.services.views import Views

    cli("record", "create", "contacts", "email=ann@acme.example", "lifecyclestage=customer", "firstname=Ann")
    cli("record", "create", "contacts", "email=bo@acme.example", "firstname=Bo")
    with Crm.open(db_path) as crm:
        Views(crm).create("contacts", "Customers", ["firstname", "email"], [Filter("lifecyclestage", "eq", "customer")])
    plain = tmp_path / "plain.csv"
    cli("export", "contacts", "-o", str(plain))
    assert "bo@acme.example" in plain.read_text(encoding="utf-8")
    write_config("default_views:\n  contacts: customers\n")
    chosen = tmp_path / "chosen.csv"
    cli("export", "contacts", "-o", str(chosen))
    text = chosen.read_text(encoding="utf-8")
    assert "ann@acme.example" in text and "bo@acme.example" not in text


async def test_the_app_opens_the_configured_view_and_shows_the_configured_formats(db_path):
    """default_views, date_format and datetime_format in the app: the index opens with the named
    view, the record screen shows dates and date-times in the formats, a view that does not exist is
    reported in one line and the default view shown."""
    from crm_tui.shell.app import CrmApp
    from crm_tui.storage.config import Config
    from crm_tui.services.query import Filter
    from crm_tui.services.views import Views
    from screens.index import IndexScreen
    from screens.record import PropertyList

    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"email": "ann@acme.example", "lifecyclestage": "customer"}, sources.API)
        crm.records.create("contacts", {"email": "bo@acme.example"}, sources.API)
        crm.records.create("deals", {"dealname": "Big one", "closedate": "2026-03-31"}, sources.API)
        Views(crm).create("contacts", "Customers", ["email"], [Filter("lifecyclestage", "eq", "customer")])
    config = Config(default_views={"contacts": "customers", "deals": "No such view"}, date_format="%d/%m/%Y",
                    datetime_format="%d.%m.%Y at %H:%M")
    app = CrmApp(db_path, config=config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, IndexScreen)
        assert screen.view.name == "Customers" and screen.table.row_count == 1
        screen.show_object("deals")
        await pilot.pause()
        assert screen.view.is_default
        assert any("No such view" in str(n.message) for n in app._notifications)
        assert "31/03/2026" in screen.pager.fetch(0, 1)[0][1]
        app.open_record("deals", 1)
        for _ in range(5):
            await pilot.pause()
        lines = [str(option.prompt) for option in app.screen.query_one(PropertyList).options]
        assert any("31/03/2026" in line for line in lines), lines
        assert any("Create date" in line and " at " in line for line in lines), lines
