"""What an import is: its columns, its spec, its progress and its result (plain values)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from ..domain.errors import CrmError

LOCAL = "local"  # Record IDs in the file are this CRM's own IDs
LINK_PREFIX = "@link:"  # "@link:companies:name": the cell names a record of companies by its name
NEW_PREFIX = "@new:"  # "@new:connected_on:date": a custom property made for the column when the import runs
SKIP = None
ERROR_HEADERS = ["Line", "Column", "Value", "Problem", "Result"]
ROW_SKIPPED = "row not imported"
CELL_SKIPPED = "value not imported"  # the cell is left out, the row's other values go in
NOT_LINKED = "imported, not linked"
# Read-only properties an import may still set on new records.
SETTABLE_READ_ONLY = {"createdate"}


class ImportError_(CrmError):
    """The file cannot be imported at all (one line)."""


@dataclass
class Column:
    header: str
    object: str | None  # the object whose record this column fills; None = skipped
    target: str | None  # property, "@id", "@assoc:<obj>", "@assoc_primary:<obj>", "@label", "@link:<obj>:<prop>"
    label: str | None = None  # association label for @link / @assoc columns, as seen from the row's record
    required: bool = False  # @link: report an empty cell as a missing link
    create_missing: bool = False  # @link: create the linked record when none matches (vCard ORG)
    reason: str | None = None  # why a skipped column is skipped (shown in the preview and the summary)
    part: str | None = None  # "first" / "last": the column holds whole names, this target takes that part
    note: str | None = None  # why the column fills this target (shown in the preview)

    @property
    def skipped(self) -> bool:
        return not self.target or not self.object


@dataclass
class ImportSpec:
    path: str
    objects: list[str]  # the first is the file's main object
    columns: list[Column]
    kind: str = "csv"  # csv / vcf
    dayfirst: bool = False
    id_source: str = LOCAL
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)  # header -> {cell: replacement}
    encoding: str | None = None
    delimiter: str | None = None
    headers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    batch_size: int = 10_000  # rows per transaction; twice that took peak memory to ~200 MiB for 1M rows
    error_dir: str | None = None
    strict: bool = False  # a bad cell refuses its whole row; a dropdown value the property lacks is refused
    dayfirst_columns: list[str] = field(default_factory=list)  # date columns whose values are day first
    null_columns: list[str] = field(default_factory=list)  # text columns where `null`, `None`... mean empty
    guessed: bool = False  # the main object was guessed from the headers (no --object): see plan.nameless


@dataclass
class Progress:
    rows_done: int
    total_estimate: int
    rate: float  # rows per second
    seconds_left: float | None


@dataclass
class ImportResult:
    import_id: int | None
    dry_run: bool
    rows: int = 0
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0
    linked: int = 0
    failed: int = 0  # rows not imported
    link_problems: int = 0  # links reported, not made
    skipped_cells: int = 0  # values not imported (their rows were)
    not_imported: list[str] = field(default_factory=list)  # per column: its most frequent values not imported, why
    new_properties: list[str] = field(default_factory=list)  # "contacts.connected_on (date)"
    new_options: list[str] = field(default_factory=list)  # "contacts.hs_lead_status: Warm"
    skipped_columns: list[str] = field(default_factory=list)  # "Fax (empty in every row)"
    error_file: str | None = None
    cancelled: bool = False
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict:
        return {"rows": self.rows, "created": sum(self.created.values()), "updated": sum(self.updated.values()),
                "unchanged": self.unchanged, "linked": self.linked, "failed": self.failed,
                "link_problems": self.link_problems, "skipped_cells": self.skipped_cells, "created_by_object": self.created,
                "updated_by_object": self.updated}

    def summary_lines(self) -> list[str]:
        c = self.counts()
        head = "dry run (nothing written): " if self.dry_run else (f"import {self.import_id}: " if self.import_id else "")
        lines = [f"{head}{c['rows']} rows: {c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged, "
                 f"{c['linked']} linked, {c['failed']} failed, {c['link_problems']} link problems, "
                 f"{c['skipped_cells']} values not imported"
                 + (" (cancelled)" if self.cancelled else "")]
        lines += [f"not imported: {line}" for line in self.not_imported]
        if self.new_properties:
            lines.append(f"new properties: {', '.join(self.new_properties)}")
        if self.new_options:
            lines.append(f"new dropdown options: {', '.join(self.new_options[:20])}"
                         + (f" and {len(self.new_options) - 20} more" if len(self.new_options) > 20 else ""))
        if self.skipped_columns:
            lines.append(f"columns not imported: {', '.join(self.skipped_columns)}")
        if self.error_file:
            lines.append(f"error file: {self.error_file}")
        lines += [f"warning: {w}" for w in self.warnings]
        return lines


@dataclass
class ImportInfo:
    id: int
    at: str
    file: str
    objects: list[str]
    status: str
    counts: dict
    error_file: str | None
    undone_by: int | None


@dataclass
class UndoResult:
    import_id: int
    undo_op: int
    deleted: int
    restored_values: int
    links_removed: int
    links_restored: int
    backup: str | None

    def summary_line(self) -> str:
        return (f"undid import {self.import_id}: {self.deleted} records deleted, {self.restored_values} values restored, "
                f"{self.links_removed} links removed, {self.links_restored} links restored"
                + (f"; backup {self.backup}" if self.backup else ""))


# ------------------------------------------------------------------------------------------ planning


# -- which process runs an import (a killed one can be undone at once) --------------------------

def _process_started(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, from /proc), or None where unknown: with
    the pid it names one process, even after the pid is handed to another."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def _owner() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": _process_started(os.getpid())}


def owner_alive(owner: dict | None) -> bool:
    """Whether the process that ran an import is still running (True when it cannot be told: an
    import run on another machine sharing the file)."""
    if not owner or not owner.get("pid"):
        return False  # written before imports named their process: not running now
    if owner.get("host") != socket.gethostname():
        return True
    pid = int(owner["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # exists, owned by someone else
    started = owner.get("started")
    return started is None or _process_started(pid) in (None, started)


def _properties(meta) -> list[tuple[str, str]]:
    """The (name, label) of every property an import may set."""
    return [(p.name, p.label) for p in meta.properties.values()
            if not p.archived and (not p.read_only or p.name in SETTABLE_READ_ONLY)]


def archived_reason(meta, header: str, objects) -> str | None:
    """Why a column that no property takes is skipped when its title names an archived property
    (it is neither imported into it nor made again as a new property), else None."""
    from . import mapping

    archived = [(p.name, p.label) for p in meta.properties.values() if p.archived]
    if not archived:
        return None
    for _quality, target in mapping._candidates(header, meta.name, archived, objects):
        prop = meta.properties.get(target)
        if prop is not None and prop.archived:
            return f"property {prop.label} ({prop.name}) is archived; restore it to import this column"
    return None
