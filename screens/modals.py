"""Modals shared by every screen."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ModalFooter(ModalScreen):
    """Mixed into a modal: a footer of the modal's own keys (not the screen's underneath), which `?`
    lists too; j/k move in its lists (a modal hides the app's own j/k)."""

    BINDINGS = [
        Binding("j", "app.list_step(1)", "Down", show=False, id="modal.list_down"),
        Binding("k", "app.list_step(-1)", "Up", show=False, id="modal.list_up"),
    ]

    def on_mount(self) -> None:
        from textual.widgets import Footer

        if not self.query(Footer):
            self.mount(Footer())


class AsksBeforeDiscard:
    """Mixed into a modal holding a form or typed text (before ModalScreen): escape or Cancel closes
    it at once while nothing was typed, chosen or cleared, and otherwise asks "Discard changes?"
    first; no keeps the modal open with the text as it was.

        class NewThingModal(AsksBeforeDiscard, ModalFooter, ModalScreen[int | None]):
            def action_cancel(self) -> None:
                self.close_or_ask(None)

    A PropertyForm's fields count against what the form started with (PropertyForm.changed); any
    other text field, tick list or check box against what it held when the modal opened (empty
    when it came later), except the ids in DISCARD_IGNORES (search boxes: nothing is lost with them)."""

    DISCARD_IGNORES: tuple[str, ...] = ()
    _typed_baseline: dict | None = None

    def on_mount(self) -> None:
        from textual.widgets import Checkbox, Input, SelectionList

        self._typed_baseline = {id(w): w.value for w in self.query(Input)}
        # ticks and check boxes are choices the user made too (records to link, labels)
        self._typed_baseline.update({id(w): frozenset(w.selected) for w in self.query(SelectionList)})
        self._typed_baseline.update({id(w): w.value for w in self.query(Checkbox)})

    def unsaved_text(self) -> bool:
        from textual.widgets import Checkbox, Input, SelectionList

        from widgets.property_form import PropertyForm

        if any(form.changed() for form in self.query(PropertyForm)):
            return True
        base = self._typed_baseline or {}
        for widget in self.query(Input):
            if widget.id in self.DISCARD_IGNORES or any(isinstance(a, PropertyForm) for a in widget.ancestors):
                continue
            if widget.value != base.get(id(widget), ""):
                return True
        for widget in self.query(SelectionList):
            if widget.id in self.DISCARD_IGNORES or any(isinstance(a, PropertyForm) for a in widget.ancestors):
                continue
            if frozenset(widget.selected) != base.get(id(widget), frozenset()):
                return True
        for widget in self.query(Checkbox):
            if widget.id in self.DISCARD_IGNORES or any(isinstance(a, PropertyForm) for a in widget.ancestors):
                continue
            if widget.value != base.get(id(widget), False):
                return True
        return False

    def close_or_ask(self, result=None) -> None:
        if not self.unsaved_text():
            self.dismiss(result)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(result)
        self.app.push_screen(ConfirmModal("Discard changes?", "Discard"), answered)


class ConfirmModal(ModalFooter, ModalScreen[bool]):
    """A yes/no question; `y`/enter confirms, `n`/escape cancels."""

    DEFAULT_CSS = """
    ConfirmModal { align: center middle; }
    ConfirmModal > Vertical { width: 64; max-width: 100%; height: auto; border: round $error;
                              background: $panel; padding: 1 2; }
    ConfirmModal .buttons { height: auto; margin-top: 1; }
    ConfirmModal Button { margin-right: 2; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, yes: str = "Delete") -> None:
        super().__init__()
        from crm_tui.domain.sanitize import clean_text

        self.question = clean_text(question)  # names and file names in it come from users and files
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, markup=False, classes="title")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="error")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class ExistingRecordModal(ModalFooter, ModalScreen[str | None]):
    """Creating a record whose email (contacts) or domain (companies) already exists: say so and
    offer the existing record instead of writing over it. Shows what an update would change.

    `offers` names the choices: "open" (open the existing record), "update" (write what was typed
    onto it), "link" (use it unchanged). Dismisses with the choice, or None to go back to the form.
    """

    DEFAULT_CSS = """
    ExistingRecordModal { align: center middle; }
    ExistingRecordModal > Vertical { width: 72; max-width: 100%; height: auto; max-height: 100%;
                                     border: round $warning; background: $panel; padding: 0 1; }
    ExistingRecordModal .title { text-style: bold; }
    ExistingRecordModal .diff { color: $text; padding: 1 0 0 0; }
    ExistingRecordModal .hint { color: $text-muted; padding: 1 0 0 0; }
    """
    BINDINGS = [
        Binding("o", "choose('open')", "Open it", id="existing.open"),
        Binding("l", "choose('link')", "Link it as it is", id="existing.link"),
        Binding("u", "choose('update')", "Update it", id="existing.update"),
        Binding("escape", "back", "Back to the form", id="existing.back"),
    ]

    def __init__(self, crm, object_name: str, record_id: int, values: dict,
                 offers: tuple[str, ...] = ("open", "update")) -> None:
        super().__init__()
        from crm_tui.services.paging import display_value
        from crm_tui.services.records import DEDUPE_KEYS
        from crm_tui.domain.sanitize import clean_line

        meta = crm.registry.get(object_name)
        self.offers = offers
        key = DEDUPE_KEYS.get(meta.name, "")
        record = crm.records.get(meta.name, record_id)
        key_label = meta.properties[key].label.lower() if key in meta.properties else key
        # names, labels and values come from the database: cleaned (another program may have written them)
        kept = crm.records.for_existing(meta.name, record_id, values)  # an additional email: the primary stays
        if len(kept) < len(values):
            typed = next(v for k, v in values.items() if k not in kept)
            self.question = clean_line(f"A {meta.label.lower()} with the additional {key_label} {typed} already exists: "
                                       f"{record.display_name} ({record.properties.get(key)}).")
        else:
            self.question = clean_line(f"A {meta.label.lower()} with {key_label} {record.properties.get(key)} already exists: "
                                       f"{record.display_name}.")
        lines = []
        for name, old, new in crm.records.changes(meta.name, record_id, kept):
            prop = meta.properties[name]
            lines.append("  " + clean_line(f"{prop.label}: {display_value(crm, prop, old) or '(empty)'} → "
                                           f"{display_value(crm, prop, new)}"))
        self.diff = ("Updating it would change:\n" + "\n".join(lines)) if lines else \
            "It already holds everything you typed: updating it changes nothing."
        words = {"open": "o opens it", "link": "l links it as it is", "update": "u updates it"}
        self.hint = " · ".join(words[offer] for offer in offers) + " · escape goes back to the form"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, markup=False, classes="title")
            yield Static(self.diff, markup=False, classes="diff", id="diff")
            yield Static(self.hint, markup=False, classes="hint")

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "choose":
            return parameters[0] in self.offers
        return True

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)

    def action_back(self) -> None:
        self.dismiss(None)


def saved_message(crm, meta, result, verb: str) -> str:
    """'Created contact Ines Okoro', 'Updated company Acme (Industry)': a toast names the record."""
    name = crm.records.display_names(meta, [result.id]).get(result.id) or f"#{result.id}"
    text = f"{verb} {meta.label.lower()} {name}"
    if verb == "Updated":
        labels = [meta.properties[p].label for p in result.changed if p in meta.properties]
        text += f" ({', '.join(labels)})" if labels else " (nothing changed)"
    notes = [name_records(crm, note) for note in getattr(result, "notes", []) if note]
    return "; ".join([text] + notes)



def name_records(crm, message: str) -> str:
    """A core message as a toast names records, not raw ids: 'associated contact 1 with company 3
    (Acme)' -> 'associated contact Ann Lee with company Acme'. Ids whose record has no name stay."""
    import re

    from crm_tui.domain.sanitize import clean_line

    labels = {meta.label.lower(): meta for meta in crm.registry.objects.values()}
    if not labels or not message:
        return message
    pattern = re.compile(r"\b(" + "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
                         + r") #?(\d+)\b( \([^()]*\))?")
    found: dict[str, set[int]] = {}
    for match in pattern.finditer(message):
        found.setdefault(match.group(1), set()).add(int(match.group(2)))
    names = {label: crm.records.display_names(labels[label], ids) for label, ids in found.items()}

    def named(match) -> str:
        name = names.get(match.group(1), {}).get(int(match.group(2)))
        return f"{match.group(1)} {clean_line(name)}" if name else match.group(0)
    return pattern.sub(named, message)
