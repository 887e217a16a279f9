"""The data-model screen: a label renamed and deleted, an object relabelled, from the app."""

from __future__ import annotations

from crm_tui.services.core import Crm
from crm_tui.shell.app import CrmApp


async def settle(pilot, times: int = 3) -> None:
    for _ in range(times):
        await pilot.pause()


async def data_model_at(pilot, app, object_name: str, detail: str | None = None):
    """The Data model screen opened on `object_name`, the cursor on `detail` (e.g. "prop:lastname",
    the details list focused) when given."""
    from screens.datamodel import DataModelScreen

    app.open_data_model()
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, DataModelScreen)
    objects = screen.query_one("#objects")
    objects.highlighted = [o.id for o in objects._options].index(object_name)
    await settle(pilot)
    if detail is not None:
        details = screen.query_one("#details")
        details.focus()
        details.highlighted = [o.id for o in details._options].index(detail)
    return screen


async def test_labels_renamed_and_deleted_and_companies_relabelled_from_the_app(demo_db):
    from screens.index_modals import TextPromptModal
    from screens.modals import ConfirmModal

    with Crm.open(demo_db) as crm:
        crm.assoc.add(("contacts", 1), ("companies", 2), labels=["Advisor"])
    app = CrmApp(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = await data_model_at(pilot, app, "companies")  # companies: relabelled as Accounts
        objects = screen.query_one("#objects")
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, TextPromptModal)
        app.screen.query_one("#text").value = "Account / Accounts"
        await pilot.press("enter")
        await settle(pilot)
        assert app.crm.registry.get("companies").plural_label == "Accounts"
        assert "Accounts" in str(objects.get_option_at_index(objects.highlighted).prompt)
        # contacts -> companies label Advisor: renamed, then deleted
        objects.highlighted = [o.id for o in objects._options].index("contacts")
        await settle(pilot)
        details = screen.query_one("#details")
        details.focus()
        details.highlighted = [o.id for o in details._options].index("label:companies:Advisor")
        await pilot.press("e")
        await settle(pilot)
        app.screen.query_one("#text").value = "Mentor"
        await pilot.press("enter")
        await settle(pilot)
        ids = [o.id for o in details._options]
        assert "label:companies:Mentor" in ids and "label:companies:Advisor" not in ids
        details.highlighted = ids.index("label:companies:Mentor")
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert "label:companies:Mentor" not in [o.id for o in details._options]
        links = {i.id: i.labels for g in app.crm.assoc.groups(("contacts", 1), per_group=None) for i in g.items}
        assert links[2] == []  # the link stays, without the label


async def test_a_property_label_with_a_slash_of_its_own_keeps_it_and_undo_shows_at_once(demo_db):
    """'label / group' is split at its last ' / ': a label holding a slash stays whole; u on the
    screen puts the old label back on it at once."""
    app = CrmApp(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = await data_model_at(pilot, app, "contacts", "prop:lastname")
        details = screen.query_one("#details")
        await pilot.press("e")
        await settle(pilot)
        app.screen.query_one("#text").value = "[red]Surname[/red] in/out / Contact information"
        await pilot.press("enter")
        await settle(pilot)
        prop = app.crm.registry.get("contacts").properties["lastname"]
        assert (prop.label, prop.group) == ("[red]Surname[/red] in/out", "Contact information")
        shown = " ".join(str(o.prompt) for o in details._options)
        assert "[red]Surname[/red] in/out" in shown  # literal, never markup
        await pilot.press("u")
        await settle(pilot)
        shown = " ".join(str(o.prompt) for o in details._options)
        assert "Surname" not in shown and "Last name" in shown
