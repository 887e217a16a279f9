"""The record screen, its modals and the history screens: Pilot tests of every flow and snapshots."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from textual.widgets import Checkbox, DataTable, Input, Select, SelectionList, Static

from crm_tui.domain import sources
from crm_tui.shell.app import CrmApp
from crm_tui.services.core import Crm
from screens.modals import ConfirmModal
from screens.history import AssocHistoryScreen, PropertyHistoryScreen
from screens.record import RecordScreen
from screens.record_modals import (
    ActivityModal, AddAssociationModal, ChoiceModal, MergeModal, PickRecordsModal,
)
from widgets.assoc_sidebar import AssocSidebar
from widgets.timeline import Timeline

FIXED_MODULES = ("crm_tui.services.core", "crm_tui.services.records", "crm_tui.services.associations", "crm_tui.services.activities",
                 "crm_tui.services.merge", "crm_tui.services.rules")


@pytest.fixture
def fixed_clock(monkeypatch):
    """Every timestamp the core writes comes from a counter: snapshots stay the same."""
    import importlib

    ticks = itertools.count()
    start = datetime(2026, 3, 1, 9, 0, 0)

    def fake_now() -> str:
        return (start + timedelta(minutes=next(ticks))).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    for name in FIXED_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "now_iso"):
            monkeypatch.setattr(module, "now_iso", fake_now)
    return fake_now


def build(db_path) -> dict:
    """A small deterministic CRM: Ada (customer) with Acme as primary company, two more companies."""
    with Crm.open(db_path, user_name="tester") as crm:
        acme = crm.records.create("companies", {"name": "Acme Labs", "domain": "acmelabs.com", "city": "Lisbon"},
                                  sources.USER).id
        initech = crm.records.create("companies", {"name": "Initech", "domain": "initech.io"}, sources.USER).id
        globex = crm.records.create("companies", {"name": "Globex", "domain": "globex.net"}, sources.USER).id
        ada = crm.records.create("contacts", {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@acmelabs.com",
                                              "jobtitle": "Engineer", "lifecyclestage": "customer"}, sources.USER).id
        twin = crm.records.create("contacts", {"firstname": "Ada", "lastname": "Twin", "email": "ada.twin@example.org",
                                               "phone": "+1 555 0100"}, sources.USER).id
        evil = crm.records.create("contacts", {"firstname": "[/]", "lastname": "[@click=app.quit]x",
                                               "email": "evil@globex.net"}, sources.USER).id
        crm.activities.log(("contacts", ada), "notes", {"hs_note_body": "Met at the fair [bold]x[/bold]",
                                                        "hs_timestamp": "2026-02-01 10:00"}, source=sources.USER)
        crm.activities.log(("contacts", ada), "tasks", {"hs_task_subject": "Send quote",
                                                        "hs_timestamp": "2026-02-03 09:00"}, source=sources.USER)
    return {"acme": acme, "initech": initech, "globex": globex, "ada": ada, "twin": twin, "evil": evil}


def make_app(db_path) -> CrmApp:
    return CrmApp(db_path, crm=Crm.open(db_path, user_name="tester"))


async def open_record(pilot, app, obj, rid) -> RecordScreen:
    app.open_record(obj, rid)
    await pilot.pause()
    await pilot.pause()
    assert isinstance(app.screen, RecordScreen)
    return app.screen


@pytest.fixture
def ids(db_path, fixed_clock):
    return build(db_path)


# -- properties ------------------------------------------------------------------------------------

async def test_edit_with_validation_error_and_lifecycle_refusal(db_path, ids):
    app = make_app(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_record(pilot, app, "contacts", ids["ada"])
        props = screen.query_one("#props")
        props.focus()
        props.highlighted = next(i for i in range(props.option_count) if props.get_option_at_index(i).id == "p:email")
        await pilot.press("enter")  # opens the inline editor
        await pilot.pause()
        email = screen.query_one("#pf-email", Input)
        assert email.has_focus
        email.value = ""
        await pilot.press(*"not-an-email")
        await pilot.pause()
        error = screen.query_one("#pf-error-email", Static)
        assert error.has_class("-shown") and "Email" in str(error.render())
        await pilot.press("enter")  # refused: the error stays, nothing is saved
        await pilot.pause()
        assert screen.editing == "email"
        assert app.crm.records.get("contacts", ids["ada"]).properties["email"] == "ada@acmelabs.com"
        await pilot.press("escape")  # typed text: asked first (issue 14), then discarded
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await pilot.pause()
        assert screen.editing is None and app.screen is screen
        # a valid edit saves on enter
        screen.edit_property("city")
        await pilot.pause()
        await pilot.pause()
        await pilot.press(*"Porto", "enter")
        await pilot.pause()
        assert app.crm.records.get("contacts", ids["ada"]).properties["city"] == "Porto"
        assert screen.editing is None
        assert "Porto" in str(props.get_option("p:city").prompt)
        # the core refuses moving the lifecycle backward: its one line shows in place
        screen.edit_property("lifecyclestage")
        await pilot.pause()
        await pilot.pause()
        screen.query_one("#pf-lifecyclestage", Select).value = "lead"
        await pilot.pause()
        lifecycle_error = screen.query_one("#pf-error-lifecyclestage", Static)
        assert lifecycle_error.has_class("-shown")
        assert str(lifecycle_error.render()).strip()
        assert app.crm.records.get("contacts", ids["ada"]).properties["lifecyclestage"] == "customer"


async def test_hostile_names_render_literally(db_path, ids):
    app = make_app(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_record(pilot, app, "contacts", ids["evil"])
        assert "[/]" in str(screen.query_one("#head", Static).render())
        await pilot.press("3")
        await pilot.pause()
        assert app.is_running


# -- timeline ------------------------------------------------------------------------------------------

async def test_log_call_and_toggle_task(db_path, ids):
    app = make_app(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_record(pilot, app, "contacts", ids["ada"])
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ActivityModal)
        app.screen.query_one("#pf-hs_call_title", Input).value = "Pricing call"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen
        timeline = screen.query_one(Timeline)
        assert timeline.items[0].object == "calls" and timeline.items[0].title == "Pricing call"
        # the call is also on Ada's primary company
        assert app.crm.activities.timeline(("companies", ids["acme"]), types=["calls"])
        # toggle the task done
        task_index = next(i for i, item in enumerate(timeline.items) if item.object == "tasks")
        timeline.focus()
        timeline.highlighted = task_index
        await pilot.press("x")
        await pilot.pause()
        task = app.crm.records.get("tasks", timeline.items[task_index].id)
        assert task.properties["hs_task_status"] == "COMPLETED"
        # open and edit an activity
        timeline.highlighted = 0
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ActivityModal) and app.screen.activity_id == timeline.items[0].id
        title = app.screen.query_one("#pf-hs_call_title", Input)
        assert title.value == "Pricing call"
        title.value = "Pricing call (edited)"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.crm.records.get("calls", timeline.items[0].id).properties["hs_call_title"] == "Pricing call (edited)"
        # associate the call with more records: search every object, tick, save
        timeline.focus()
        timeline.highlighted = 0
        await pilot.press("plus")
        await pilot.pause()
        assert isinstance(app.screen, PickRecordsModal)
        await pilot.press(*"Globex", "enter")
        await pilot.pause()
        results = app.screen.query_one("#results", SelectionList)
        results.select(("companies", ids["globex"]))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen
        assert timeline.items[0].id in app.crm.assoc.linked_ids(("companies", ids["globex"]), "calls")
        # filter by type
        timeline.reload(types=["notes"])
        assert {item.object for item in timeline.items} == {"notes"}


async def test_timeline_loads_lazily(db_path, ids):
    with Crm.open(db_path, user_name="tester") as crm:
        with crm.operation("seed", sources.API) as op:
            meta = crm.registry.get("notes")
            first, last = crm.records.bulk_insert(meta, ["hs_timestamp", "hs_note_body"],
                                                  [(f"2025-01-01T00:{i // 60:02d}:{i % 60:02d}.000000Z", f"n{i}")
                                                   for i in range(300)], op)
            crm.assoc.bulk_link(((("contacts", ids["twin"]), ("notes", n)) for n in range(first, last + 1)), op)
    app = make_app(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_record(pilot, app, "contacts", ids["twin"])
        timeline = screen.query_one(Timeline)
        assert len(timeline.items) < 300
        timeline.focus()
        await pilot.press("G")
        await pilot.pause()
        await pilot.press("G")
        await pilot.pause()
        assert len(timeline.items) > 50


# -- associations ----------------------------------------------------------------------------------

async def test_add_existing_company_by_domain_label_primary_then_remove_primary(db_path, ids):
    app = make_app(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_record(pilot, app, "contacts", ids["ada"])
        sidebar = screen.query_one(AssocSidebar)
        sidebar.focus()
        sidebar.highlighted = next(i for i, e in enumerate(sidebar.entries) if e.kind == "section" and e.object == "companies")
        await pilot.press("a")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, AddAssociationModal)
        await pilot.press(*"initech.i")
        await pilot.pause()
        results = modal.query_one("#results", SelectionList)
        values = [results.get_option_at_index(i).value for i in range(results.option_count)
                  if hasattr(results.get_option_at_index(i), "value")]
        assert ids["initech"] in values
        results.select(ids["initech"])
        modal.query_one("#labels", SelectionList).select("Advisor")
        modal.query_one("#primary", Checkbox).value = True
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen
        companies = {i.id: i for g in app.crm.assoc.groups(("contacts", ids["ada"])) if g.object == "companies" for i in g.items}
        assert companies[ids["initech"]].labels == ["Advisor"] and companies[ids["initech"]].primary
        assert not companies[ids["acme"]].primary
        assert "Initech" in str(screen.query_one("#head", Static).render())
        # remove the primary company: the modal asks for the new primary
        assert sidebar.select_card("companies", ids["initech"])
        sidebar.focus()
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceModal)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen
        assert app.crm.assoc.primary_company(("contacts", ids["ada"])) == ids["acme"]
        assert ids["initech"] not in app.crm.assoc.linked_ids(("contacts", ids["ada"]), "companies")


async def test_make_primary_and_limit_message(db_path, ids):
    app = make_app(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        app.crm.assoc.add(("contacts", ids["ada"]), ("companies", ids["globex"]), source=sources.USER)
        screen = await open_record(pilot, app, "contacts", ids["ada"])
        sidebar = screen.query_one(AssocSidebar)
        sidebar.focus()
        assert sidebar.select_card("companies", ids["globex"])
        await pilot.press("p")
        await pilot.pause()
        assert app.crm.assoc.primary_company(("contacts", ids["ada"])) == ids["globex"]
        # Globex moved to the top as primary: the cursor went with it
        assert sidebar.current.kind == "card" and sidebar.current.item.id == ids["globex"]
        # removing as primary asks for the new one
        assert sidebar.select_card("companies", ids["globex"])
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceModal)
        await pilot.press("enter")
        await pilot.pause()
        assert app.crm.assoc.primary_company(("contacts", ids["ada"])) == ids["acme"]
        # a pair limit refused by the core shows the core's message in the modal
        app.crm.assoc.set_pair_limit("contacts", "companies", 2)
        app.push_screen(AddAssociationModal(app.crm, ("contacts", ids["twin"]), "companies"))
        await pilot.pause()
        app.crm.assoc.add(("contacts", ids["twin"]), ("companies", ids["acme"]))
        app.crm.assoc.add(("contacts", ids["twin"]), ("companies", ids["globex"]))
        modal = app.screen
        modal.query_one("#results", SelectionList).add_option(("Initech", ids["initech"], True))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is modal
        assert "limit" in str(modal.query_one("#error", Static).render())


async def test_create_new_and_add_another(db_path, ids):
    app = make_app(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_record(pilot, app, "companies", ids["globex"])
        app.push_screen(AddAssociationModal(app.crm, ("companies", ids["globex"]), "deals", tab="create"))
        await pilot.pause()
        modal = app.screen
        modal.query_one("#pf-dealname", Input).value = "Globex pilot"
        await pilot.click("#create-another")
        await pilot.pause()
        assert app.screen is modal
        modal.query_one("#pf-dealname", Input).value = "Globex renewal"
        await pilot.pause()  # the modal's footer follows the focus back to the form: let it settle
        await pilot.click("#create-btn")
        await pilot.pause()
        assert isinstance(app.screen, RecordScreen)
        group = next(g for g in app.crm.assoc.groups(("companies", ids["globex"])) if g.object == "deals")
        assert sorted(i.display_name for i in group.items) == ["Globex pilot", "Globex renewal"]


# -- history -------------------------------------------------------------------------------------------

async def test_association_history_and_one_link(db_path, ids):
    app = make_app(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        app.crm.assoc.add(("contacts", ids["ada"]), ("companies", ids["globex"]), labels=["Advisor"], source=sources.USER)
        screen = await open_record(pilot, app, "contacts", ids["ada"])
        await pilot.press("H")
        await pilot.pause()
        history = app.screen
        assert isinstance(history, AssocHistoryScreen)
        table = history.query_one(DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        # columns: name, update, date and time, source, record id, object
        assert any(r[:2] == ["Globex", "Created"] and r[3] == "User (tester)" and r[4] == str(ids["globex"]) for r in rows)
        assert any(r[0] == "Acme Labs" and r[1] == "Created" and r[3] == "Automatic association by domain" for r in rows)
        # one link's history: every update of that association, newest first
        table.move_cursor(row=next(i for i, r in enumerate(rows) if r[0] == "Globex"))
        await pilot.press("enter")
        await pilot.pause()
        one = app.screen
        assert isinstance(one, AssocHistoryScreen) and one.with_ref == ("companies", ids["globex"])
        link_rows = [[str(c) for c in one.query_one(DataTable).get_row_at(i)] for i in range(one.query_one(DataTable).row_count)]
        assert [r[1] for r in link_rows] == ["Label added: Advisor", "Created"]
        await pilot.press("y")
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert app.screen is screen


async def test_property_history(db_path, ids):
    app = make_app(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        app.crm.records.update("contacts", ids["ada"], {"jobtitle": "CTO"}, sources.USER)
        await open_record(pilot, app, "contacts", ids["ada"])
        await pilot.press("P")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, PropertyHistoryScreen)
        table = screen.query_one(DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert rows[0][:3] == ["Job title", "Engineer", "CTO"] and rows[0][4] == "User (tester)"
        lifecycle = next(r for r in rows if r[0] == "Lifecycle stage")
        assert lifecycle[2] == "Customer"  # the option's label, not its internal name
        screen.prop = "jobtitle"
        screen.reload()
        assert table.row_count == 2


# -- merge, delete, restore ----------------------------------------------------------------------------

async def test_merge(db_path, ids):
    app = make_app(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_record(pilot, app, "contacts", ids["ada"])
        await pilot.press("M")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, MergeModal)
        await pilot.press(*"Twin")
        await pilot.pause()
        await pilot.press("enter", "enter")  # to the results, pick the first
        await pilot.pause()
        assert modal.other_id == ids["twin"]
        choose = modal.query_one("#choose", SelectionList)
        assert "phone" in choose.selected  # empty on Ada: taken by default
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen
        ada = app.crm.records.get("contacts", ids["ada"])
        assert ada.properties["phone"] and ada.properties["lastname"] == "Lovelace"
        assert app.crm.records.get("contacts", ids["twin"]).deleted
        assert any(c.source == sources.USER and c.new_value == "merged"
                   for c in app.crm.history.property_history("contacts", ids["twin"]))


async def test_delete_and_restore(db_path, ids):
    app = make_app(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_record(pilot, app, "contacts", ids["ada"])
        await pilot.press("D")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert app.crm.records.get("contacts", ids["ada"]).deleted
        assert screen.has_class("-deleted")
        assert "DELETED" in str(screen.query_one("#banner", Static).render())
        await pilot.press("n")  # refused on a deleted record
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("R")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert not app.crm.records.get("contacts", ids["ada"]).deleted
        assert not screen.has_class("-deleted")
        assert app.crm.assoc.primary_company(("contacts", ids["ada"])) == ids["acme"]


async def test_actions_menu_copy_link_and_palette_bindings(db_path, ids):
    app = make_app(db_path)
    copied = []
    app.copy_to_clipboard = copied.append
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_record(pilot, app, "contacts", ids["ada"])
        await pilot.press("m")
        await pilot.pause()
        menu = app.screen
        options = menu.query_one("#actions")
        options.highlighted = next(i for i in range(options.option_count) if options.get_option_at_index(i).id == "copy_link")
        await pilot.press("enter")
        await pilot.pause()
        assert copied == [f"crm-tui://contacts/{ids['ada']}"]
        names = {b.binding.id for b in screen.active_bindings.values()}
        for wanted in ("record.add_association", "record.assoc_history", "record.property_history", "record.log_note",
                       "record.log_call", "record.merge", "record.delete", "record.copy_link"):
            assert wanted in names
        commands = [c.title for c in app.get_system_commands(screen)]
        assert "Association history" in commands and "Log call" in commands


# -- snapshots ---------------------------------------------------------------------------------------

def _snapshot_app(db_path, ids, screen: str):
    app = make_app(db_path)

    async def run_before(pilot) -> None:
        await pilot.pause()
        app.open_record("contacts", ids["ada"])
        await pilot.pause()
        if screen == "history":
            app.push_screen(AssocHistoryScreen("contacts", ids["ada"]))
        await pilot.pause()

    return app, run_before


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_snapshot_record_screen(snap_compare, db_path, ids, size):
    app, run_before = _snapshot_app(db_path, ids, "record")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_snapshot_association_history(snap_compare, db_path, ids, size):
    app, run_before = _snapshot_app(db_path, ids, "history")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


# -- no N+1 queries ------------------------------------------------------------------------------------

async def test_opening_a_record_costs_the_same_queries_with_more_links(db_path, ids):
    from playhouse.test_utils import count_queries

    with Crm.open(db_path, user_name="tester") as crm:
        with crm.operation("seed", sources.API) as op:
            meta = crm.registry.get("companies")
            first, last = crm.records.bulk_insert(meta, ["name", "domain"],
                                                  [(f"Co {i}", f"co{i}.test") for i in range(40)], op)
            crm.assoc.bulk_link(((("contacts", ids["twin"]), ("companies", c)) for c in range(first, last + 1)), op)
            crm.assoc.bulk_link(((("contacts", ids["evil"]), ("companies", c)) for c in range(first, first + 3)), op)
    app = make_app(db_path)
    counts = []
    async with app.run_test(size=(120, 40)) as pilot:
        for rid in (ids["evil"], ids["twin"]):
            with count_queries() as counter:
                await open_record(pilot, app, "contacts", rid)
                await pilot.pause()
            counts.append(counter.count)
            app.pop_screen()
            await pilot.pause()
    assert counts[0] == counts[1] and counts[0] < 60, counts


async def test_add_association_from_the_properties_panel_asks_which_object(db_path, ids):
    app = make_app(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_record(pilot, app, "contacts", ids["ada"])
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceModal)
        await pilot.press("enter")  # companies come first
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, AddAssociationModal) and modal.other.name == "companies"
        await pilot.press(*"initech")
        await pilot.pause(0.3)
        await pilot.press("tab")
        await pilot.pause()
        results = modal.query_one("#results", SelectionList)
        assert results.has_focus and results.highlighted == 0
        await pilot.press("space")
        await pilot.pause()
        assert results.selected
