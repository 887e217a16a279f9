"""`crm-tui operations`, `crm-tui undo [ID]` and `crm-tui redo` (the operation journal).
Only argparse here at import time (a fast `--help`)."""

from __future__ import annotations

import json
from dataclasses import asdict

JOURNAL_COMMANDS = {"operations", "undo", "redo"}


def _positive(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: write a number of 1 or more")
    return value


def add_journal_commands(sub, common) -> None:
    p = sub.add_parser("operations", parents=[common], help="the operations journal, newest first")
    p.add_argument("--limit", type=_positive, default=50, metavar="N")
    p = sub.add_parser("undo", parents=[common], help="undo an operation (default: your newest one not yet undone)")
    p.add_argument("op_id", nargs="?", type=_positive, metavar="OPERATION_ID")
    sub.add_parser("redo", parents=[common], help="redo the most recent undo not yet redone")


def _emit(args, data, line: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        print(line)


def cmd_operations(crm, args) -> int:
    from .sanitize import clean_line

    items = crm.journal.list(limit=args.limit)
    if getattr(args, "json", False):
        _emit(args, [asdict(i) for i in items], "")
        return 0
    if not items:
        print("no operations yet")
    for i in items:
        state = "undone" if i.undone else ""
        print(f"{i.id:>7}  {i.time[:19]}  {i.kind:<14}  {i.source:<8}  {state:<6}  {clean_line(i.summary)}")
    return 0


def cmd_undo(crm, args) -> int:
    from . import sources
    from .sanitize import clean_line

    result = crm.journal.undo(args.op_id, source=sources.API)
    _emit(args, asdict(result), clean_line(f"{result.summary} (operation {result.undo_op_id})"))
    return 0


def cmd_redo(crm, args) -> int:
    from . import sources
    from .sanitize import clean_line

    result = crm.journal.redo(source=sources.API)
    _emit(args, asdict(result), clean_line(f"{result.summary} (operation {result.undo_op_id})"))
    return 0


HANDLERS = {"operations": cmd_operations, "undo": cmd_undo, "redo": cmd_redo}
