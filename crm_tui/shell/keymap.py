"""The user's key remapping (the `keymap` setting), applied with Textual's own keymap.

Every Binding in the app has an id ("table.cursor_down"); the config maps ids to new
keys. Textual substitutes the keys wherever the binding is in play (App.set_keymap).
This module is app-side and may import Textual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from textual.dom import DOMNode
from textual.keys import REPLACED_KEYS, Keys, key_to_character

if TYPE_CHECKING:
    from textual.app import App

MODIFIERS = frozenset(("ctrl", "alt", "shift", "meta", "super", "hyper"))
# Named keys Textual emits: "escape", "pageup", "f12", ... (the part after any modifier).
NAMED_KEYS = frozenset(key.value.rpartition("+")[2] for key in Keys)


def apply_keymap(
    app: App[Any], keymap: dict[str, str], known_ids: Iterable[str] | None = None
) -> list[str]:
    """Remap bindings by id. Returns one-line warnings for entries that were not applied.

    known_ids: every binding id the app has. By default they are collected from every
    screen of the app (see binding_ids) and every widget class imported so far.
    """
    known = set(known_ids) if known_ids is not None else binding_ids(app)
    accepted: dict[str, str] = {}
    warnings: list[str] = []
    for binding_id, keys in keymap.items():
        if binding_id not in known:
            warnings.append(f"keymap: no binding has the id {binding_id!r} (ignored)")
            continue
        bad_keys = [key for key in _split_keys(keys) if not is_valid_key(key)]
        if bad_keys or not _split_keys(keys):
            shown = ", ".join(repr(key) for key in bad_keys) or repr(keys)
            warnings.append(
                f"keymap: {binding_id}: {shown} is not a key Textual knows "
                "(examples: ctrl+n, f2, question_mark) (ignored)"
            )
            continue
        accepted[binding_id] = ",".join(_split_keys(keys))
    warnings += _conflicts(app, accepted)
    app.set_keymap(accepted)
    return warnings


def _conflicts(app: App[Any], accepted: dict[str, str]) -> list[str]:
    """A remap onto a key that another binding of the same screen or widget still uses."""
    warnings = []
    groups = [list(app._bindings)] + [list(cls._merged_bindings) for cls in _subclasses(DOMNode)
                                      if cls._merged_bindings is not None]
    for bindings in groups:
        ids_here = {binding.id for _key, binding in bindings if binding.id}
        for binding_id, keys in accepted.items():
            if binding_id not in ids_here:
                continue
            for key in _split_keys(keys):
                for bound_key, other in bindings:
                    if other.id in (None, binding_id) or bound_key != key:
                        continue
                    left = [k for k in _split_keys(accepted.get(other.id, other.key)) if k != key]
                    if other.id in accepted and key not in _split_keys(accepted[other.id]):
                        continue  # the other binding was moved off this key too
                    message = (f"keymap: {binding_id} takes {key!r} from {other.id}"
                               + ("" if left else f", which now has no key: give {other.id} one in the keymap"))
                    if message not in warnings:
                        warnings.append(message)
    return warnings


def binding_ids(app: App[Any]) -> set[str]:
    """Ids of the bindings declared on the app, on every screen of the app (imported here, as
    screens are otherwise imported when first opened) and on every DOM class loaded so far."""
    import screens  # lazy: every screen, only when a keymap names bindings

    screens.load_all()
    ids = {binding.id for _key, binding in app._bindings if binding.id}
    for node_class in _subclasses(DOMNode):
        merged = node_class._merged_bindings
        if merged is not None:
            ids.update(binding.id for _key, binding in merged if binding.id)
    return ids


def is_valid_key(key: str) -> bool:
    """True for key strings Textual can produce: "x", "G", "?", "ctrl+n", "shift+f5", "slash"."""
    if len(key) == 1:
        return key.isprintable()
    *modifiers, base = key.split("+")
    if not base or any(modifier not in MODIFIERS for modifier in modifiers):
        return False
    if len(base) == 1 or base in NAMED_KEYS:
        return True
    # Punctuation goes by its Unicode name ("question_mark", "full_stop"), a few by a
    # short form ("slash", "minus", "plus").
    return key_to_character(REPLACED_KEYS.get(base, base)) is not None


def _split_keys(keys: str) -> list[str]:
    return [key.strip() for key in keys.split(",") if key.strip()]


def _subclasses(cls: type) -> Iterable[type]:
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)
