"""User data is never code: hostile names on every screen that shows user text.

Records carry Textual/Rich markup and terminal control sequences. Every screen must render them
literally (the sequences stripped), must not crash, and must not run the actions they name.
"""

import html
import re

import pytest

from crm_tui.domain import sources
from crm_tui.shell.app import CrmApp
from crm_tui.services.core import Crm

MARKUP = ["[/]", "[bold]x", "[link=https://example.com]x[/link]", "[@click=app.quit]x", "[$accent]x"]
CONTROL = "\x1b]0;pwned\x07Esc\x1b[2Jape\x9b31m\x00\x7f"  # shows as "Escape" once stripped


def screen_text(app) -> str:
    """The visible text of the screen, from Textual's own SVG export."""
    svg = app.export_screenshot()
    lines = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
    text = "".join(re.sub(r"<[^>]+>", "", line) for line in lines)
    return html.unescape(text).replace("\xa0", " ")


async def shows(pilot, app, *texts, seconds: float = 5.0) -> str:
    """The screen text once every one of `texts` is on it (a busy machine draws late)."""
    seen = ""
    for _ in range(int(seconds / 0.1)):
        seen = screen_text(app)
        if all(text in seen for text in texts):
            return seen
        await pilot.pause(0.1)
    missing = [text for text in texts if text not in seen]
    raise AssertionError(f"not on screen: {missing!r}\n{seen}")


@pytest.fixture
def hostile_db(db_path):
    with Crm.open(db_path, user_name="tester") as crm:
        crm.set_setting("auto_associate_by_domain", False)
        company = crm.records.create("companies", {"name": "[@click=app.quit]x", "domain": "hostile.example"},
                                     sources.USER).id
        ids = []
        for i, text in enumerate(MARKUP):
            ids.append(crm.records.create("contacts", {
                "firstname": text, "lastname": CONTROL if i == 0 else "Plain", "jobtitle": MARKUP[(i + 1) % 5],
                "email": f"h{i}@hostile.example", "company": "[/]",
            }, sources.USER).id)
            crm.assoc.add(("contacts", ids[-1]), ("companies", company), source=sources.USER)
        crm.assoc.add(("contacts", ids[0]), ("contacts", ids[1]), labels=["Colleague"], source=sources.USER)
        crm.activities.log(("contacts", ids[0]), "notes", {"hs_note_body": "[bold]note[/bold] [@click=app.quit]q"},
                           source=sources.USER)
        deal = crm.records.create("deals", {"dealname": "[link=https://evil.example]deal[/link]", "amount": "10"},
                                  sources.USER).id
        crm.assoc.add(("deals", deal), ("contacts", ids[0]), source=sources.USER)
        crm.records.update("contacts", ids[0], {"jobtitle": "[$accent]changed"}, sources.USER)
        return db_path, ids, company, deal


async def test_every_screen_shows_hostile_text_literally(hostile_db):
    db_path, ids, company, deal = hostile_db
    app = CrmApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        seen = await shows(pilot, app, "[/]", "[bold]x", "[@click=app.quit]x", "Escape")  # the contacts index
        assert "\x1b" not in seen and "pwned" not in seen

        app.open_object("companies")
        await shows(pilot, app, "[@click=app.quit]x")

        app.open_record("contacts", ids[0])  # header, properties, sidebar cards, timeline
        await shows(pilot, app, "[/]", "Escape", "[$accent]changed", "[@click=app.quit]x", "[bold]note[/bold]")

        await pilot.press("H")  # association history
        await shows(pilot, app, "[@click=app.quit]x", "[bold]x")
        await pilot.press("escape")
        await pilot.press("P")  # property history
        await shows(pilot, app, "[$accent]ch", "[bold]x")  # columns are narrow: cut, never parsed
        await pilot.press("escape")
        await pilot.pause()

        app.open_record("deals", deal)
        await shows(pilot, app, "[link=https://evil.example]deal[/link]", "[/] Escape")
        await pilot.press("escape")
        await pilot.pause()

        app.open_board("deals")
        await shows(pilot, app, "[link=https://evil")  # cards are narrow: the name is cut, not parsed

        app.notify("[@click=app.quit]x saved", markup=False)
        app.search_everywhere()
        await pilot.pause()
        await pilot.press(*"hostile")
        await pilot.pause(0.5)
        assert app.is_running
    assert app.return_code in (0, None)


async def test_clicking_a_hostile_cell_runs_nothing(hostile_db):
    db_path, ids, company, deal = hostile_db
    app = CrmApp(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for _ in range(5):
            await pilot.click("RecordTable", offset=(10, 3))
            await pilot.pause()
        app.open_record("companies", company)
        await pilot.pause(0.3)
        await pilot.click("#header", offset=(5, 0)) if app.screen.query("#header") else None
        await pilot.pause()
        assert app.is_running


async def test_hostile_name_typed_in_the_app_stays_plain_text_on_screen_and_in_the_spreadsheet(db_path, tmp_path):
    """Issue scenario: a user pastes a hostile string into a contact's name and exports the view."""
    import csv

    from crm_tui.importing.exporter import export_view
    from widgets.property_form import PropertyForm

    Crm.open(db_path).close()
    hostile_first, hostile_last = "=cmd|' /C calc'!A0", "[@click=app.quit]x\x1b]0;t\x07"
    app = CrmApp(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        if type(app.screen).__name__ == "WelcomeScreen":
            await pilot.press("escape")
            await pilot.pause()
        await pilot.press("n")
        await pilot.pause(0.2)
        form = app.screen.query_one(PropertyForm)
        form.set_raw("firstname", hostile_first)
        form.set_raw("lastname", hostile_last)
        form.set_raw("email", "victim@example.org")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await shows(pilot, app, "=cmd|' /C c")  # the index cell (cut to its column's width)
        await pilot.press("enter")
        await shows(pilot, app, "=cmd|' /C calc'!A0 [@click=app.quit]x")  # the record page shows it whole
        assert app.is_running
        contact = app.crm.records.list("contacts").rows[0]
        assert contact["lastname"] == "[@click=app.quit]x"  # the escape sequence never reached the database
        out = tmp_path / "contacts.csv"
        export_view(app.crm, "contacts", out, fmt="csv")
    with open(out, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    first = next(v for k, v in rows[0].items() if k.lower().startswith("first"))
    assert first == "'=cmd|' /C calc'!A0"  # a spreadsheet shows it as text, never runs it
