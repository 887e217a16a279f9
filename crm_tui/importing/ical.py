"""Calendars: iCalendar events logged as meetings, and meetings written back as an .ics file.

    import_calendar(crm, "~/.calendars/work")          # a khal/vdirsyncer folder, or one .ics file
    export_meetings(crm, "meetings.ics")

- Parsing is the `icalendar` package's (RFC 5545: line folding, escaping, TZID with its VTIMEZONE
  or a known zone name, UTC, floating times, all-day dates, DURATION).
- An event is a meeting on every contact whose email (primary or additional) is among its
  attendees and organiser; your own addresses (config `my_addresses`, `--me`) are never contacts.
  It is logged once per UID (the meeting keeps the UID): importing again changes nothing; a newer
  version (higher SEQUENCE, later LAST-MODIFIED, or other values at the same version) updates the
  meeting in one operation; an older version is left out. STATUS:CANCELLED marks the meeting
  Canceled and deletes nothing.
- A repeating event (RRULE) is logged once, at its first occurrence, with its rule kept in
  "Repeats (RRULE)"; occurrences changed one by one (RECURRENCE-ID) are not logged separately.
- Times are stored in UTC; a floating time (no zone) is read in this computer's time zone.
- Hostile input: files over MAX_FILE_BYTES, symlinks (never followed), unreadable or broken
  files are left out and listed, one line each; control sequences in text are stripped.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from ..domain import sources
from ..domain.errors import CrmError, DatabaseProblem, InvalidValue
from ..domain.sanitize import clean_line, clean_text
from ..domain.types import format_datetime
from ..services.paging import ViewSpec, searched_as_filter
from ..storage import safe_files

MAX_FILE_BYTES = 50 * 1024 * 1024  # a calendar file larger than this is refused (one line), not read
BATCH = 100  # events per transaction
MAX_LINE_PROBLEMS = 5  # unreadable lines listed per event
MAX_TEXT = 100_000  # characters kept of a description
NO_TITLE = "(no title)"
_MADE_UID = re.compile(r"crm-tui-([0-9]{1,18})-[0-9]*@crm-tui")
OUTCOME = "X-CRM-TUI-OUTCOME"
OUTCOMES = ("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED")
PRODID = "-//crm-tui//crm-tui calendar export//EN"
MEETING_FIELDS = ("hs_meeting_title", "hs_meeting_body", "hs_meeting_location", "hs_timestamp",
                  "hs_meeting_start_time", "hs_meeting_end_time", "hs_meeting_all_day",
                  "hs_meeting_recurrence", "hs_meeting_sequence", "hs_meeting_last_modified")


@dataclass
class Event:
    uid: str
    title: str
    body: str | None
    location: str | None
    start: str | None  # stored form (ISO UTC)
    end: str | None
    all_day: bool
    recurrence: str | None
    sequence: int | None
    last_modified: str | None
    cancelled: bool
    people: list[tuple[str, str]]  # (email, name) of attendees and organiser, organiser first
    file: str
    uid_made: bool = False  # the event had no UID: one was made from its contents
    outcome: str | None = None  # X-CRM-TUI-OUTCOME: the meeting's outcome, as this CRM exported it


@dataclass
class CalendarImportResult:
    path: str
    files: int = 0
    events: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    older: int = 0  # an older version of an event already logged: left out
    no_contact: int = 0  # no attendee is a contact (without --create)
    contacts_created: int = 0
    repeating: int = 0  # logged once, at their first occurrence
    overrides: int = 0  # single changed occurrences of a repeating event (RECURRENCE-ID): not logged
    cancelled: int = 0
    meetings: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # files and events left out, one line each

    def counts(self) -> dict:
        return {k: getattr(self, k) for k in ("files", "events", "new", "updated", "unchanged", "older",
                                               "no_contact", "contacts_created", "repeating", "overrides",
                                               "cancelled")}

    def summary_lines(self) -> list[str]:
        lines = [f"{self.path}: {_n(self.events, 'event')} in {_n(self.files, 'file')}: {self.new} new, "
                 f"{self.updated} updated" + (f", {self.unchanged} unchanged" if self.unchanged else "")]
        if self.no_contact:
            lines.append(f"{_n(self.no_contact, 'event')} left out: no attendee is a contact "
                         "(--create adds them)")
        if self.contacts_created:
            lines.append(f"{_n(self.contacts_created, 'contact')} created from attendees")
        if self.older:
            lines.append(f"{_n(self.older, 'event')} left out: an older version of a meeting already logged")
        if self.repeating:
            lines.append(f"{_n(self.repeating, 'repeating event')}: each logged once, at its first occurrence "
                         "(its rule kept in Repeats), not expanded")
        if self.overrides:
            lines.append(f"{_n(self.overrides, 'changed occurrence')} of repeating events not logged separately")
        if self.cancelled:
            lines.append(f"{_n(self.cancelled, 'cancelled event')} marked Canceled (not deleted)")
        lines += [f"left out: {p}" for p in self.problems]
        return lines


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


# -- reading ------------------------------------------------------------------------------------

def calendar_files(path: str | os.PathLike) -> tuple[list[Path], list[str]]:
    """The .ics files a path names: the file itself, or a folder's .ics files and those of its
    sub-folders one level down (a vdirsyncer folder of calendars). Symlinks are never followed."""
    root = Path(os.path.expanduser(os.fspath(path)))
    problems: list[str] = []
    if root.is_symlink() and not root.is_dir():
        raise InvalidValue(f"{root}: a symlink; name the calendar file itself")
    if not root.exists():
        raise InvalidValue(f"{root}: no such file or folder")
    if root.is_file():
        return [root], problems
    if not root.is_dir():
        raise InvalidValue(f"{root}: not a file or folder")
    files: list[Path] = []

    def scan(folder: Path, depth: int) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            problems.append(f"{folder}: cannot read the folder ({exc.strerror or exc})")
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            where = Path(entry.path)
            if entry.is_symlink():
                problems.append(f"{where}: a symlink (not followed)")
            elif entry.is_dir(follow_symlinks=False):
                if depth == 0:
                    scan(where, 1)
            elif entry.is_file(follow_symlinks=False) and entry.name.lower().endswith(".ics"):
                files.append(where)

    scan(root, 0)
    return files, problems


def _read(file: Path, max_bytes: int) -> bytes:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(file, flags)
    too_big = InvalidValue(f"larger than {max_bytes // (1024 * 1024) or max_bytes} "
                           f"{'MiB' if max_bytes >= 1024 * 1024 else 'bytes'}; not read")
    with os.fdopen(fd, "rb") as stream:
        status = os.fstat(stream.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise InvalidValue("not a regular file")
        if status.st_size > max_bytes:
            raise too_big
        data = stream.read(max_bytes + 1)  # a file growing meanwhile is still cut off here
    if len(data) > max_bytes:
        raise too_big
    return data


def read_events(file: Path, *, max_bytes: int = MAX_FILE_BYTES) -> tuple[list[Event], int, int, list[str]]:
    """(events, repeating, overrides, problems) of one .ics file."""
    import icalendar  # lazy: only the calendar commands need it

    try:
        data = _read(file, max_bytes)
    except InvalidValue as exc:
        return [], 0, 0, [f"{file}: {exc}"]
    except OSError as exc:
        return [], 0, 0, [f"{file}: cannot read it ({exc.strerror or exc})"]
    if b"BEGIN:VCALENDAR" not in data[:4096].upper() and b"BEGIN:VCALENDAR" not in data.upper():
        return [], 0, 0, [f"{file}: not an iCalendar file (no BEGIN:VCALENDAR)"]
    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception as exc:  # the parser's errors are ValueError, KeyError, IndexError...
        return [], 0, 0, [f"{file}: not a valid iCalendar file ({clean_line(str(exc))[:200]})"]
    if not calendars:
        return [], 0, 0, [f"{file}: not a valid iCalendar file (no complete VCALENDAR in it)"]
    events, problems = [], []
    repeating = overrides = 0
    for calendar in calendars:
        for component in calendar.walk("VEVENT"):
            if component.get("recurrence-id") is not None:
                overrides += 1
                continue
            try:
                event = _event(component, file)
            except Exception as exc:  # one broken event is left out, not the file
                uid = clean_line(str(component.get("uid", "")))[:80]
                problems.append(f"{file}: event {uid or '(no UID)'}: {clean_line(str(exc))[:200]}")
                continue
            repeating += event.recurrence is not None
            events.append(event)
            for prop, why in getattr(component, "errors", ())[:MAX_LINE_PROBLEMS]:
                # the parser skipped a line it could not read; the rest of the event came in
                problems.append(f"{file}: event {event.uid[:80]}: {prop or 'a line'} not read "
                                f"({clean_line(str(why))[:200]})")
    return events, repeating, overrides, problems


def _moment(value) -> tuple[str | None, bool]:
    """A DTSTART/DTEND value -> (stored UTC form, all day)."""
    if value is None:
        return None, False
    if isinstance(value, datetime):
        if value.tzinfo is None:  # floating: this computer's time zone
            value = value.astimezone()
        return format_datetime(value), False
    if isinstance(value, date):
        return format_datetime(datetime(value.year, value.month, value.day, tzinfo=timezone.utc)), True
    raise InvalidValue(f"{value!r} is not a date or date-time")


def _text(component, name: str, *, multiline: bool = False) -> str | None:
    value = component.get(name)
    if value is None:
        return None
    if isinstance(value, list):
        value = value[0]
    text = (clean_text if multiline else clean_line)(str(value))[:MAX_TEXT].strip()
    return text or None


def _address(value) -> tuple[str, str] | None:
    text = str(value).strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    text = clean_line(text).strip().lower()
    if "@" not in text or " " in text or len(text) > 254:
        return None
    name = clean_line(str(getattr(value, "params", {}).get("CN", "") or "")).strip().strip('"')
    return text, name


def _event(component, file: Path) -> Event:
    start_value = component.decoded("dtstart") if component.get("dtstart") is not None else None
    if start_value is None:
        raise InvalidValue("no DTSTART")
    start, all_day = _moment(start_value)
    try:
        end_value = component.end
    except Exception:  # no DTEND or DURATION that the library can use
        end_value = None
    end, _ = _moment(end_value) if end_value is not None else (None, False)
    people: list[tuple[str, str]] = []
    organizer = component.get("organizer")
    attendees = component.get("attendee") or []
    if not isinstance(attendees, list):
        attendees = [attendees]
    for value in ([organizer] if organizer is not None else []) + attendees:
        found = _address(value)
        if found and found[0] not in {e for e, _ in people}:
            people.append(found)
    title = _text(component, "summary") or NO_TITLE
    uid = _text(component, "uid")
    made = uid is None
    if made:  # RFC 5545 requires a UID; one made from the contents finds the same event next time
        uid = "crm-tui-" + hashlib.sha256(f"{title}\n{start}".encode()).hexdigest()[:32]
    rrule = component.get("rrule")
    if isinstance(rrule, list):
        rrule = rrule[0]
    recurrence = clean_line(rrule.to_ical().decode("utf-8", "replace")) if rrule is not None else None
    sequence = component.get("sequence")
    try:
        sequence = int(sequence) if sequence is not None else None
    except (TypeError, ValueError):
        sequence = None
    last_modified = None
    if component.get("last-modified") is not None:
        try:
            last_modified, _ = _moment(component.decoded("last-modified"))
        except Exception:
            last_modified = None
    status = str(component.get("status") or "").strip().upper()
    outcome = str(component.get(OUTCOME) or "").strip().upper()
    return Event(uid[:1000], title[:1000], _text(component, "description", multiline=True),
                 _text(component, "location"), start, end, all_day, recurrence or None, sequence,
                 last_modified, status == "CANCELLED", people, str(file), made,
                 outcome if outcome in OUTCOMES else None)


# -- writing meetings -----------------------------------------------------------------------------

class _Contacts:
    """Contacts by email (primary or additional), looked up once per address per import."""

    def __init__(self, crm):
        self.crm = crm
        self.meta = crm.registry.get("contacts")
        self.cache: dict[str, int | None] = {}

    def find(self, email: str) -> int | None:
        if email in self.cache:
            return self.cache[email]
        model = self.meta.model
        found = model.select(model.id).where((model.email == email) & model.deleted_at.is_null(True)).scalar()
        if found is None and "hs_additional_emails" in self.meta.properties:
            # additional emails are in the full-text index: narrow by it, then compare whole addresses
            ids = self.crm.search.ids("contacts", email, limit=200)
            if ids:
                rows = (model.select(model.id, model.hs_additional_emails)
                        .where(model.id.in_(ids) & model.deleted_at.is_null(True)).order_by(model.id).tuples())
                for rid, extra in rows:
                    if email in {e.strip().lower() for e in str(extra or "").split(";")}:
                        found = rid
                        break
        self.cache[email] = found
        return found


def _values(event: Event) -> dict:
    return {"hs_meeting_title": event.title, "hs_meeting_body": event.body, "hs_meeting_location": event.location,
            "hs_timestamp": event.start, "hs_meeting_start_time": event.start, "hs_meeting_end_time": event.end,
            "hs_meeting_all_day": 1 if event.all_day else None, "hs_meeting_recurrence": event.recurrence,
            "hs_meeting_sequence": float(event.sequence) if event.sequence is not None else None,
            "hs_meeting_last_modified": event.last_modified}


def _digest(event: Event, people: list[tuple[str, str]]) -> str:
    """What the event said when it was imported: a new import of the same event changes nothing,
    even where the meeting was edited in the CRM since; a changed event updates it."""
    said = {**_values(event), "people": sorted(email for email, _name in people), "cancelled": event.cancelled,
            "outcome": event.outcome}
    return hashlib.sha256(json.dumps(said, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _is_older(event: Event, row: dict) -> bool:
    """The event is an older version than the one the meeting was logged from."""
    kept_seq = row.get("hs_meeting_sequence")
    if event.sequence is not None and kept_seq is not None and event.sequence != int(kept_seq):
        return event.sequence < int(kept_seq)
    kept_mod = row.get("hs_meeting_last_modified")
    return bool(event.last_modified and kept_mod and event.last_modified < kept_mod)


def _split_name(name: str) -> tuple[str | None, str | None]:
    parts = name.split()
    if not parts:
        return None, None
    if len(parts) == 1:
        return parts[0], None
    return " ".join(parts[:-1]), parts[-1]


def import_calendar(crm, path: str | os.PathLike, *, create: bool = False, own_addresses=None,
                    max_bytes: int = MAX_FILE_BYTES, progress=None) -> CalendarImportResult:
    """Log a calendar file's or folder's events as meetings (see the module's docstring)."""
    files, problems = calendar_files(path)
    name = os.path.basename(os.path.normpath(os.fspath(path))) or os.fspath(path)
    actor = clean_line(f"calendar import {name}")[:200]
    result = CalendarImportResult(os.fspath(path), files=len(files), problems=problems)
    own = {a.lower() for a in (own_addresses or ())}
    meetings = crm.registry.get("meetings")
    if "hs_meeting_uid" not in meetings.properties:
        raise InvalidValue("meetings have no Calendar UID property (hs_meeting_uid); open the database with this "
                           "version of crm-tui to upgrade it")
    contacts = _Contacts(crm)
    seen: dict[str, Event] = {}
    for index, file in enumerate(files, 1):
        events, repeating, overrides, trouble = read_events(file, max_bytes=max_bytes)
        result.problems += trouble
        result.repeating += repeating
        result.overrides += overrides
        for event in events:
            previous = seen.get(event.uid)
            if previous is not None and not _newer(event, previous):
                continue  # the same UID twice in one import: the newest version counts
            seen[event.uid] = event
        if progress is not None:
            progress(index, len(files))
    result.events = len(seen)
    events = list(seen.values())
    for first in range(0, len(events), BATCH):
        # each event is its own operation (undone on its own), committed BATCH at a time: one
        # commit per event cost a third of the time. An event the core refuses (a limit, a bad
        # address with --create) rolls back alone and is listed.
        with crm.db.atomic():
            for event in events[first:first + BATCH]:
                counted = result.counts()
                try:
                    with crm.db.atomic():
                        _import_event(crm, event, result, contacts, meetings, own, create, actor)
                except DatabaseProblem:
                    raise
                except CrmError as exc:
                    for key, value in counted.items():
                        setattr(result, key, value)
                    contacts.cache.clear()  # a contact made in the rolled-back part is gone again
                    result.problems.append(f"{event.file}: event {event.uid[:80]}: {clean_line(str(exc))}")
    return result


def _newer(event: Event, than: Event) -> bool:
    return ((event.sequence or 0), event.last_modified or "") > ((than.sequence or 0), than.last_modified or "")


def _import_event(crm, event: Event, result: CalendarImportResult, contacts: _Contacts, meetings, own: set,
                  create: bool, actor: str) -> None:
    model = meetings.model
    existing = (model.select(model.id).where((model.hs_meeting_uid == event.uid) & model.deleted_at.is_null(True))
                .order_by(model.id).limit(1).scalar()) or _adopted(model, event.uid)
    people = [(email, name) for email, name in event.people if email not in own]
    found = [(email, name, contacts.find(email)) for email, name in people]
    values = _values(event)
    values["hs_meeting_calendar_digest"] = _digest(event, people)
    row = crm.records._row(meetings, existing) if existing is not None else None
    # the event as it was last imported: edits made in the CRM since then stay (only attendees who
    # have become contacts since, or --create, are linked)
    same = row is not None and row.get("hs_meeting_calendar_digest") == values["hs_meeting_calendar_digest"]
    if row is not None and not same and _is_older(event, row):
        result.older += 1
        return
    if create:
        for i, (email, name, rid) in enumerate(found):
            if rid is None:
                first, last = _split_name(name)
                try:
                    made = crm.records.create("contacts", {"email": email, "firstname": first, "lastname": last},
                                              sources.IMPORT, actor=actor)
                except InvalidValue as exc:
                    result.problems.append(f"{event.file}: attendee {email}: {exc}")
                    continue
                contacts.cache[email] = made.id
                found[i] = (email, name, made.id)
                result.contacts_created += 1
    if row is not None:
        if not row.get("hs_meeting_uid"):
            values["hs_meeting_uid"] = event.uid
        _update_meeting(crm, meetings, existing, row, event, {} if same else values, found, result, actor)
        return
    targets = list(dict.fromkeys(("contacts", rid) for _e, _n, rid in found if rid is not None))
    if not targets:
        result.no_contact += 1
        return
    values["hs_meeting_uid"] = event.uid
    values["hs_meeting_outcome"] = "CANCELED" if event.cancelled else (event.outcome or "SCHEDULED")
    logged = crm.activities.log(targets[0], "meetings", {k: v for k, v in values.items() if v is not None},
                                source=sources.IMPORT, actor=actor, also=targets[1:])
    result.new += 1
    result.cancelled += event.cancelled
    result.meetings.append(logged.id)


def _update_meeting(crm, meetings, meeting_id: int, row: dict, event: Event, values: dict, found, result, actor) -> None:
    if not values:  # the event is unchanged: nothing to write but links
        pass
    elif event.cancelled:
        values["hs_meeting_outcome"] = "CANCELED"
    elif event.outcome:
        values["hs_meeting_outcome"] = event.outcome
    elif row.get("hs_meeting_outcome") == "CANCELED":
        values["hs_meeting_outcome"] = "SCHEDULED"  # the event takes place again
    clean = crm.records.coerce(meetings, values)
    changes = {k: v for k, v in clean.items() if row.get(k) != v}
    linked = set(crm.assoc.linked_ids(("meetings", meeting_id), "contacts"))
    new_links = list(dict.fromkeys(rid for _e, _n, rid in found if rid is not None and rid not in linked))
    if not changes and not new_links:
        result.unchanged += 1
        return
    with crm.operation("update", sources.IMPORT, actor, object="meetings", record_id=meeting_id) as op:
        if changes:
            crm.records._update(meetings, meeting_id, changes, sources.IMPORT, actor)
        for rid in new_links:
            crm.assoc._add(op, ("contacts", rid), ("meetings", meeting_id))
    result.updated += 1
    result.cancelled += bool(event.cancelled and row.get("hs_meeting_outcome") != "CANCELED")
    result.meetings.append(meeting_id)


# -- export ---------------------------------------------------------------------------------------

@dataclass
class IcsExportResult:
    path: str
    rows: int
    format: str = "ics"
    columns: list[str] = field(default_factory=list)
    cancelled: bool = False


def _ics_text(value, multiline: bool = False) -> str:
    return (clean_text if multiline else clean_line)(str(value))


def _as_datetime(stored: str) -> datetime:
    return datetime.fromisoformat(str(stored).replace("Z", "+00:00")).astimezone(timezone.utc)


def made_uid(row: dict) -> str:
    """The UID of a meeting logged by hand (no calendar UID): its id and create time, so it names
    this meeting and no other database's meeting of the same id."""
    stamp = "".join(ch for ch in str(row.get("createdate") or "") if ch.isdigit())
    return f"crm-tui-{row['id']}-{stamp}@crm-tui"


def _adopted(model, uid: str) -> int | None:
    """A meeting logged by hand whose export made this UID (made_uid): it is the event's meeting."""
    match = _MADE_UID.fullmatch(uid)
    if not match:
        return None
    row = (model.select(model.id, model.createdate, model.hs_meeting_uid)
           .where((model.id == int(match.group(1))) & model.deleted_at.is_null(True)).dicts().first())
    if row and not row["hs_meeting_uid"] and made_uid(row) == uid:
        return row["id"]
    return None


def meeting_event(row: dict, emails: list[tuple[str, str]], organizer: str | None):
    """One meeting row -> an icalendar Event (text escaped and folded by the library)."""
    import icalendar
    from icalendar import vCalAddress

    event = icalendar.Event()
    uid = row.get("hs_meeting_uid") or made_uid(row)
    event.add("uid", _ics_text(uid))
    event.add("summary", _ics_text(row.get("hs_meeting_title") or NO_TITLE))
    start = row.get("hs_meeting_start_time") or row.get("hs_timestamp")
    end = row.get("hs_meeting_end_time")
    all_day = bool(row.get("hs_meeting_all_day"))
    if start:
        first = _as_datetime(start)
        event.add("dtstart", first.date() if all_day else first)
        if end:
            last = _as_datetime(end)
            if all_day:
                event.add("dtend", max(last.date(), first.date() + timedelta(days=1)))
            elif last >= first:
                event.add("dtend", last)
    event.add("dtstamp", datetime.now(timezone.utc).replace(microsecond=0))
    if row.get("hs_meeting_body"):
        event.add("description", _ics_text(row["hs_meeting_body"], multiline=True))
    if row.get("hs_meeting_location"):
        event.add("location", _ics_text(row["hs_meeting_location"]))
    if row.get("hs_meeting_sequence") is not None:
        event.add("sequence", int(row["hs_meeting_sequence"]))
    if row.get("hs_meeting_last_modified"):
        event.add("last-modified", _as_datetime(row["hs_meeting_last_modified"]).replace(microsecond=0))
    if row.get("hs_meeting_recurrence"):
        try:
            event.add("rrule", icalendar.vRecur.from_ical(_ics_text(row["hs_meeting_recurrence"])))
        except Exception:  # a rule edited into something unreadable is left out, not written broken
            pass
    outcome = row.get("hs_meeting_outcome")
    if outcome == "CANCELED":
        event.add("status", "CANCELLED")
    elif outcome:
        event.add("status", "CONFIRMED")
    if outcome in OUTCOMES:  # Completed, No show...: calendars have no word for them; this CRM reads it back
        event.add(OUTCOME, outcome)
    if organizer:
        event.add("organizer", vCalAddress(f"mailto:{organizer}"))
    for email, name in emails:
        address = vCalAddress(f"mailto:{email}")
        if name:
            address.params["cn"] = _ics_text(name)
        event.add("attendee", address, encode=0)
    return event


def export_meetings(crm, path: str | os.PathLike, *, spec=None, overwrite: bool = False,
                    organizer: str | None = None, progress=None, cancel=None) -> IcsExportResult:
    """Write the meetings of a view (a ViewSpec of exporter.resolve_view; default: all) as one
    .ics file, their attendees the linked contacts' emails. Written to a temporary file and
    renamed: never half a file under the name."""
    import icalendar

    meta = crm.registry.get("meetings")
    contacts = crm.registry.get("contacts")
    spec = searched_as_filter(crm, spec if spec is not None else ViewSpec(meta.name, [], [], []))
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    head, tail = calendar.to_ical().split(b"END:VCALENDAR")
    filters = list(spec.filters)
    total = crm.records.count(meta.name, filters, deleted=spec.deleted)
    rows = 0
    after = None
    cancelled = False
    with safe_files.writing(path, protect=[crm.path], overwrite=overwrite, what="export file", binary=True) as out:
        out.stream.write(head)  # event by event, page by page: memory stays flat
        while True:
            if cancel is not None and cancel.is_set():
                cancelled = True
                out.discard()
                break
            page = crm.records.list(meta.name, filters, list(spec.sort), limit=1000, after=after,
                                    deleted=spec.deleted)
            people = _linked_people(crm, contacts, [r["id"] for r in page.rows])
            for row in page.rows:
                out.stream.write(meeting_event(row, people.get(row["id"], []), organizer).to_ical())
                rows += 1
            if progress is not None:
                progress(rows, total)
            if page.next_after is None:
                break
            after = page.next_after
        out.stream.write(b"END:VCALENDAR" + tail)
    return IcsExportResult(os.fspath(path), rows, columns=["VEVENT"], cancelled=cancelled)


def _linked_people(crm, contacts, meeting_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """Meeting id -> (email, name) of its linked live contacts, in one query per page."""
    if not meeting_ids:
        return {}
    Association = crm.models.Association
    meetings = crm.registry.get("meetings")
    model = contacts.model
    rows = (Association.select(Association.from_id, model.email, model.firstname, model.lastname)
            .join(model, on=(model.id == Association.to_id))
            .where((Association.from_object == meetings.id) & Association.from_id.in_(meeting_ids)
                   & (Association.to_object == contacts.id) & model.deleted_at.is_null(True)
                   & model.email.is_null(False))
            .order_by(Association.from_id, model.id).tuples())
    out: dict[int, list[tuple[str, str]]] = {}
    for meeting_id, email, first, last in rows:
        name = " ".join(p for p in (first, last) if p)
        out.setdefault(meeting_id, []).append((email, name))
    return out
