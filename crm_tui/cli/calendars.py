"""`crm-tui calendar import FILE.ics|DIR`: calendar events logged as meetings (importing/ical.py).
The way back is `crm-tui export meetings --format ics`."""

from __future__ import annotations

import sys


def add_calendar_commands(sub, common) -> None:
    cal = sub.add_parser("calendar", parents=[common],
                         help="log a calendar's events (.ics file, or a khal/vdirsyncer folder) as meetings")
    csub = cal.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = csub.add_parser("import", parents=[common],
                        help="log each event once (by UID) on the contacts among its attendees; a changed event updates")
    p.add_argument("path", metavar="FILE.ics|DIR", help="an .ics file or a folder of .ics files (one level of sub-folders)")
    p.add_argument("--create", action="store_true", help="add attendees who are not contacts yet as contacts")
    p.add_argument("--me", action="append", default=[], metavar="EMAIL",
                   help="one of your own addresses (never a contact; repeatable), besides the config's my_addresses")


def cmd_calendar(crm, args) -> int:
    from ..domain.errors import InvalidValue
    from ..importing import ical
    from .args import emit

    from ..storage.config import load_config

    config, _warnings = load_config()  # printed already, by commands.run
    own = set(config.my_addresses)
    for address in args.me:
        address = address.strip().lower()
        if "@" not in address or not address.isprintable() or " " in address:
            raise InvalidValue(f"--me {address!r}: not an email address")
        own.add(address)
    show = None
    if not getattr(args, "json", False) and sys.stderr.isatty():
        def show(done: int, total: int) -> None:
            print(f"\rreading {done:,} / {total:,} files   ", end="" if done < total else "\n",
                  file=sys.stderr, flush=True)
    result = ical.import_calendar(crm, args.path, create=args.create, own_addresses=own, progress=show)
    emit(args, {"path": result.path, **result.counts(), "meetings": result.meetings, "problems": result.problems},
         result.summary_lines())
    return 0
