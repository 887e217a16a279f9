"""Other team members' changes, as they commit (the team database on PostgreSQL).

Every committed top-level operation sends `NOTIFY crm_tui, '<session> <op id> <object> <record>'`
in its own transaction (dialect.announce_change, so a rolled-back change announces nothing). A
`ChangeListener` holds one more connection that LISTENs on a daemon thread and calls back with the
changes of other sessions; the app turns that into a refresh of the screen it shows. SQLite has
no such channel: there the screens find other programs' changes when they next read
(`changed_elsewhere`).
"""

from __future__ import annotations

import select
import threading
from dataclasses import dataclass

CHANNEL = "crm_tui"


@dataclass(frozen=True)
class Change:
    op_id: int
    object: str | None
    record_id: int | None


def payload(session: str, op_id: int, object_name: str | None, record_id: int | None) -> str:
    return f"{session} {int(op_id)} {object_name or '-'} {'-' if record_id is None else int(record_id)}"


def parse(text: str) -> tuple[str, Change] | None:
    parts = text.split(" ")
    if len(parts) != 4 or not parts[1].isdigit():
        return None
    session, op, obj, rid = parts
    return session, Change(int(op), None if obj == "-" else obj, int(rid) if rid.lstrip("-").isdigit() else None)


class ChangeListener:
    """LISTEN on a connection of its own; `callback(list[Change])` runs on the listener's thread
    with the changes other sessions committed (several at once when they come together)."""

    def __init__(self, crm, callback, *, poll_seconds: float = 0.5):
        self._db = crm.db
        self._session = crm.session_id
        self._callback = callback
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._conn = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crm-tui-listen", daemon=True)

    def start(self) -> "ChangeListener":
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        try:
            self._conn = self._db._connect()  # a connection of its own, outside Peewee's per-thread one
            self._conn.autocommit = True
            with self._conn.cursor() as cur:
                cur.execute(f"LISTEN {CHANNEL}")
        except Exception:  # noqa: BLE001 - no live refresh; the app works as on SQLite
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stop.is_set():
                if select.select([self._conn], [], [], self._poll) == ([], [], []):
                    continue
                self._conn.poll()
                changes = []
                while self._conn.notifies:
                    note = self._conn.notifies.pop(0)
                    parsed = parse(note.payload)
                    if parsed is not None and parsed[0] != self._session:
                        changes.append(parsed[1])
                if changes:
                    try:
                        self._callback(changes)
                    except Exception:  # noqa: BLE001 - the app is closing
                        pass
        except Exception:  # noqa: BLE001 - the server went away: no more live refresh
            return
        finally:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001
                pass
