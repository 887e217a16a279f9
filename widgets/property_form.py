"""A reusable form of an object's properties, validated as you type through the core.

Usage::

    form = PropertyForm(crm, "contacts")                      # every editable property
    form = PropertyForm(crm, "deals", ["dealname", "amount"], values={"amount": 10})

    form.values()    -> {property name: raw value}  (what to pass to crm.records.create/update)
    form.validate()  -> bool  (checks every field, shows each problem under its field)
    form.errors      -> {property name: one-line message}
    form.focus_first()

One input per property, chosen by type: Select for select / boolean, Input for the rest (with a
placeholder that shows the expected format). Every change is checked with
``crm.records.coerce_value`` and the one-line error shows under the field. Messages:

    PropertyForm.Changed(form, property, value, error)   after any field changes
    PropertyForm.Submitted(form, values)                  enter in the last input / submit() when valid

`values()` returns only fields that hold something, plus fields that held an initial value and were
emptied (as None, so an update clears them). Labels and values are shown literally (no markup).
"""

from __future__ import annotations

from typing import Any, Iterable

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

from crm_tui.domain.errors import CrmError
from crm_tui.domain.types import PROPERTY_TYPES, property_type
from widgets.text_input import TextInput

PLACEHOLDERS = {name: kind.placeholder for name, kind in PROPERTY_TYPES.items() if kind.placeholder}  # kept for callers


class FormInput(TextInput):
    """A form field that keeps keys typed ahead where a person expects them: enter moves to the next
    field at once (not after its message has gone round), and the keys that were queued to this
    field behind that enter go on to the next field ("Ines", enter, "Okoro" typed fast over SSH
    fills two fields instead of gluing them)."""

    _handed_to = None  # the field that took the focus on enter, while keys queued here are passed on

    def _on_focus(self, event) -> None:
        self._handed_to = None

    async def _on_key(self, event) -> None:
        target = self._handed_to
        if target is not None and target.is_attached and self.screen.focused is target:
            event.stop()
            event.prevent_default()
            target.post_message(events.Key(event.key, event.character))
            return
        self._handed_to = None
        if await self._run_editing_key(event):
            return
        if event.key == "enter":
            form = next((node for node in self.ancestors if isinstance(node, PropertyForm)), None)
            if form is not None and not form.is_last_field(self):
                event.stop()
                event.prevent_default()
                self._handed_to = self.screen.focus_next()
                return
        await super()._on_key(event)


def form_properties(meta) -> list[str]:
    """The properties a user fills in by default: every editable, non-system, non-archived property."""
    return [p.name for p in meta.properties.values() if not p.system and not p.read_only and not p.archived]


class PropertyForm(VerticalScroll):
    """Inputs for some properties of one object, validated as you type."""

    # The scroll container is no tab stop of its own: focus goes from field to field (a focused
    # field is scrolled into view), never to an invisible stop where typed text is lost.
    can_focus = False

    DEFAULT_CSS = """
    PropertyForm { height: auto; max-height: 1fr; }
    PropertyForm .pf-field { height: auto; }
    PropertyForm .pf-row { height: 1; }
    PropertyForm .pf-label { width: 22; color: $text-muted; padding: 0 1 0 0; }
    PropertyForm .pf-error { color: $text-error; height: auto; padding: 0 0 0 22; display: none; }
    PropertyForm .pf-error.-shown { display: block; }
    PropertyForm Input { border: none; height: 1; padding: 0 1; width: 1fr; background: $boost; }
    PropertyForm Input:focus { border: none; background: $primary 30%; }
    PropertyForm Select { height: 1; width: 1fr; }
    PropertyForm Select > SelectCurrent { border: none; height: 1; padding: 0 1; background: $boost; }
    PropertyForm Select:focus > SelectCurrent { border: none; background: $primary 30%; }
    PropertyForm Select > SelectOverlay { width: 1fr; }
    """

    class Changed(Message):
        """A field changed; `error` is its one-line problem or None."""

        def __init__(self, form: "PropertyForm", property: str, value: Any, error: str | None) -> None:
            self.form = form
            self.property = property
            self.value = value
            self.error = error
            super().__init__()

        @property
        def control(self) -> "PropertyForm":
            return self.form

    class Submitted(Message):
        """Enter in the last input, or submit(), with every field valid."""

        def __init__(self, form: "PropertyForm", values: dict) -> None:
            self.form = form
            self.values = values
            super().__init__()

        @property
        def control(self) -> "PropertyForm":
            return self.form

    def __init__(self, crm, object_name: str, properties: Iterable[str] | None = None,
                 values: dict | None = None, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.crm = crm
        self.meta = crm.registry.get(object_name)
        names = list(properties) if properties is not None else form_properties(self.meta)
        self.properties = [self.meta.prop(n) for n in names]
        self.initial = {k: v for k, v in (values or {}).items()}
        self.errors: dict[str, str] = {}
        self._touched: set[str] = set()
        self._start: dict[str, Any] = {}  # each field's value as built: changed() compares with it

    # -- building -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        for prop in self.properties:
            with Vertical(classes="pf-field", id=f"pf-field-{prop.name}"):
                label = prop.label + (" *" if prop.required else "")
                with Horizontal(classes="pf-row"):
                    yield Label(label, classes="pf-label", markup=False)
                    yield self._input_for(prop)
                yield Static("", classes="pf-error", id=f"pf-error-{prop.name}", markup=False)

    def _input_for(self, prop):
        initial = self.initial.get(prop.name)
        wid = f"pf-{prop.name}"
        editor = property_type(prop.type).editor
        if editor == "options":
            options = [(Content(o.label), o.name) for o in prop.options]  # labels are user data: literal
            value = prop.option_name(str(initial)) if initial not in (None, "") else None
            self._start[prop.name] = value if value is not None else None
            return Select(options, prompt=f"({prop.label})", allow_blank=True,
                          value=value if value is not None else Select.NULL, id=wid)
        if editor == "yes_no":
            value = Select.NULL if initial in (None, "") else ("true" if initial in (True, 1, "true", "1", "yes", "Yes") else "false")
            self._start[prop.name] = None if value is Select.NULL else value
            return Select([("Yes", "true"), ("No", "false")], prompt="(not set)", allow_blank=True, value=value, id=wid)
        text = self._initial_text(prop, initial)
        self._start[prop.name] = text if text.strip() else None
        return FormInput(value=text, placeholder=property_type(prop.type).placeholder, id=wid)

    def _initial_text(self, prop, value) -> str:
        return property_type(prop.type).edit_text(prop, value, self.crm.owner_name)

    # -- API ----------------------------------------------------------------------------------

    def raw(self, name: str) -> Any:
        """The raw value of one field: text, an option name, 'true'/'false', or None if empty."""
        widget = self.query_one(f"#pf-{name}")
        if isinstance(widget, Select):
            value = widget.value
            return None if value is Select.NULL or value is None else value
        text = widget.value
        return text if text.strip() else None

    def changed(self) -> bool:
        """Whether any field holds something other than what the form was built with (typed,
        chosen or cleared): closing the form then loses work, and asks first."""
        return any(self.raw(prop.name) != self._start.get(prop.name) for prop in self.properties)

    def set_raw(self, name: str, value: Any) -> None:
        widget = self.query_one(f"#pf-{name}")
        if isinstance(widget, Select):
            widget.value = Select.NULL if value in (None, "") else value
        else:
            widget.value = "" if value is None else str(value)

    def values(self) -> dict:
        """{property: raw value} for filled fields, and None for fields emptied since the start."""
        out = {}
        for prop in self.properties:
            value = self.raw(prop.name)
            if value is not None:
                out[prop.name] = value
            elif self.initial.get(prop.name) not in (None, ""):
                out[prop.name] = None
        return out

    def check(self, name: str, *, require: bool = True) -> str | None:
        """Validate one field, show or hide its error line, return the error.

        `require=False` skips the 'is required' check (used while typing into an untouched field)."""
        prop = self.meta.prop(name)
        value = self.raw(name)
        error = None
        if value is None:
            if prop.required and require:
                error = f"{prop.label} is required"
        else:
            try:
                self.crm.records.coerce_value(self.meta, prop, value)
            except CrmError as exc:
                error = _short(str(exc), prop)
        line = self.query_one(f"#pf-error-{name}", Static)
        line.update(error or "")
        line.set_class(bool(error), "-shown")
        if error:
            self.errors[name] = error
        else:
            self.errors.pop(name, None)
        return error

    def validate(self) -> bool:
        """Check every field; True when all are valid."""
        for prop in self.properties:
            self.check(prop.name)
        return not self.errors

    def show_error(self, name: str | None, message: str) -> None:
        """Show an error from the core (e.g. a unique clash) under a field, or the first field."""
        name = name if name in {p.name for p in self.properties} else (self.properties[0].name if self.properties else None)
        if name is None:
            return
        line = self.query_one(f"#pf-error-{name}", Static)
        line.update(message)
        line.add_class("-shown")
        self.errors[name] = message

    def is_last_field(self, widget) -> bool:
        fields = [w for w in self.query("Input, Select") if w.id and w.id.startswith("pf-")]
        return bool(fields) and widget is fields[-1]

    def focus_first(self) -> None:
        if self.properties:
            self.query_one(f"#pf-{self.properties[0].name}").focus()

    def submit(self) -> bool:
        if self.validate():
            self.post_message(self.Submitted(self, self.values()))
            return True
        first = next(iter(self.errors))
        self.query_one(f"#pf-{first}").focus()
        return False

    # -- events -------------------------------------------------------------------------------

    def _property_of(self, widget) -> str | None:
        wid = widget.id or ""
        return wid[3:] if wid.startswith("pf-") else None

    @on(Input.Changed)
    @on(Select.Changed)
    def _field_changed(self, event) -> None:
        name = self._property_of(event.control)
        if name is None or not self.is_mounted:
            return
        event.stop()
        if self.raw(name) is not None:
            self._touched.add(name)
        error = self.check(name, require=name in self._touched)
        self.post_message(self.Changed(self, name, self.raw(name), error))

    @on(Input.Submitted)
    def _input_submitted(self, event: Input.Submitted) -> None:
        if self._property_of(event.control) is None:
            return
        event.stop()
        inputs = [w for w in self.query("Input, Select") if w.id and w.id.startswith("pf-")]
        if inputs and event.control is inputs[-1]:
            self.submit()
        else:
            self.screen.focus_next()


def _short(message: str, prop) -> str:
    """'contacts.email (Email): not an email' -> 'Email: not an email' (one line)."""
    prefix = f"({prop.label}): "
    if prefix in message:
        message = prop.label + ": " + message.split(prefix, 1)[1]
    return message.splitlines()[0] if message else message
