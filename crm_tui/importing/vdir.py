"""Two-way sync of contacts with a vdir: a folder of `.vcf` files, one card per contact, as khard
and vdirsyncer keep address books (`crm-tui vdir sync DIR`).

    result = sync_vdir(crm, "~/.contacts/work")
    print(result.summary_line())

What a sync does, per card UID (the state of the last sync is kept per folder and UID in the
VdirCard table: the card file's hash, its text and the values read from it, and the contact's values):

- a card new in the folder becomes a contact (or is joined to the live contact with its email);
  a live contact with no card gets one, `<uid>.vcf`, with a new UID (or the one it has in another
  synced folder);
- a field changed on one side since the last sync is carried to the other; fields changed on
  different sides are merged. **Conflict rule: when both sides changed the same field, the CRM
  wins**; the card's value is kept in a note on the contact's timeline and named in the summary;
- a card deleted from the folder moves its contact to the recycle bin (restorable), unless the
  contact changed since the last sync: then the CRM wins and the card is written again;
- a contact deleted (or merged away, or erased) in the CRM moves its card into the folder's
  `.crm-tui-trash/`: nothing is ever lost;
- a card is patched, never rewritten: only the lines of the fields that changed are replaced, so
  unknown properties (X-*, PHOTO, CATEGORIES, REV, groups, parameters) stay byte for byte.

Every change to contacts is one operation with the source Sync and the actor `vdir:<folder>`
(undo takes the CRM's side back; the next sync carries that to the folder). A sync that finds
nothing to do writes nothing: "0 changes". Cards are written through safe_files (complete or
absent, 0600, never over the database); symlinks in the folder are never read or written
through; file names never come from a UID that is not a plain name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..domain import sources
from ..domain.errors import CrmError, InvalidValue
from ..domain.sanitize import clean_line
from ..domain.types import now_iso
from ..storage import safe_files
from . import vcard

TRASH = ".crm-tui-trash"
MAX_CARD_BYTES = 8 << 20  # a card with a large photo is a few hundred KB; beyond this is no address book entry
# contact property -> the key vcard.parse_vcards gives it (the vCard import's mapping)
FIELDS = (("firstname", "firstname"), ("lastname", "lastname"), ("salutation", "salutation"),
          ("email", "email"), ("hs_additional_emails", "additional_emails"), ("phone", "work_phone"),
          ("mobilephone", "mobilephone"), ("fax", "fax"), ("jobtitle", "jobtitle"), ("company", "company"),
          ("address", "address"), ("city", "city"), ("state", "state"), ("zip", "zip"),
          ("country", "country"), ("date_of_birth", "birthday"), ("website", "website"), ("notes", "note"))
PROPS = tuple(p for p, _ in FIELDS)
_SAFE_UID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+=-]{0,150}")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


# ---------------------------------------------------------------- the result


@dataclass
class VdirSyncResult:
    folder: str
    created: int = 0  # contacts created from new cards
    joined: int = 0  # new cards joined to an existing contact (same email)
    updated: int = 0  # contacts changed from their cards
    deleted: int = 0  # contacts moved to the recycle bin (their card was deleted)
    restored: int = 0  # contacts restored from the recycle bin (their card came back)
    written: int = 0  # new cards written
    patched: int = 0  # cards changed from their contacts (rewritten after a conflict too)
    trashed: int = 0  # cards moved into .crm-tui-trash (their contact was deleted)
    conflicts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    operation: int | None = None

    @property
    def changes(self) -> int:
        return (self.created + self.joined + self.updated + self.deleted + self.restored + self.written
                + self.patched + self.trashed)

    def summary_line(self) -> str:
        """One line: `vdir sync DIR: 0 changes`, or what changed on each side (only what happened)."""
        parts = [f"{n} {what}" for n, what in (
            (self.created, "contact(s) created"), (self.joined, "card(s) joined to a contact with their email"),
            (self.updated, "contact(s) updated"), (self.deleted, "contact(s) moved to the recycle bin"),
            (self.restored, "contact(s) restored"), (self.written, "card(s) written"),
            (self.patched, "card(s) updated"), (self.trashed, f"card(s) moved to {TRASH}")) if n]
        line = f"vdir sync {clean_line(self.folder)}: " + (", ".join(parts) if parts else "0 changes")
        if self.conflicts:
            line += (f"; {len(self.conflicts)} conflict(s), the CRM's value kept (the card's is in a note on the "
                     "contact): " + "; ".join(self.conflicts[:5]) + (" ..." if len(self.conflicts) > 5 else ""))
        if self.problems:
            line += f"; {len(self.problems)} card(s) or value(s) skipped (listed below)"
        if self.operation:
            line += f" (operation {self.operation}; crm-tui undo {self.operation} takes the CRM's side back)"
        return line

    def to_json(self) -> dict:
        return {"folder": self.folder, "created": self.created, "joined": self.joined, "updated": self.updated,
                "deleted": self.deleted, "restored": self.restored, "written": self.written, "patched": self.patched, "trashed": self.trashed,
                "changes": self.changes, "conflicts": self.conflicts, "problems": self.problems,
                "operation": self.operation}


# ---------------------------------------------------------------- cards as lines


class _Entry:
    """One content line of a card: its raw text (folded lines and line ends as in the file) and,
    for a property, its name, group, parameters and value (still escaped)."""

    __slots__ = ("raw", "name", "params", "value", "group")

    def __init__(self, raw: str):
        self.raw = raw
        unfolded = re.sub(r"(?:\r\n|\r|\n)[ \t]", "", raw).rstrip("\r\n")
        m = re.match(r"(?:([A-Za-z0-9_-]+)\.)?([A-Za-z0-9_-]+)((?:;(?:\"[^\"]*\"|[^\";:])*)*):(.*)\Z", unfolded, re.S)
        if m:
            self.group, self.name, self.params, self.value = m[1], m[2].upper(), m[3], m[4]
        else:
            self.group, self.name, self.params, self.value = None, "", "", unfolded

    @property
    def types(self) -> set[str]:
        found = set()
        for m in re.finditer(r';(?:TYPE=)?("[^"]*"|[^;]*)', self.params, re.I):
            found.update(t.strip().strip('"').upper() for t in m[1].split(","))
        return found

    @property
    def preferred(self) -> bool:
        return "PREF" in self.types or bool(re.search(r";PREF=", self.params, re.I))


class _Card:
    """A card's lines, to be patched: only the lines of changed fields are replaced."""

    def __init__(self, text: str):
        self.newline = "\r\n" if "\r\n" in text or "\n" not in text else "\n"
        self.head: list[str] = []  # anything before BEGIN:VCARD
        self.entries: list[_Entry] = []  # BEGIN:VCARD .. END:VCARD, both included
        self.tail: list[str] = []  # after the first card's END:VCARD (other cards: kept, not synced)
        lines = _LINE.findall(text)
        state = "head"
        current: str | None = None
        for line in lines:
            if state == "head":
                if line.strip().upper() == "BEGIN:VCARD":
                    state = "card"
                    current = line
                else:
                    self.head.append(line)
                continue
            if state == "tail":
                self.tail.append(line)
                continue
            if line[:1] in (" ", "\t") and current is not None:
                current += line
                continue
            if current is not None:
                self.entries.append(_Entry(current))
            current = line
            if line.strip().upper() == "END:VCARD":
                self.entries.append(_Entry(current))
                current = None
                state = "tail"
        if current is not None:
            self.entries.append(_Entry(current))
        if not self.entries or self.entries[-1].raw.strip().upper() != "END:VCARD":
            self.entries.append(_Entry("END:VCARD" + self.newline))
        if not self.entries[0].raw.strip().upper() == "BEGIN:VCARD":
            self.entries.insert(0, _Entry("BEGIN:VCARD" + self.newline))

    def text(self) -> str:
        body = "".join(e.raw if e.raw.endswith(("\n", "\r")) else e.raw + self.newline for e in self.entries[:-1])
        return "".join(self.head) + body + self.entries[-1].raw + "".join(self.tail)

    @property
    def version(self) -> str:
        return next((e.value.strip() for e in self.entries if e.name == "VERSION"), "3.0")

    def all(self, name: str) -> list[_Entry]:
        return [e for e in self.entries if e.name == name]

    def line(self, name_and_params: str, value: str) -> _Entry:
        return _Entry(vcard._fold(name_and_params + ":" + value) + self.newline)

    def rebuilt(self, entry: _Entry, value: str, *, params: str | None = None) -> _Entry:
        params = entry.params if params is None else params
        prefix = (f"{entry.group}." if entry.group else "") + entry.name + params
        if entry.name == "TEL" and re.search(r";VALUE=URI", params, re.I) and not value.lower().startswith("tel:"):
            value = "tel:" + value  # vCard 4.0's TEL;VALUE=uri:tel:+1...
        return self.line(prefix, value)

    def insert(self, entry: _Entry, *, after: tuple[str, ...] = ()) -> None:
        """Before END:VCARD, or after the last line of one of `after` when the card has one."""
        for i in range(len(self.entries) - 2, -1, -1):
            if self.entries[i].name in after:
                self.entries.insert(i + 1, entry)
                return
        self.entries.insert(len(self.entries) - 1, entry)

    def replace(self, old: _Entry, new: _Entry | None) -> None:
        i = self.entries.index(old)
        if new is None:
            del self.entries[i]
        else:
            self.entries[i] = new

    def uid(self) -> str:
        entry = next(iter(self.all("UID")), None)
        return clean_line(vcard._text(entry.value)) if entry is not None else ""


def _escape(text: str) -> str:
    return vcard._escape(text)


def _split_components(value: str) -> list[str]:
    """A structured value's components, still escaped (an escaped ';' stays inside its component)."""
    parts, current, i = [], [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            current.append(value[i:i + 2])
            i += 2
            continue
        if value[i] == ";":
            parts.append("".join(current))
            current = []
        else:
            current.append(value[i])
        i += 1
    parts.append("".join(current))
    return parts


def _by_preference(entries: list[_Entry]) -> list[_Entry]:
    return sorted(entries, key=lambda e: (0 if e.preferred else 1))  # stable: file order among equals


def _without_pref(params: str) -> str:
    params = re.sub(r";PREF=[^;]*", "", params, flags=re.I)

    def drop(m: re.Match) -> str:
        kept = [t for t in m[2].split(",") if t.strip().strip('"').upper() != "PREF"]
        return f";{m[1]}{','.join(kept)}" if kept else ""

    params = re.sub(r";(TYPE=)([^;]*)", drop, params, flags=re.I)
    return re.sub(r";PREF(?=;|$)", "", params, flags=re.I)


def _set_single(card: _Card, name: str, value: str, *, escaped: str | None = None,
                after: tuple[str, ...] = ()) -> None:
    """The card's first (preferred) `name` line set to `value`; the line removed when it is empty."""
    entries = _by_preference(card.all(name))
    text = _escape(value) if escaped is None else escaped
    if entries:
        card.replace(entries[0], card.rebuilt(entries[0], text) if value else None)
    elif value:
        card.insert(card.line(name, text), after=after)


def _set_list(card: _Card, name: str, old: list[_Entry], values: list[str], new_params: str,
              key=lambda v: v.casefold(), read=lambda e: e.value) -> None:
    """The lines `old` (of one kind) hold `values` in this order afterwards: a line whose value
    stays is kept as it is (its parameters too, but a PREF only on the first); new values reuse
    the places of the lines that went, then follow the last one."""
    by_value = {}
    for entry in old:
        by_value.setdefault(key(vcard._text(read(entry))), entry)
    spare = [e for e in old if key(vcard._text(read(e))) not in {key(v) for v in values}]
    kept_order: list[_Entry] = []
    for i, value in enumerate(values):
        entry = by_value.pop(key(value), None)
        if entry is not None:
            if i > 0 and entry.preferred:
                entry = card.rebuilt(entry, entry.value, params=_without_pref(entry.params))
        elif spare:
            used = spare.pop(0)
            params = used.params if i == 0 else _without_pref(used.params)
            entry = card.rebuilt(used, _escape(value), params=params)
        else:
            entry = card.line(name + new_params, _escape(value))
        kept_order.append(entry)
    positions = [card.entries.index(e) for e in old]
    for entry in old:
        card.entries.remove(entry)
    at = min(positions) if positions else None
    if at is None:
        for entry in kept_order:
            card.insert(entry, after=(name, "EMAIL", "TEL", "N", "FN"))
        return
    for offset, entry in enumerate(kept_order):
        card.entries.insert(at + offset, entry)


def _types(card: _Card, entry: _Entry) -> set[str]:
    return entry.types


def patch_card(text: str, values: dict[str, str], changed: set[str]) -> str:
    """The card with the fields in `changed` set to `values` (contact property -> text; "" clears);
    every other line as it was."""
    card = _Card(text)
    v4 = card.version.startswith("4")
    if changed & {"firstname", "lastname", "salutation"}:
        first, last, prefix = values.get("firstname", ""), values.get("lastname", ""), values.get("salutation", "")
        n_entry = next(iter(card.all("N")), None)
        parts = _split_components(n_entry.value) if n_entry is not None else []
        parts += [""] * (5 - len(parts))
        if "lastname" in changed:
            parts[0] = _escape(last)
        if "firstname" in changed:
            parts[1] = _escape(first)
        if "salutation" in changed:
            parts[3] = _escape(prefix)
        if n_entry is not None:
            card.replace(n_entry, card.rebuilt(n_entry, ";".join(parts)))
            n_entry = _Entry(n_entry.raw)  # the old name, for the full name's words
        else:
            card.insert(card.line("N", ";".join(parts)), after=("FN", "VERSION"))
        if changed & {"firstname", "lastname"}:
            _set_full_name(card, first, last, n_entry)
    if changed & {"email", "hs_additional_emails"}:
        emails = [e for e in [values.get("email", "")] + values.get("hs_additional_emails", "").split(";") if e.strip()]
        emails = vcard._ordered_unique(e.strip() for e in emails)
        _set_list(card, "EMAIL", card.all("EMAIL"), emails, "" if v4 else ";TYPE=INTERNET",
                  read=lambda e: vcard._strip_scheme(e.value, "mailto:"))
    tels = card.all("TEL")
    for prop, kind, params in (("mobilephone", "CELL", ";TYPE=CELL"), ("fax", "FAX", ";TYPE=FAX")):
        if prop in changed:
            mine = [e for e in _by_preference(tels) if kind in e.types]
            _set_single_entry(card, mine[0] if mine else None, "TEL" + params, values.get(prop, ""))
    if "phone" in changed:
        others = [e for e in _by_preference(card.all("TEL")) if not e.types & {"CELL", "FAX"}]
        phones = [p.strip() for p in values.get("phone", "").split(", ") if p.strip()]
        _set_list(card, "TEL", others, phones, ";TYPE=WORK" if v4 else ";TYPE=WORK,VOICE", key=lambda v: v,
                  read=lambda e: vcard._strip_scheme(e.value, "tel:"))
    if "jobtitle" in changed:
        _set_single(card, "TITLE", values.get("jobtitle", ""))
    if "company" in changed:
        org = next(iter(_by_preference(card.all("ORG"))), None)
        company = values.get("company", "")
        if org is not None:
            parts = _split_components(org.value)
            parts[0] = _escape(company)
            keep = any(parts)
            card.replace(org, card.rebuilt(org, ";".join(parts)) if keep else None)
        elif company:
            card.insert(card.line("ORG", _escape(company)))
    if changed & {"address", "city", "state", "zip", "country"}:
        adr = next(iter(_by_preference(card.all("ADR"))), None)
        parts = _split_components(adr.value) if adr is not None else []
        parts += [""] * (7 - len(parts))
        if "address" in changed:
            parts[1], parts[2] = "", _escape(values.get("address", ""))
        for prop, i in (("city", 3), ("state", 4), ("zip", 5), ("country", 6)):
            if prop in changed:
                parts[i] = _escape(values.get(prop, ""))
        if adr is not None:
            card.replace(adr, card.rebuilt(adr, ";".join(parts)) if any(parts) else None)
        elif any(parts):
            card.insert(card.line("ADR" + (";TYPE=WORK" if v4 else ";TYPE=WORK"), ";".join(parts)))
    if "date_of_birth" in changed:
        _set_single(card, "BDAY", values.get("date_of_birth", ""), escaped=values.get("date_of_birth", ""))
    if "website" in changed:
        website = " ".join(values.get("website", "").split())
        _set_single(card, "URL", website, escaped=website)
    if "notes" in changed:
        notes = card.all("NOTE")
        for extra in notes[1:]:
            card.replace(extra, None)
        _set_single(card, "NOTE", values.get("notes", ""))
    return card.text()


def _set_full_name(card: _Card, first: str, last: str, old_n: _Entry | None) -> None:
    """FN follows a changed first or last name: the old name's words replaced where they stand
    (a prefix, middle name or suffix in FN stays), else FN is "first last"."""
    fn = next(iter(card.all("FN")), None)
    full = " ".join(p for p in (first, last) if p)
    if fn is not None and old_n is not None:
        old = [vcard._text(part) for part in (_split_components(old_n.value) + ["", ""])[:2]]
        text, found = f" {vcard._text(fn.value)} ", True
        for old_part, new_part in zip(old, (last, first)):
            if old_part == new_part:
                continue
            if not old_part or f" {old_part} " not in text:
                found = False
                break
            text = text.replace(f" {old_part} ", f" {new_part} " if new_part else " ", 1)
        if found and text.strip():
            full = " ".join(text.split())
    if full:
        _set_single(card, "FN", full, after=("VERSION",))


def _set_single_entry(card: _Card, entry: _Entry | None, new_line: str, value: str) -> None:
    if entry is not None:
        card.replace(entry, card.rebuilt(entry, _escape(value)) if value else None)
    elif value:
        card.insert(card.line(new_line, _escape(value)), after=("TEL", "EMAIL"))


def new_card(uid: str, values: dict[str, str]) -> str:
    """A vCard 3.0 (khard's default version) for a contact: a skeleton patched with every field."""
    full = " ".join(p for p in (values.get("firstname", ""), values.get("lastname", "")) if p) \
        or values.get("company", "") or values.get("email", "") or values.get("phone", "") or "?"
    skeleton = "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", "PRODID:-//crm-tui//vdir sync//EN",
                            "UID:" + _escape(uid), "FN:" + _escape(full), "N:;;;;", "END:VCARD", ""])
    present = {p for p in PROPS if values.get(p)}
    return patch_card(skeleton, values, present)


def card_values(text: str) -> dict[str, str] | None:
    """The contact properties a card holds (text), or None when it is no readable card."""
    read = vcard.parse_vcards(text.encode("utf-8", "surrogateescape"))
    if not read.contacts:
        return None
    contact = read.contacts[0]
    return {prop: str(contact.get(key) or "") for prop, key in FIELDS}


def _card_file_name(uid: str) -> str:
    """`<uid>.vcf` for a UID that is a plain name; otherwise a name made from its hash (a UID
    such as `../../x` never becomes a path)."""
    if _SAFE_UID.fullmatch(uid) and ".." not in uid:
        return uid + ".vcf"
    return "uid-" + hashlib.sha256(uid.encode("utf-8", "surrogateescape")).hexdigest()[:32] + ".vcf"


# ---------------------------------------------------------------- the sync


@dataclass
class _Scanned:
    filename: str
    data: bytes
    text: str
    uid: str
    values: dict[str, str]

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


class _Sync:
    def __init__(self, crm, folder: str | os.PathLike, *, create: bool = True, force_delete: bool = False):
        self.crm = crm
        self.force_delete = force_delete
        path = safe_files.check_folder(folder, what="vdir folder", create=create)
        if path.is_symlink():
            path = path.resolve()
        self.folder = path.resolve()
        self.key = str(self.folder)
        self.actor = f"vdir:{self.key}"
        self.meta = crm.registry.get("contacts")
        self.result = VdirSyncResult(self.key)
        self.file_writes: list[tuple[str, str]] = []  # (file name, text)
        self.trash_moves: list[str] = []  # file names
        self.state_rows: dict[str, dict | None] = {}  # uid -> new state (None: removed)
        self.notes: list[tuple[int, str]] = []  # (contact id, note body) for conflicts
        self.scanned_hash: dict[str, str] = {}  # file name -> sha256 of the bytes the scan read
        self.changed_meanwhile: set[str] = set()  # file names another program wrote during the sync
        self.read_ahead: dict[int, dict[str, str] | None] = {}
        self.op = None
        self.stack: contextlib.ExitStack | None = None

    # -- reading both sides --------------------------------------------------------------

    def scan(self) -> dict[str, _Scanned]:
        VdirCard = self.crm.models.VdirCard
        known = {filename: (uid, digest, json.loads(values or "{}")) for filename, uid, digest, values in
                 VdirCard.select(VdirCard.filename, VdirCard.uid, VdirCard.card_hash, VdirCard.card_values)
                 .where((VdirCard.folder == self.key) & (VdirCard.gone == False)).tuples()}  # noqa: E712
        cards: dict[str, _Scanned] = {}
        problems = self.result.problems
        try:
            names = sorted(os.listdir(self.folder))
        except OSError as exc:
            raise InvalidValue(f"{self.folder}: cannot read the folder: {exc.strerror or exc}") from None
        for name in names:
            if name.startswith(".") or not name.lower().endswith(".vcf"):
                continue
            path = self.folder / name
            shown = clean_line(name)
            if path.is_symlink():
                problems.append(f"{shown}: a symbolic link; skipped (never read or written through)")
                continue
            data = self._read(path, shown)
            if data is None:
                continue
            if len(data) > MAX_CARD_BYTES:
                problems.append(f"{shown}: larger than {MAX_CARD_BYTES >> 20} MiB; skipped")
                continue
            text = data.decode("utf-8", "surrogateescape")
            digest = hashlib.sha256(data).hexdigest()
            same = known.get(name)
            if same is not None and same[1] == digest:  # as the last sync left it: no need to read it again
                cards[same[0]] = _Scanned(name, data, text, same[0], same[2])
                self.scanned_hash[name] = digest
                continue
            values = card_values(text)
            if values is None or "BEGIN:VCARD" not in text.upper():
                problems.append(f"{shown}: no readable vCard (a name, email, phone or company); skipped")
                continue
            if text.upper().count("BEGIN:VCARD") > 1 and text.upper().count("END:VCARD") > 1:
                problems.append(f"{shown}: holds more than one card; only the first is synced")
            uid = _Card(text).uid()
            scanned = _Scanned(name, data, text, uid, values)
            if not uid:  # a card with no UID gets one, written into its file
                scanned.uid = str(uuid.uuid4())
                scanned.text = self._with_uid(text, scanned.uid)
            if scanned.uid in cards:
                problems.append(f"{shown}: UID {clean_line(scanned.uid)[:80]!r} is also in {clean_line(cards[scanned.uid].filename)}; skipped")
                continue
            cards[scanned.uid] = scanned
            self.scanned_hash[name] = scanned.hash
        return cards

    def _read(self, path: Path, shown: str) -> bytes | None:
        """A card file's bytes (up to one more than the limit), or None and a problem: a folder,
        device or pipe named *.vcf is never read, nor a symlink (O_NOFOLLOW)."""
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            self.result.problems.append(f"{shown}: cannot be read ({exc.strerror or exc}); skipped")
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                self.result.problems.append(f"{shown}: not a regular file; skipped")
                return None
            with os.fdopen(os.dup(fd), "rb") as f:
                return f.read(MAX_CARD_BYTES + 1)
        except OSError as exc:
            self.result.problems.append(f"{shown}: cannot be read ({exc.strerror or exc}); skipped")
            return None
        finally:
            os.close(fd)

    @staticmethod
    def _with_uid(text: str, uid: str) -> str:
        card = _Card(text)
        card.insert(card.line("UID", _escape(uid)), after=("VERSION",))
        return card.text()

    def contact_values(self, record_id: int) -> dict[str, str] | None:
        """The live contact's mapped values as text; None when it is deleted, merged away or erased."""
        if record_id in self.read_ahead:
            return self.read_ahead.pop(record_id)
        row = self.crm.records._row(self.meta, record_id)
        if row is None or row["deleted_at"] is not None:
            return None
        return self._texts(row)

    def _read_ahead(self, record_ids: list[int]) -> None:
        """The synced contacts' values in a few queries instead of one each (each is read once)."""
        for start in range(0, len(record_ids), 500):
            chunk = record_ids[start:start + 500]
            cursor = self.crm.db.execute_sql(
                f'SELECT * FROM "{self.meta.table}" WHERE id IN ({", ".join("?" * len(chunk))})', chunk)
            columns = [d[0] for d in cursor.description]
            found = {}
            for row in cursor.fetchall():
                record = dict(zip(columns, row))
                found[record["id"]] = None if record["deleted_at"] is not None else self._texts(record)
            for record_id in chunk:
                self.read_ahead[record_id] = found.get(record_id)

    def _texts(self, row: dict) -> dict[str, str]:
        from ..services.records import to_text

        out = {}
        for prop in PROPS:
            meta = self.meta.properties.get(prop)
            value = row.get(prop)
            out[prop] = "" if meta is None or value is None else (to_text(meta, value) or "")
        return out

    def same(self, prop: str, card_text: str, record_text: str) -> bool:
        """Do a card's value and the contact's mean the same (once the CRM has cleaned the card's)?"""
        if card_text == record_text:
            return True
        try:
            stored = self.crm.records.coerce(self.meta, {prop: card_text})[prop]
            mine = self.crm.records.coerce(self.meta, {prop: record_text})[prop]
        except CrmError:
            return False
        return stored == mine

    # -- the plan and its execution ------------------------------------------------------

    def run(self) -> VdirSyncResult:
        VdirCard = self.crm.models.VdirCard
        cards = self.scan()
        with self.crm.db.atomic(), contextlib.ExitStack() as stack:
            self.stack = stack
            state = {row.uid: row for row in VdirCard.select().where(VdirCard.folder == self.key)}
            self._apply(cards, state)
            if self.op is not None:
                self.result.operation = self.op.id
                Operation = self.crm.models.Operation
                Operation.update(summary=json.dumps(self.result.to_json())).where(Operation.id == self.op.id).execute()
        return self.result

    def _operation(self):
        """The sync's one operation, opened before its first change to a contact (a sync that
        changes no contact leaves no operation in the journal)."""
        if self.op is None:
            self.op = self.stack.enter_context(
                self.crm.operation("vdir_sync", sources.SYNC, self.actor, summary={"folder": self.key}))
        return self.op

    def _check_not_emptied(self, cards: dict[str, _Scanned], state: dict) -> None:
        """A folder that lost every card it had (an unmounted disk, a wrong path, a sync tool's
        mishap) is refused, as vdirsyncer refuses it: it would move every contact to the bin."""
        synced = [row for row in state.values() if not row.gone]
        if synced and not self.force_delete and not any(row.uid in cards for row in synced):
            raise InvalidValue(f"{self.folder}: none of the {len(synced)} card(s) synced last time is there any more; "
                               "nothing was changed (if they were all deleted on purpose, add --force-delete)")

    def _apply(self, cards: dict[str, _Scanned], state: dict) -> None:
        self._check_not_emptied(cards, state)
        self.taken = {row.record_id for row in state.values()}
        self.known_uids = set(state) | set(cards)
        self._read_ahead([row.record_id for row in state.values()])
        for uid, row in state.items():
            card = cards.get(uid)
            current = self.contact_values(row.record_id)
            if row.gone:
                self._was_gone(uid, row, card, current)
            elif card is None and current is None:
                self._gone(uid, row)  # gone on both sides
            elif card is None:
                self._card_deleted(uid, row, current)
            elif current is None:
                self._contact_deleted(uid, row, card)
            else:
                self._both(uid, row, card, current)
        for uid, card in cards.items():
            if uid not in state:
                self._new_card(uid, card, self.taken)
        self._new_contacts(self.taken)
        self._write_notes()
        self._write_files()
        self._write_state()

    # each case ----------------------------------------------------------------------------

    def _card_deleted(self, uid: str, row, values: dict[str, str]) -> None:
        before = json.loads(row.record_values or "{}")
        changed = {p for p in PROPS if values.get(p, "") != before.get(p, "")}
        if changed:  # the CRM wins: the card comes back (its unknown fields too), patched
            self.result.conflicts.append(
                f"{_name(values)}: card deleted in the folder but the contact changed in the CRM; card written again")
            text = patch_card(row.card_text, values, changed)
            self._write(row.filename, text)
            self.result.patched += 1
            self._keep(uid, row.filename, row.record_id, text, values)
            return
        self._operation()
        self.crm.records.delete("contacts", row.record_id, sources.SYNC, actor=self.actor)
        self.result.deleted += 1
        self._gone(uid, row)

    def _contact_deleted(self, uid: str, row, card: _Scanned) -> None:
        self.trash_moves.append(card.filename)
        self.result.trashed += 1
        self._gone(uid, row, card.text)

    def _gone(self, uid: str, row, text: str | None = None) -> None:
        """Kept, marked gone: a restore of the contact (or the card put back) finds this UID and card."""
        self.state_rows[uid] = {"filename": row.filename, "record_id": row.record_id, "text": text or row.card_text,
                                "values": json.loads(row.record_values or "{}"), "gone": True}

    def _was_gone(self, uid: str, row, card: _Scanned | None, values: dict[str, str] | None) -> None:
        """A card and contact the last sync left out: the contact restored in the CRM writes its card
        again (same UID, the card's other fields as they were); the card put back into the folder
        restores the contact from the recycle bin."""
        if card is None and values is None:
            return
        if card is None:  # restored in the CRM
            before = json.loads(row.card_values or "{}")
            changed = {p for p in PROPS if values.get(p, "") != before.get(p, "")}
            text = patch_card(row.card_text, values, changed)
            filename = row.filename
            if os.path.lexists(self.folder / filename):
                filename = _card_file_name(str(uuid.uuid4()))
            self._write(filename, text)
            self.result.written += 1
            self._keep(uid, filename, row.record_id, text, values)
            return
        if values is None:  # the card is back: so is its contact, if the recycle bin still has it
            self._operation()
            try:
                self.crm.records.restore("contacts", row.record_id, sources.SYNC, actor=self.actor)
            except CrmError:
                self._new_card(uid, card, self.taken)
                return
            self.result.restored += 1
            values = self.contact_values(row.record_id) or {}
            record_before = json.loads(row.record_values or "{}")
            self._merge(uid, row.record_id, card, values,
                        {p for p in PROPS if values.get(p, "") != record_before.get(p, "")},
                        {p for p in PROPS if card.values.get(p, "") != json.loads(row.card_values or "{}").get(p, "")})
            return
        self._both(uid, row, card, values)  # both back

    def _both(self, uid: str, row, card: _Scanned, values: dict[str, str]) -> None:
        record_before = json.loads(row.record_values or "{}")
        card_before = json.loads(row.card_values or "{}")
        record_changed = {p for p in PROPS if values.get(p, "") != record_before.get(p, "")}
        card_changed = set()
        if card.hash != row.card_hash:
            card_changed = {p for p in PROPS if card.values.get(p, "") != card_before.get(p, "")}
        if not record_changed and not card_changed and card.hash == row.card_hash and row.filename == card.filename:
            return  # nothing happened on either side
        self._merge(uid, row.record_id, card, values, record_changed, card_changed)

    def _merge(self, uid: str, record_id: int, card: _Scanned, values: dict[str, str], record_changed: set[str],
               card_changed: set[str]) -> None:
        """Carry each side's changed fields to the other; the CRM wins a field both changed."""
        to_crm, conflicts = {}, []
        for prop in sorted(card_changed):
            mine, theirs = values.get(prop, ""), card.values.get(prop, "")
            if self.same(prop, theirs, mine):
                continue
            if prop in record_changed:
                conflicts.append(prop)
            else:
                to_crm[prop] = theirs
        name = _name(values) if any(values.values()) else _name(card.values)
        for prop in conflicts:
            label = self.meta.properties[prop].label if prop in self.meta.properties else prop
            theirs = card.values.get(prop, "")
            self.result.conflicts.append(f"{name}: {label} (the card had {clean_line(theirs)[:60]!r})")
            self.notes.append((record_id, f"vdir sync {self.key}: both sides changed {label}; the CRM's value "
                                          f"{values.get(prop, '')!r} was kept. The card {card.filename} had: {theirs}"))
        if to_crm and self._update(record_id, to_crm, name):
            self.result.updated += 1
            values = self.contact_values(record_id) or values
        to_card = {p for p in PROPS if (p in record_changed or p in conflicts)
                   and not self.same(p, card.values.get(p, ""), values.get(p, ""))}
        text = card.text
        if to_card:
            text = patch_card(card.text, values, to_card)
            self.result.patched += 1
        elif text != card.data.decode("utf-8", "surrogateescape"):
            self.result.patched += 1  # the UID it lacked
        if text != card.data.decode("utf-8", "surrogateescape"):
            self._write(card.filename, text)
        self._keep(uid, card.filename, record_id, text, values)

    def _update(self, record_id: int, to_crm: dict[str, str], name: str) -> list[str]:
        """Write the card's values on the contact; a value the CRM refuses is left out and reported."""
        good = {}
        for prop, value in to_crm.items():
            try:
                self.crm.records.coerce(self.meta, {prop: value})
                good[prop] = value
            except CrmError as exc:
                self.result.problems.append(f"{name}: {clean_line(str(exc))}; kept the CRM's value")
        if not good:
            return []
        self._operation()
        try:
            self.crm.records.update("contacts", record_id, good, sources.SYNC, actor=self.actor)
            return list(good)
        except CrmError:
            applied = []
            for prop, value in good.items():
                try:
                    self.crm.records.update("contacts", record_id, {prop: value}, sources.SYNC, actor=self.actor)
                    applied.append(prop)
                except CrmError as exc:
                    self.result.problems.append(f"{name}: {clean_line(str(exc))}; kept the CRM's value")
            return applied

    def _new_card(self, uid: str, card: _Scanned, taken: set[int]) -> None:
        email = card.values.get("email", "")
        existing = None
        if email:
            try:
                existing = self.crm.records.find_existing("contacts", {"email": email})
            except CrmError:
                existing = None
        if existing is not None and existing in taken:
            self.result.problems.append(f"{clean_line(card.filename)}: its email {clean_line(email)} belongs to contact "
                                        f"{existing}, which another card of this folder stands for; skipped")
            return
        if existing is not None:  # a folder's first sync into a CRM that has the person: joined, merged
            taken.add(existing)
            values = self.contact_values(existing) or {}
            self.result.joined += 1
            self._operation()
            self._merge(uid, existing, card, values, {p for p in PROPS if values.get(p)},
                        {p for p in PROPS if card.values.get(p)})
            return
        good = {}
        for prop, value in card.values.items():
            if not value:
                continue
            try:
                self.crm.records.coerce(self.meta, {prop: value})
                good[prop] = value
            except CrmError as exc:
                self.result.problems.append(f"{clean_line(card.filename)}: {clean_line(str(exc))}; left out")
        self._operation()
        try:
            created = self.crm.records.create("contacts", good, sources.SYNC, actor=self.actor, dedupe=False)
        except CrmError as exc:
            self.result.problems.append(f"{clean_line(card.filename)}: {clean_line(str(exc))}; skipped")
            return
        taken.add(created.id)
        self.result.created += 1
        if card.text != card.data.decode("utf-8", "surrogateescape"):
            self._write(card.filename, card.text)  # the UID it lacked
            self.result.patched += 1
        self._keep(uid, card.filename, created.id, card.text, self.contact_values(created.id) or {})

    def _new_contacts(self, taken: set[int]) -> None:
        VdirCard = self.crm.models.VdirCard
        # a contact synced with another folder keeps its UID here too
        elsewhere: dict[int, str] = {}
        for record_id, uid in (VdirCard.select(VdirCard.record_id, VdirCard.uid).where(VdirCard.folder != self.key)
                               .order_by(VdirCard.id.desc()).tuples()):
            elsewhere[record_id] = uid
        rows = self.crm.db.execute_sql(f'SELECT * FROM "{self.meta.table}" WHERE deleted_at IS NULL ORDER BY id')
        columns = [d[0] for d in rows.description]
        used = {name.lower() for name in os.listdir(self.folder)}
        for row in rows.fetchall():
            record = dict(zip(columns, row))
            if record["id"] in taken:
                continue
            values = self._texts(record)
            if not any(values.values()):
                continue  # nothing a card could hold
            uid = elsewhere.get(record["id"]) or str(uuid.uuid4())
            filename = _card_file_name(uid)
            while filename.lower() in used or uid in self.known_uids:
                uid = str(uuid.uuid4())
                filename = _card_file_name(uid)
            used.add(filename.lower())
            self.known_uids.add(uid)
            text = new_card(uid, values)
            self._write(filename, text)
            self.result.written += 1
            self._keep(uid, filename, record["id"], text, values)

    # -- writing -----------------------------------------------------------------------------

    def _write(self, filename: str, text: str) -> None:
        self.file_writes.append((filename, text))

    def _keep(self, uid: str, filename: str, record_id: int, text: str, values: dict[str, str]) -> None:
        self.state_rows[uid] = {"filename": filename, "record_id": record_id, "text": text, "values": values}

    def _write_notes(self) -> None:
        if self.notes:
            self._operation()
        for record_id, body in self.notes:
            self.crm.activities.log(("contacts", record_id), "notes", {"hs_note_body": body},
                                    source=sources.SYNC, actor=self.actor)

    def _write_state(self) -> None:
        VdirCard = self.crm.models.VdirCard
        now = now_iso()
        rows = {uid: new for uid, new in self.state_rows.items()
                # a card another program wrote meanwhile keeps its last-synced state: the next sync
                # compares the new card with it
                if new is None or new["filename"] not in self.changed_meanwhile}
        uids = list(rows)
        record_ids = [new["record_id"] for new in rows.values() if new is not None]
        for start in range(0, max(len(uids), len(record_ids)), 500):
            if uids[start:start + 500]:
                VdirCard.delete().where((VdirCard.folder == self.key) & VdirCard.uid.in_(uids[start:start + 500])).execute()
            if record_ids[start:start + 500]:
                VdirCard.delete().where((VdirCard.folder == self.key)
                                        & VdirCard.record_id.in_(record_ids[start:start + 500])).execute()
        new_rows = []
        for uid, new in rows.items():
            if new is None:
                continue
            data = new["text"].encode("utf-8", "surrogateescape")
            new_rows.append({
                "folder": self.key, "uid": uid, "filename": new["filename"], "record_id": new["record_id"],
                "card_hash": hashlib.sha256(data).hexdigest(), "card_text": new["text"],
                "card_values": json.dumps(card_values(new["text"]) or {}, sort_keys=True),
                "record_values": json.dumps(new["values"], sort_keys=True), "gone": bool(new.get("gone")),
                "synced_at": now})
        for start in range(0, len(new_rows), 200):
            VdirCard.insert_many(new_rows[start:start + 200]).execute()

    def _write_files(self) -> None:
        # Cards are written beside the folder's other files and moved into place: never into an
        # existing file (a hard link to the database is replaced, not written through). Only a
        # database kept in the vdir folder itself could be named as a card: then it is protected.
        protect = []
        if isinstance(self.crm.path, Path) and self.crm.path.expanduser().resolve().parent == self.folder:
            protect = [self.crm.path]
        latest = dict(self.file_writes)  # a file patched twice: its last text
        for filename, text in latest.items():
            target = self.folder / filename
            if target.is_symlink():
                raise InvalidValue(f"{target}: a symbolic link; not written through (remove it and sync again)")
            if self._changed_meanwhile(filename):
                continue
            with safe_files.writing(target, protect=protect, overwrite=True, binary=True, what="card") as w:
                w.stream.write(text.encode("utf-8", "surrogateescape"))
        if self.trash_moves:
            trash = self.folder / TRASH
            if trash.is_symlink():
                raise InvalidValue(f"{trash}: a symbolic link; cards are not moved through it (remove it and sync again)")
            safe_files.check_folder(trash, what="trash folder")
            for filename in self.trash_moves:
                if self._changed_meanwhile(filename):
                    continue
                target = trash / filename
                n = 1
                while target.exists() or target.is_symlink():
                    n += 1
                    target = trash / f"{Path(filename).stem}.{n}.vcf"
                os.replace(self.folder / filename, target)


    def _changed_meanwhile(self, filename: str) -> bool:
        """Did another program (khard, vdirsyncer) write this card since the scan read it? Then it
        is left alone and reported; the next sync takes the new card into account."""
        path = self.folder / filename
        try:
            current = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
        except OSError:
            current = None
        if current == self.scanned_hash.get(filename):
            return False
        self.changed_meanwhile.add(filename)
        self.result.problems.append(f"{clean_line(filename)}: changed by another program during the sync; "
                                    "left as it is (sync again)")
        return True


def _name(values: dict[str, str]) -> str:
    full = " ".join(p for p in (values.get("firstname", ""), values.get("lastname", "")) if p)
    return clean_line(full or values.get("email", "") or values.get("company", "") or values.get("phone", "") or "a contact")


def sync_vdir(crm, folder: str | os.PathLike, *, force_delete: bool = False) -> VdirSyncResult:
    """Sync the contacts with a vdir folder (created when missing); the summary as plain values.
    A folder that lost every card synced before is refused unless `force_delete`."""
    return _Sync(crm, folder, force_delete=force_delete).run()
