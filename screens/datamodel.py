"""The data model: every object with its properties and the association labels from it to other
objects, as a map the keyboard walks. Objects are relabelled (e), properties relabelled and
regrouped (e), archived and restored (a; archived ones dimmed in an "Archived" group), labels renamed
(e) and deleted (d), custom properties deleted (d), all through the core's data-model service
(services/datamodel.py): renames, relabels, archives and restores undo with u."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Header, OptionList, Static
from textual.widgets.option_list import Option

from crm_tui.domain.errors import CrmError
from crm_tui.domain.sanitize import clean_line
from widgets.footer import KeysFooter


class DataModelScreen(Screen):
    HELP_TITLE = "Data model"
    HELP = """\
Left: the objects. Right: the highlighted object's properties (by group) and its association labels
to other objects. e edits what the cursor is on (an object's label, a property's label and group, a
label's name); a archives a property (kept with its values, hidden from forms, columns, filters,
import and export) or restores an archived one, after asking; d deletes a label (links keep existing
without it) or a custom property with its values, after asking. Renames, relabels, archives and
restores are undone with u."""
    BINDINGS = [
        Binding("e", "edit", "Edit", id="datamodel.edit"),
        Binding("a", "archive", "Archive/restore", id="datamodel.archive"),
        Binding("d", "delete", "Delete", id="datamodel.delete"),
        Binding("escape,q", "back", "Back", id="datamodel.back"),
    ]
    DEFAULT_CSS = """
    DataModelScreen #objects { width: 26; height: 1fr; }
    DataModelScreen #details { width: 1fr; height: 1fr; }
    DataModelScreen #caption { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    """

    @property
    def crm(self):
        return self.app.crm

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="caption", markup=False)
        with Horizontal():
            yield OptionList(id="objects", markup=False)
            yield OptionList(id="details", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = "Data model"
        self.reload()
        self.query_one("#objects", OptionList).focus()

    def reload(self, keep: str | None = None) -> None:
        objects = self.query_one("#objects", OptionList)
        current = keep or self._object_name()
        metas = list(self.crm.registry.objects.values())
        objects.set_options([Option(Text(f"{clean_line(m.plural_label)}  ({m.kind})"), id=m.name) for m in metas])
        names = [m.name for m in metas]
        objects.highlighted = names.index(current) if current in names else 0
        self._show_details()

    def action_refresh(self) -> None:
        """After an undo or redo (or another member's change): labels and properties as they are now."""
        self.crm.registry.reload()
        self.reload()

    def _object_name(self) -> str | None:
        option = self.query_one("#objects", OptionList).highlighted_option
        return option.id if option is not None else None

    @on(OptionList.OptionHighlighted, "#objects")
    def _show_details(self, _event=None) -> None:
        name = self._object_name()
        details = self.query_one("#details", OptionList)
        if name is None:
            details.clear_options()
            return
        meta = self.crm.registry.get(name)
        options: list = []
        groups: dict[str, list] = {}
        archived = [p for p in meta.properties.values() if p.archived and not p.system]
        for prop in meta.properties.values():
            if not prop.system and not prop.archived:
                groups.setdefault(prop.group or "Properties", []).append(prop)
        for group, props in list(groups.items()) + ([("Archived", archived)] if archived else []):
            options.append(Option(Text(clean_line(group), style="bold"), disabled=True))
            for prop in props:
                custom = ", custom" if prop.is_custom else ""
                options.append(Option(Text(f"  {clean_line(prop.label)}  ({prop.name}, {prop.type}{custom})",
                                           no_wrap=True, overflow="ellipsis", style="dim" if prop.archived else ""),
                                      id=f"prop:{prop.name}"))
        labels = [label for label in self.crm.assoc.labels() if label["from"] == meta.name]
        options.append(Option(Text("Association labels", style="bold"), disabled=True))
        if not labels:
            options.append(Option(Text("  none (crm-tui labels create)", style="dim"), disabled=True))
        for label in labels:
            other = f" / {label['inverse']}" if label.get("paired") else ""
            limit = f"  (limit {label['limit']})" if label.get("limit") else ""
            options.append(Option(Text(f"  -> {label['to']}: {clean_line(label['name'])}{clean_line(other)}{limit}",
                                       no_wrap=True, overflow="ellipsis"), id=f"label:{label['to']}:{label['name']}"))
        details.set_options(options)
        self.query_one("#caption", Static).update(
            f"{meta.label} / {meta.plural_label}: {sum(len(p) for p in groups.values())} properties, "
            f"{len(labels)} labels" + (f", {len(archived)} archived" if archived else "") + " · e edits · a archives · d deletes")

    def _target(self) -> tuple[str, str | None]:
        """("object", name) with the object list focused, else the detail under the cursor."""
        if self.focused is self.query_one("#objects", OptionList):
            return "object", self._object_name()
        option = self.query_one("#details", OptionList).highlighted_option
        return ("detail", option.id) if option is not None and option.id else ("none", None)

    def _prompt(self, title: str, value: str, apply) -> None:
        from screens.index_modals import TextPromptModal

        def check(text: str) -> str | None:
            try:
                apply(text)
            except CrmError as exc:
                return clean_line(str(exc))
            return None

        def done(result) -> None:
            if result is not None:
                self.reload()
        self.app.push_screen(TextPromptModal(title, value, check=check), done)

    def action_edit(self) -> None:
        from crm_tui.domain import sources

        kind, target = self._target()
        name = self._object_name()
        if name is None or target is None:
            return
        meta = self.crm.registry.get(name)
        dm = self.crm.datamodel
        if kind == "object":
            def relabel(text: str) -> None:
                label, plural = _last_part(text)
                dm.relabel_object(meta.name, label, plural or None, source=sources.USER)
            self._prompt(f"{meta.plural_label}: new label / plural (e.g. Account / Accounts)",
                         f"{meta.label} / {meta.plural_label}", relabel)
        elif target.startswith("prop:"):
            prop = meta.properties[target[5:]]

            def update(text: str) -> None:
                label, group = _last_part(text)
                dm.update_property(meta.name, prop.name, label=label, group=group, source=sources.USER)
            self._prompt(f"{prop.name}: new label / group", f"{prop.label} / {prop.group}", update)
        elif target.startswith("label:"):
            _, to_object, old = target.split(":", 2)
            self._prompt(f"Rename label {old} ({meta.name} -> {to_object})", old,
                         lambda text: dm.rename_label(meta.name, to_object, old, text, source=sources.USER))

    def action_archive(self) -> None:
        """Archive the property under the cursor (or restore an archived one), asked first."""
        from crm_tui.domain import sources
        from screens.modals import ConfirmModal

        kind, target = self._target()
        name = self._object_name()
        if kind != "detail" or name is None or not target or not target.startswith("prop:"):
            return
        meta = self.crm.registry.get(name)
        prop = meta.properties[target[5:]]
        if prop.archived:
            question = f"Restore property {prop.label} of {meta.plural_label}? It shows again in forms, columns, filters, import and export."
        else:
            question = (f"Archive property {prop.label} of {meta.plural_label}? Its values stay; it is hidden from forms, "
                        "columns, filters, import and export until restored (u undoes).")

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                message = self.crm.datamodel.archive_property(meta.name, prop.name, archived=not prop.archived,
                                                              source=sources.USER)
            except CrmError as exc:
                self.notify(clean_line(str(exc)), severity="error", markup=False)
                return
            self.notify(message, markup=False)
            self.reload()
            details = self.query_one("#details", OptionList)
            ids = [o.id for o in details._options]
            if target in ids:
                details.highlighted = ids.index(target)
        self.app.push_screen(ConfirmModal(question), answered)

    def action_delete(self) -> None:
        from crm_tui.domain import sources
        from screens.modals import ConfirmModal

        kind, target = self._target()
        name = self._object_name()
        if kind != "detail" or name is None or target is None:
            return
        meta = self.crm.registry.get(name)
        dm = self.crm.datamodel
        if target.startswith("label:"):
            _, to_object, label = target.split(":", 2)
            question = f"Delete label {label} ({meta.name} -> {to_object})? Links keep existing without it; this cannot be undone."
            run = lambda: dm.delete_label(meta.name, to_object, label, source=sources.USER)  # noqa: E731
        else:
            prop = meta.properties[target[5:]]
            question = f"Delete property {prop.label} of {meta.plural_label} with all its values? This cannot be undone."
            run = lambda: dm.delete_property(meta.name, prop.name, source=sources.USER)  # noqa: E731

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                message = run()
            except CrmError as exc:
                self.notify(str(exc), severity="error", markup=False)
                return
            self.notify(message, markup=False)
            self.reload()
        self.app.push_screen(ConfirmModal(question), answered)

    def action_back(self) -> None:
        self.app.pop_screen()


def _last_part(text: str) -> tuple[str, str | None]:
    """'Label / second part' split at its last ' / ' (spaces around, as the prompt writes it): a
    label holding a slash of its own ('In/out', 'A / B / Group') keeps it. No ' / ': (text, None)."""
    label, sep, rest = text.rpartition(" / ")
    if not sep:
        return text.strip(), None
    return label.strip(), rest.strip()
