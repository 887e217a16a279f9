"""The `crm-tui` command line. Changes made here carry the source API.

Only argparse is imported up front: `crm-tui --help` must stay as quick as a bare Python start.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _ref(text: str):
    """`contacts:12` -> ("contacts", 12)."""
    obj, sep, rid = text.partition(":")
    if not sep or not rid.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: write a record as OBJECT:ID, e.g. contacts:12")
    return obj.strip(), int(rid)


def _assignments(items: list[str]) -> dict:
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SystemExit(_fail(f"{item!r}: write a property as name=value"))
        values[name.strip()] = value
    return values


def _fail(message: str) -> int:
    print(f"crm-tui: error: {message}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's parser must not reset what was given before the subcommand
    common.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                        help="database file (default: $CRM_TUI_DB or the XDG data dir)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")

    parser = argparse.ArgumentParser(
        prog="crm-tui", parents=[common],
        description="An offline, keyboard-first CRM for the terminal. Without a command, starts the app.",
    )
    parser.add_argument("--demo", action="store_true", help="start the app on a fresh demo database")
    parser.add_argument("--version", action="store_true", help="print the version")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("seed", parents=[common], help="add deterministic synthetic records")
    for name in ("contacts", "companies", "deals", "tickets", "activities"):
        p.add_argument(f"--{name}", type=int, default=0, metavar="N")
    p.add_argument("--seed", type=int, default=1, metavar="S")

    p = sub.add_parser("schema", parents=[common], help="list objects, properties, labels, pipelines; or apply a YAML file")
    p.add_argument("action", nargs="?", choices=["apply"], help="apply FILE.yaml")
    p.add_argument("file", nargs="?", help="YAML file with objects, properties, labels, pipelines")

    rec = sub.add_parser("record", parents=[common], help="create, update, get, delete, restore or merge records")
    rsub = rec.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = rsub.add_parser("create", parents=[common], help="create a record; prints its id")
    p.add_argument("object")
    p.add_argument("values", nargs="*", metavar="prop=value")
    p = rsub.add_parser("update", parents=[common], help="update a record")
    p.add_argument("object")
    p.add_argument("id", type=int)
    p.add_argument("values", nargs="+", metavar="prop=value")
    for action in ("get", "delete", "restore"):
        p = rsub.add_parser(action, parents=[common], help=f"{action} a record")
        p.add_argument("object")
        p.add_argument("id", type=int)
    p = rsub.add_parser("merge", parents=[common], help="merge OTHER_ID into KEEP_ID")
    p.add_argument("object")
    p.add_argument("keep_id", type=int)
    p.add_argument("other_id", type=int)
    p.add_argument("--take", action="append", default=[], metavar="PROP",
                   help="take this property's value from the other record (repeatable)")

    p = sub.add_parser("history", parents=[common], help="property history of a record")
    p.add_argument("object")
    p.add_argument("id", type=int)
    p.add_argument("--property", help="only this property")

    p = sub.add_parser("list", parents=[common], help="list records of an object")
    p.add_argument("object")
    p.add_argument("--filter", action="append", default=[], metavar="prop=value",
                   help="prop=value, prop!=value, prop~text (contains), prop>value, prop<value, prop? (known), prop! (unknown)")
    p.add_argument("--sort", action="append", default=[], metavar="prop|-prop")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--deleted", action="store_true", help="list deleted records (the recycle bin)")

    p = sub.add_parser("search", parents=[common], help="full-text search (prefix matching)")
    p.add_argument("text")
    p.add_argument("--object", help="only this object")

    assoc = sub.add_parser("assoc", parents=[common], help="associations between records")
    asub = assoc.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = asub.add_parser("add", parents=[common], help="associate two records")
    p.add_argument("a", type=_ref)
    p.add_argument("b", type=_ref)
    p.add_argument("--label", action="append", default=[], help="label as seen from the first record (repeatable)")
    p.add_argument("--primary", action="store_true", help="make the company primary, replacing the current one")
    p = asub.add_parser("remove", parents=[common], help="remove an association")
    p.add_argument("a", type=_ref)
    p.add_argument("b", type=_ref)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--new-primary", type=int, metavar="COMPANY_ID", help="the new primary company")
    g.add_argument("--no-primary", action="store_true", help="leave no primary (only when no other company remains)")
    p = asub.add_parser("label", parents=[common], help="add or remove a label on an association")
    p.add_argument("a", type=_ref)
    p.add_argument("b", type=_ref)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--add", metavar="LABEL")
    g.add_argument("--remove", metavar="LABEL")
    p = asub.add_parser("primary", parents=[common], help="make an associated company primary")
    p.add_argument("a", type=_ref)
    p.add_argument("company", type=_ref)
    p = asub.add_parser("unprimary", parents=[common], help="remove a company as primary (name the new one)")
    p.add_argument("a", type=_ref)
    p.add_argument("company", type=_ref)
    p.add_argument("--new-primary", type=int, metavar="COMPANY_ID")
    p = asub.add_parser("list", parents=[common], help="a record's associations")
    p.add_argument("a", type=_ref)
    p = asub.add_parser("history", parents=[common], help="a record's association history, newest first")
    p.add_argument("a", type=_ref)
    p.add_argument("--object", help="only links with this object")
    p.add_argument("--with", dest="with_ref", type=_ref, metavar="OBJ:ID", help="only this one association")

    p = sub.add_parser("labels", parents=[common], help="list association labels, or create one")
    p.add_argument("action", nargs="?", choices=["create"])
    p.add_argument("from_object", nargs="?")
    p.add_argument("to_object", nargs="?")
    p.add_argument("name", nargs="?")
    p.add_argument("--inverse", help="the other side's name (a paired label)")
    p.add_argument("--limit", type=int, help="at most N records per from-record with this label")

    p = sub.add_parser("log", parents=[common], help="log an activity (note, call, meeting, email, task) on a record")
    p.add_argument("a", type=_ref)
    p.add_argument("activity", help="notes, calls, meetings, emails or tasks")
    p.add_argument("values", nargs="*", metavar="prop=value")

    p = sub.add_parser("timeline", parents=[common], help="a record's activities, newest first")
    p.add_argument("a", type=_ref)
    p.add_argument("--limit", type=int, default=50)

    sub.add_parser("owners", parents=[common], help="list owners (users)")
    return parser


def resolve_db_path(args) -> str:
    if getattr(args, "db", None):
        return args.db
    if os.environ.get("CRM_TUI_DB"):
        return os.environ["CRM_TUI_DB"]
    from .config import load_config

    config, _warnings = load_config()
    if config.database:
        return os.path.expanduser(config.database)
    from .paths import default_db_path

    return str(default_db_path())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if args.command is None:
        return _run_app(args)
    from .errors import CrmError

    try:
        from .commands import run

        return run(args, resolve_db_path(args))
    except CrmError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a database error from deep down: one line, never a traceback
        from . import dialect

        if dialect.is_busy_error(exc):
            return _fail(f"{resolve_db_path(args)}: database is busy: another program is writing to it; try again")
        if dialect.is_full_error(exc):
            return _fail(f"{resolve_db_path(args)}: the disk or database is full; nothing was written")
        if dialect.is_readonly_error(exc):
            return _fail(f"{resolve_db_path(args)}: the database is read-only; nothing was written")
        raise


def _run_app(args) -> int:
    from .errors import CrmError

    try:
        if args.demo:
            from .demo import fresh_demo_database

            path = fresh_demo_database()
        else:
            path = resolve_db_path(args)
        from .app import run_app

        return run_app(path)
    except CrmError as exc:
        return _fail(str(exc))


if __name__ == "__main__":
    sys.exit(main())
