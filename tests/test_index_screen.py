"""The index screen: navigation, sort, filter, saved views, search, bulk actions, recycle bin, association
cells, the property form, query counts per page, and snapshots at 80x24 and 120x40."""

from __future__ import annotations

import pytest
from playhouse.test_utils import count_queries
from textual.widgets import Input, OptionList, Select

from crm_tui.domain import sources
from crm_tui.shell.app import CrmApp
from crm_tui.services.core import Crm
from crm_tui.domain.errors import InvalidValue
from crm_tui.services.paging import ViewPager, ViewSpec
from crm_tui.services.query import Filter, Sort
from crm_tui.services.views import Views
from screens.modals import ConfirmModal
from screens.index import IndexScreen
from screens.index_modals import (
    AssocPopup, BulkEditModal, ColumnsModal, FilterModal, NewRecordModal, RecordSearchModal, ViewsModal,
)
from widgets.property_form import PropertyForm
from widgets.record_table import RecordTable


async def settle(pilot, times: int = 2) -> None:
    for _ in range(times):
        await pilot.pause()


def index(app) -> IndexScreen:
    screen = app.screen
    assert isinstance(screen, IndexScreen), screen
    return screen


def cells(screen: IndexScreen, row: int) -> tuple[str, ...]:
    return screen.pager.fetch(row, 1)[0][1]


async def move_column_to(pilot, table: RecordTable, key: str) -> None:
    for _ in range(12):
        if table.cursor_column_key == key:
            return
        await pilot.press("l")
    assert table.cursor_column_key == key


# -- navigation ---------------------------------------------------------------------------------------


async def test_opens_contacts_and_switches_object_from_sidebar(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = index(app)
        assert screen.object_name == "contacts"
        assert screen.table.row_count == 300
        await pilot.press("o")  # focus the object list
        objects = screen.query_one("#objects", OptionList)
        assert app.focused is objects
        objects.highlighted = objects.get_option_index("companies")
        await pilot.press("enter")
        await settle(pilot)
        assert screen.object_name == "companies"
        assert screen.table.row_count == 60
        assert app.focused is screen.table
        app.open_object("deals")  # what "Go to Deals" in the command palette runs
        await settle(pilot)
        assert screen.object_name == "deals"


async def test_sidebar_hides_when_narrow_and_toggles(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = index(app)
        objects = screen.query_one("#objects")
        assert not objects.display or objects.styles.display == "none" or screen.has_class("-no-sidebar")
        await pilot.press("ctrl+b")
        await settle(pilot)
        assert not screen.has_class("-no-sidebar")
        await pilot.press("ctrl+b")
        assert screen.has_class("-no-sidebar")


async def test_every_index_binding_has_an_id_and_a_description():
    for binding in IndexScreen.BINDINGS:
        assert binding.id and binding.id.startswith("index."), binding
        assert binding.description, binding


# -- sort -----------------------------------------------------------------------------------------------


async def test_s_cycles_sort_on_the_column_under_the_cursor(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = index(app)
        table = screen.table
        await move_column_to(pilot, table, "lastname")
        await pilot.press("s")
        await settle(pilot)
        assert screen.spec.sort == [Sort("lastname", False)]
        assert table.sort_key == "lastname" and not table.sort_desc
        names = [cells(screen, i)[1] for i in range(20)]
        assert names == sorted(names)
        await pilot.press("s")
        await settle(pilot)
        assert screen.spec.sort == [Sort("lastname", True)]
        names = [cells(screen, i)[1] for i in range(20)]
        assert names == sorted(names, reverse=True)
        assert "*" in str(screen.query_one("#viewbar").render())  # modified view
        await pilot.press("s")
        assert screen.spec.sort == []


# -- filters ----------------------------------------------------------------------------------------


async def test_filter_modal_adds_a_visible_filter_and_x_clears_it(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = index(app)
        await move_column_to(pilot, screen.table, "lifecyclestage")
        await pilot.press("f")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, FilterModal)
        assert modal.property_name == "lifecyclestage"
        modal.query_one("#op", Select).value = "eq"
        await settle(pilot)
        modal.query_one("#value-select", Select).value = "customer"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        assert screen.spec.filters == [Filter("lifecyclestage", "eq", "customer")]
        expected = app.crm.records.count("contacts", [Filter("lifecyclestage", "eq", "customer")])
        assert 0 < screen.table.row_count == expected < 300
        bar = str(screen.query_one("#filterbar").render())
        assert "Filters: Lifecycle stage is Customer" in bar and "x to clear" in bar
        await pilot.press("x")
        await settle(pilot)
        assert screen.spec.filters == [] and screen.table.row_count == 300
        assert "No filters" in str(screen.query_one("#filterbar").render())


async def test_filter_modal_shows_one_line_error_for_a_bad_value(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(FilterModal(app.crm, "deals", "amount"))
        await settle(pilot)
        modal = app.screen
        modal.query_one("#op", Select).value = "gt"
        await settle(pilot)
        modal.query_one("#value", Input).value = "lots"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is modal
        error = str(modal.query_one("#error").render())
        assert "not a number" in error and "\n" not in error.strip()


async def test_association_filter_with_a_record(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = index(app)
        company = app.crm.records.get("companies", 1)
        app.push_screen(FilterModal(app.crm, "contacts", "@assoc:companies"))
        await settle(pilot)
        modal = app.screen
        assert modal.query_one("#op", Select).value == "with"
        modal.query_one("#value", Input).value = company.display_name.split()[0]
        await settle(pilot)
        flt = None
        modal.chosen_record = (1, company.display_name)
        flt = modal.build()
        assert flt == Filter("@assoc:companies", "with", 1)
        modal.dismiss(None)
        await settle(pilot)
        screen.spec.filters = [flt]
        screen._changed()
        await settle(pilot)
        assert company.display_name in str(screen.query_one("#filterbar").render())
        linked = app.crm.assoc.linked_ids(("companies", 1), "contacts")
        assert screen.table.row_count == len([i for i in linked if app.crm.records.exists(app.crm.registry.get("contacts"), i)])


# -- saved views --------------------------------------------------------------------------------------


async def test_saved_view_persists_across_restart(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = index(app)
        screen.spec.filters = [Filter("lifecyclestage", "eq", "lead")]
        screen.spec.sort = [Sort("lastname", True)]
        screen._changed()
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, ViewsModal)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*"Leads")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert screen.view.name == "Leads" and not screen.modified
    # reopen the app: the view is in the database
    app = CrmApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = index(app)
        assert screen.view.name == "All contacts" and screen.spec.filters == []
        await pilot.press("v")
        await settle(pilot)
        views = app.screen.query_one("#views", OptionList)
        prompts = [str(views.get_option_at_index(i).prompt) for i in range(views.option_count)]
        assert any("Leads" in p for p in prompts)
        views.highlighted = next(i for i, p in enumerate(prompts) if "Leads" in p)
        await pilot.press("enter")
        await settle(pilot)
        assert screen.view.name == "Leads"
        assert screen.spec.filters == [Filter("lifecyclestage", "eq", "lead")]
        assert screen.spec.sort == [Sort("lastname", True)]
        assert screen.table.row_count == app.crm.records.count("contacts", screen.spec.filters)


def test_views_core_crud(crm):
    views = Views(crm)
    default = views.default("contacts")
    assert default.is_default and default.name == "All contacts"
    view = views.create("contacts", "Customers", ["email"], [Filter("lifecyclestage", "eq", "customer")])
    copy = views.duplicate(view.id)
    assert copy.name == "Customers (copy)" and copy.filters == view.filters
    views.rename(copy.id, "Mine")
    views.set_default(copy.id)
    assert views.default("contacts").id == copy.id
    assert [v.name for v in views.list("contacts")][0] == "Mine"
    views.delete(copy.id)
    assert views.default("contacts").is_default
    with pytest.raises(InvalidValue):
        views.create("contacts", "Customers")


async def test_columns_modal_toggles_and_moves(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = index(app)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ColumnsModal)
        await pilot.press("down", "space")  # hide Last name
        await pilot.press("down", "J")  # move Email down past Primary company
        await pilot.press("enter")
        await settle(pilot)
        assert screen.spec.columns == ["firstname", "@primary_company", "email", "lifecyclestage"]
        assert [c.key for c in screen.table.columns] == screen.spec.columns


# -- search -------------------------------------------------------------------------------------------


async def test_slash_searches_as_you_type_and_escape_clears(demo_db, monkeypatch):
    # A long pause before ranking, so that a loaded machine's slow keystrokes still count as typing.
    monkeypatch.setattr("screens.index.RANK_AFTER", 2.0)
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = index(app)
        target = app.crm.records.get("contacts", 5)
        prefix = target.properties["lastname"][:4]
        await pilot.press("slash")
        await pilot.press(*prefix)
        await settle(pilot)
        assert screen.spec.search == prefix
        assert 0 < screen.table.row_count < 300
        ids = {screen.table.record_id_at(i) for i in range(screen.table.row_count)}
        assert 5 in ids
        assert prefix in str(screen.query_one("#filterbar").render())
        assert not screen.spec.ranked  # while typing
        await pilot.pause(2.2)
        assert screen.spec.ranked  # ranked once typing pauses
        assert 5 in {screen.table.record_id_at(i) for i in range(screen.table.row_count)}
        await pilot.press("escape")
        await settle(pilot)
        assert screen.spec.search == "" and screen.table.row_count == 300


async def test_search_everywhere_opens_a_record(demo_db, monkeypatch):
    app = CrmApp(demo_db)
    opened = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        monkeypatch.setattr(app, "open_record", lambda obj, rid: opened.append((obj, rid)))
        company = app.crm.records.get("companies", 3)
        await pilot.press("ctrl+f")
        await settle(pilot)
        assert isinstance(app.screen, RecordSearchModal)
        await pilot.press(*company.display_name[:5])
        await settle(pilot)
        hits = app.screen.query_one("#hits", OptionList)
        ids = [hits.get_option_at_index(i).id for i in range(hits.option_count)]
        assert "companies:3" in ids
        hits.highlighted = ids.index("companies:3")
        await pilot.press("enter")
        await settle(pilot)
        assert opened == [("companies", 3)]


# -- records ----------------------------------------------------------------------------------------


async def test_new_record_form_validates_and_creates(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = index(app)
        await pilot.press("n")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, NewRecordModal)
        form = modal.query_one(PropertyForm)
        form.set_raw("email", "not-an-email")
        await settle(pilot)
        assert "email" in form.errors and "Email" in form.errors["email"]
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is modal  # not created
        form.set_raw("email", "[bold]x@example.org")
        form.set_raw("email", "zed.new@example.org")
        form.set_raw("firstname", "[red]Zed[/]")
        await settle(pilot)
        assert form.errors == {}
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        assert screen.table.row_count == 301
        hits = app.crm.search.records("contacts", "zed.new@example.org")
        assert hits and app.crm.records.get("contacts", hits[0].id).properties["firstname"] == "[red]Zed[/]"


async def test_property_form_api(crm):
    from textual.app import App

    class FormApp(App):
        def compose(self):
            yield PropertyForm(crm, "deals", ["dealname", "amount", "dealstage"], values={"amount": 5.0})

    app = FormApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        form = app.query_one(PropertyForm)
        assert form.values() == {"amount": "5"}
        assert not form.validate() and "dealname" in form.errors  # required
        form.set_raw("dealname", "Big one")
        form.set_raw("amount", "")
        await settle(pilot)
        assert form.validate()
        assert form.values() == {"dealname": "Big one", "amount": None}  # emptied -> None clears


async def test_bulk_delete_confirms_then_recycle_bin_restores(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = index(app)
        table = screen.table
        first, second = table.record_id_at(0), table.record_id_at(1)
        await pilot.press("space", "j", "space")  # select two rows
        assert set(table.selected_ids) == {first, second}
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")  # cancel: nothing deleted
        await settle(pilot)
        assert table.row_count == 300
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert table.row_count == 298
        assert app.crm.records.get("contacts", first).deleted
        await pilot.press("b")
        await settle(pilot)
        assert screen.spec.deleted and table.row_count == 2
        assert "Deleted records" in str(screen.query_one("#filterbar").render())
        await pilot.press("space")
        await pilot.press("R")
        await settle(pilot)
        assert table.row_count == 1
        await pilot.press("escape")  # leaves the recycle bin
        await settle(pilot)
        assert not screen.spec.deleted and table.row_count == 299


async def test_bulk_edit_sets_a_property_on_selected(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = index(app)
        table = screen.table
        ids = [table.record_id_at(0), table.record_id_at(1)]
        await pilot.press("space", "j", "space", "e")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, BulkEditModal)
        modal.query_one("#property", Select).value = "jobtitle"
        await settle(pilot, 3)
        modal.query_one(PropertyForm).set_raw("jobtitle", "Roaster")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)  # it asks first
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is screen
        for rid in ids:
            assert app.crm.records.get("contacts", rid).properties["jobtitle"] == "Roaster"
        changes = app.crm.history.property_history("contacts", ids[0], prop="jobtitle")
        assert changes[0].source == sources.USER


async def test_bulk_associate_with_a_searched_record(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = index(app)
        ids = [screen.table.record_id_at(0), screen.table.record_id_at(1)]
        await pilot.press("space", "j", "space", "a")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, RecordSearchModal)
        deal = app.crm.records.get("deals", 7)
        modal._choose("deals:7")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)  # it asks first
        await pilot.press("y")
        await settle(pilot)
        for rid in ids:
            assert 7 in app.crm.assoc.linked_ids(("contacts", rid), "deals")
        assert deal


async def test_assoc_cell_with_several_records_opens_a_popup(demo_db, monkeypatch):
    app = CrmApp(demo_db)
    opened = []
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        monkeypatch.setattr(app, "open_record", lambda obj, rid: opened.append((obj, rid)))
        screen = index(app)
        crm = app.crm
        # give contact 1 three companies
        for cid in (1, 2, 3):
            crm.assoc.add(("contacts", 1), ("companies", cid), source=sources.USER)
        screen.spec.columns = ["firstname", "@assoc:companies", "@primary_company"]
        screen._changed()
        await settle(pilot)
        table = screen.table
        row = next(i for i in range(table.row_count) if table.record_id_at(i) == 1)
        table.move_to(row)
        count = len(crm.assoc.linked_ids(("contacts", 1), "companies"))
        assert cells(screen, row)[1] == f"{count} records"
        await move_column_to(pilot, table, "@assoc:companies")
        await pilot.press("enter")
        await settle(pilot)
        popup = app.screen
        assert isinstance(popup, AssocPopup)
        items = popup.query_one("#items", OptionList)
        assert items.option_count == count
        await pilot.press("enter")
        await settle(pilot)
        assert opened and opened[0][0] == "companies"
        # the primary company cell opens that company
        await move_column_to(pilot, table, "@primary_company")
        await pilot.press("enter")
        await settle(pilot)
        assert opened[-1] == ("companies", crm.assoc.primary_company(("contacts", 1)))


# -- query counts and paging --------------------------------------------------------------------------


def test_a_page_costs_a_bounded_number_of_queries(demo_db):
    with Crm.open(demo_db) as crm:
        columns = ["firstname", "email", "@assoc:companies", "@assoc:deals", "@primary_company"]
        costs = {}
        for size in (5, 50, 200):
            pager = ViewPager(crm, ViewSpec("contacts", columns, sort=[Sort("lastname")]))
            pager.count()
            with count_queries() as counter:
                rows = pager.fetch(10, size)
            assert len(rows) == size
            costs[size] = counter.count
        assert costs[5] == costs[50] == costs[200] <= 8, costs


def test_pager_windows_match_a_plain_scan_with_deleted_rows(crm, monkeypatch):
    import crm_tui.services.paging as paging

    monkeypatch.setattr(paging, "ANCHOR_STEP", 7)
    from crm_tui.services.seed import seed

    seed(crm, contacts=120, companies=5, seed=3)

    def check(total):
        for sort in ([], [Sort("lastname")], [Sort("lastname", True)]):
            spec = ViewSpec("contacts", ["firstname", "lastname"], sort=sort)
            expected = [r["id"] for r in crm.records.query("contacts", [], sort).dicts()]
            pager = ViewPager(crm, spec)
            assert pager.count() == len(expected) == total
            for start in (0, 30, 64, 100, 108):
                assert [rid for rid, _ in pager.fetch(start, 10)] == expected[start:start + 10], (sort, start)

    check(120)  # no deleted rows: anchors read from the sort index alone / computed from ids
    for rid in (3, 10, 11, 50, 99):
        crm.records.delete("contacts", rid, sources.USER)
    check(115)
    deleted = ViewPager(crm, ViewSpec("contacts", ["firstname"], deleted=True))
    assert deleted.count() == 5


# -- snapshots -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_snapshot_contacts_index(snap_compare, demo_db, size):
    async def run_before(pilot):
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(CrmApp(demo_db), terminal_size=size, run_before=run_before)


async def test_ctrl_s_on_the_default_view_asks_for_a_new_name(demo_db):
    from screens.index_modals import TextPromptModal

    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = index(app)
        screen.spec.filters = [Filter("lifecyclestage", "eq", "customer")]
        screen.modified = True  # as the filter modal leaves it
        screen._apply_spec()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, TextPromptModal)
        await pilot.press(*"Customers", "enter")
        await settle(pilot)
        assert screen.view.name == "Customers" and not screen.view.is_default
        default = Views(app.crm).default("contacts")
        assert default.filters == []  # the default view was not overwritten


async def test_export_the_current_view_from_the_app(demo_db, tmp_path):
    import csv

    from screens.index_modals import TextPromptModal

    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = index(app)
        screen.spec.filters = [Filter("lifecyclestage", "eq", "customer")]
        screen._apply_spec()
        await settle(pilot)
        await pilot.press("E")
        await settle(pilot)
        prompt = app.screen
        assert isinstance(prompt, TextPromptModal)
        target = tmp_path / "customers.csv"
        prompt.query_one(Input).value = str(target)
        await pilot.press("enter")
        for _ in range(20):
            await settle(pilot)
            if target.exists():
                break
        expected = app.crm.records.count("contacts", [Filter("lifecyclestage", "eq", "customer")])
    with open(target, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == expected > 0


async def test_the_footer_is_not_rebuilt_on_every_search_keystroke(demo_db):
    """Typing in the search box re-reads the rows, not the footer: the screen tells the footer its
    bindings changed only when what they depend on changes (the recycle bin, a modified view)."""
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, IndexScreen)
        await pilot.press("slash")
        await pilot.pause()
        told = []
        screen.bindings_updated_signal.subscribe(screen, lambda _screen: told.append(1))
        word = app.crm.records.list("contacts", limit=1).rows[0]["lastname"].lower()
        await pilot.press(*word)
        await pilot.pause()
        assert screen.spec.search == word and screen.table.row_count > 0
        assert told == []
        await pilot.press("escape", "b")  # the recycle bin: restore appears, delete goes
        await pilot.pause()
        assert screen.spec.deleted and told
        active = screen.active_bindings
        assert "R" in active and active["R"].enabled
