"""The board screen at 80x24: columns per stage, moving cards by keyboard, search, lazy pages."""

from __future__ import annotations

from crm_tui.domain import sources
from crm_tui.shell.app import CrmApp
from crm_tui.services.core import Crm


def make_sale(db_path):
    with Crm.open(db_path, user_name="tester") as crm:
        contact = crm.records.create("contacts", {"email": "ann@acme.com", "firstname": "Ann"}).id
        company = crm.records.create("companies", {"name": "Acme", "domain": "acme.com"}).id
        deal = crm.records.create("deals", {"dealname": "Big [b]one[/]", "amount": "1200"}).id
        crm.assoc.add(("deals", deal), ("contacts", contact))
        crm.assoc.add(("deals", deal), ("companies", company))
        for i in range(70):
            crm.records.create("deals", {"dealname": f"Filler {i}", "dealstage": "qualifiedtobuy", "amount": "10"})
    return contact, company, deal


async def open_board_from_palette(pilot):
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*"Open deals board")
    await pilot.pause(0.3)
    await pilot.press("enter")
    await pilot.pause(0.2)


async def test_move_card_to_closed_won_by_keyboard(db_path):
    from screens.board import BoardScreen, CardList, StageColumn

    contact, company, deal = make_sale(db_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await open_board_from_palette(pilot)
        screen = app.screen
        assert isinstance(screen, BoardScreen)
        columns = list(screen.query(StageColumn))
        assert [c.stage.name for c in columns][:2] == ["appointmentscheduled", "qualifiedtobuy"]
        title = str(columns[0].query_one(".column-title").render())
        assert "1 · 1,200" in title
        assert isinstance(app.focused, CardList) and app.focused.record_id == deal
        for _ in range(5):
            await pilot.press("shift+right")
            await pilot.pause()
        assert app.focused.stage.name == "closedwon" and app.focused.record_id == deal
        # the focused column is scrolled into view at 80 columns
        column = next(c for c in screen.query(StageColumn) if c.stage.name == "closedwon")
        assert 0 <= column.region.x and column.region.right <= 80
        crm = app.crm  # a second Crm in this process would rebind the shared models
        assert crm.records.get("deals", deal).properties["dealstage"] == "closedwon"
        for obj, rid in (("contacts", contact), ("companies", company)):
            assert crm.records.get(obj, rid).properties["lifecyclestage"] == "customer"
            change = crm.history.property_history(obj, rid, prop="lifecyclestage")[0]
            assert (change.new_value, change.source) == ("customer", sources.JOB)
        stage_change = crm.history.property_history("deals", deal, prop="dealstage")[0]
        assert stage_change.source == sources.USER and stage_change.actor == crm.user_name
        # one step back with "<"
        await pilot.press("less_than_sign")
        await pilot.pause()
        assert app.focused.stage.name == "contractsent"
        # the last stage refuses to go further, the first one too
        await pilot.press("left", "left", "left", "left", "left")
        await pilot.pause()
        assert app.focused.stage.name == "appointmentscheduled"


async def test_lazy_pages_search_and_filter(db_path):
    from screens.board import BoardScreen, StageColumn

    make_sale(db_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_board("deals")
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, BoardScreen)
        await pilot.press("right")
        cards = app.focused
        assert cards.stage.name == "qualifiedtobuy" and cards.option_count == 30
        assert "70 · 700" in str(cards.parent.query_one(".column-title").render())
        await pilot.press(*["down"] * 28)
        await pilot.pause()
        assert cards.option_count == 60  # the next page loaded as the cursor came near the end
        await pilot.press("slash", *"Filler 7", "enter")
        await pilot.pause(0.2)
        counts = {c.stage.name: c.cards.option_count for c in screen.query(StageColumn)}
        assert counts["qualifiedtobuy"] >= 1 and counts["appointmentscheduled"] == 0
        await pilot.press("escape")  # clears the search
        await pilot.pause(0.2)
        await pilot.press("f", *"amount>100", "enter")
        await pilot.pause(0.2)
        counts = {c.stage.name: c.cards.option_count for c in screen.query(StageColumn)}
        assert counts == {**{name: 0 for name in counts}, "appointmentscheduled": 1}
        await pilot.press("f", *"nosuch=1", "enter")  # a bad filter: one-line error, board unchanged
        await pilot.pause()
        await pilot.press("escape", "escape")
        await pilot.pause(0.2)
        assert screen.filters == []
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, BoardScreen)


async def test_tickets_board_and_screenshot(db_path, tmp_path):
    from screens.board import StageColumn

    with Crm.open(db_path) as crm:
        t = crm.records.create("tickets", {"subject": "[link=x]Help[/link]"}).id
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_board("tickets")
        await pilot.pause(0.2)
        assert [c.stage.label for c in app.screen.query(StageColumn)] == ["New", "Waiting on contact", "Waiting on us", "Closed"]
        await pilot.press(">", ">", ">")
        await pilot.pause()
        svg = app.export_screenshot()
        assert "[link=x]Help[/link]" in svg.replace("&#160;", " ")
        assert app.crm.records.get("tickets", t).properties["closed_date"]


async def test_lost_to_won_by_one_key_asks_first(demo_db):
    from screens.modals import ConfirmModal

    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_board("deals")
        await pilot.pause(0.3)
        board = app.screen
        for _ in range(10):  # walk right to the Closed lost column, as a user would
            column = board._focused_column()
            if column is not None and column.stage.name == "closedlost":
                break
            await pilot.press("l")
            await pilot.pause()
        lost_column = board._focused_column()
        assert lost_column.stage.name == "closedlost" and lost_column.cards.record_id is not None
        deal = lost_column.cards.record_id
        await pilot.press("less_than_sign")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await pilot.pause()
        assert app.crm.records.get("deals", deal).properties["dealstage"] == "closedlost"


async def test_search_shows_the_column_holding_the_match(demo_db):
    with Crm.open(demo_db) as crm:
        deals = crm.registry.get("deals")
        name, stage = deals.model.select(deals.model.dealname, deals.model.dealstage).where(
            deals.model.dealstage == "contractsent").tuples().first()
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_board("deals")
        await pilot.pause(0.3)
        board = app.screen
        await pilot.press("slash")
        await pilot.pause()
        board.query_one("#board-input").value = name
        await pilot.press("enter")
        for _ in range(10):
            await pilot.pause(0.1)
        column = board._focused_column()
        assert column is not None and column.stage.name == stage
