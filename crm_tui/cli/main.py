"""The `crm-tui` command line. Changes made here carry the source API.

Nothing heavy is imported up front: `crm-tui --help` must stay as quick as a bare Python start, and
`crm-tui [--db PATH]` starts the app without building the parser (argparse alone costs ~8 ms).
"""

from __future__ import annotations

import os
import sys

from .args import MAX_ID, MAX_LIMIT, MAX_SEED_COUNT, _assignments, _bounded, _fail, _id, _limit, _ref, _seed_count, _whole_number, emit  # noqa: F401 - the typed arguments and printing, kept here for callers

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up speed)

if TYPE_CHECKING:  # argparse itself is imported when the parser is built (start-up speed)
    import argparse


def _parser_class():
    """argparse, with every usage error as one line (`crm-tui: error: ...`) and exit 2. Made when
    the parser is built: a plain app launch never imports argparse."""
    import argparse  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str):
            from ..domain.sanitize import clean_line  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

            self.exit(2, f"crm-tui: error: {clean_line(message)} (see {self.prog} --help)\n")

    return _Parser


def _bad_argument(argv: list[str]) -> str | None:
    """Arguments that are not valid UTF-8 (the shell passes bytes; Python keeps undecodable ones
    as lone surrogates, which nothing downstream can store or print)."""
    for position, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            return f"argument {position} ({shown!r}) is not valid UTF-8"
    return None


def build_parser() -> argparse.ArgumentParser:
    import argparse  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

    _Parser = _parser_class()
    common = _Parser(add_help=False)
    # SUPPRESS: a subcommand's parser must not reset what was given before the subcommand
    common.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                        help="database file (default: $CRM_TUI_DB or the XDG data dir)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")

    parser = _Parser(
        prog="crm-tui", parents=[common],
        description="An offline, keyboard-first CRM for the terminal. Without a command, starts the app.",
    )
    parser.add_argument("--demo", action="store_true", help="start the app on a fresh demo database")
    parser.add_argument("--version", action="store_true", help="print the version")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("seed", parents=[common], help="add deterministic synthetic records")
    for name in ("contacts", "companies", "deals", "tickets", "activities"):
        p.add_argument(f"--{name}", type=_seed_count, default=0, metavar="N")
    p.add_argument("--seed", type=_bounded("seed", 0, MAX_ID), default=1, metavar="S")

    p = sub.add_parser("schema", parents=[common], help="list objects, properties, labels, pipelines; or apply a YAML file")
    p.add_argument("action", nargs="?", choices=["apply", "relabel", "property", "delete-property", "archive-property",
                                                 "restore-property"],
                   help="apply FILE.yaml | relabel OBJECT LABEL [--plural P] | property OBJECT NAME [--label L] "
                        "[--group G] | delete-property OBJECT NAME [--yes] | archive-property OBJECT NAME | "
                        "restore-property OBJECT NAME")
    p.add_argument("file", nargs="?", help="YAML file with objects, properties, labels, pipelines (or the OBJECT)")
    p.add_argument("target", nargs="?", help="the new label, or the property's name")
    p.add_argument("--plural", help="relabel: the plural label")
    p.add_argument("--label", help="property: its new label")
    p.add_argument("--group", help="property: its new group")
    p.add_argument("--yes", action="store_true", help="delete-property: do not ask")

    rec = sub.add_parser("record", parents=[common], help="create, update, get, delete, restore or merge records")
    rsub = rec.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = rsub.add_parser("create", parents=[common], help="create a record; prints its id")
    p.add_argument("object")
    p.add_argument("values", nargs="*", metavar="prop=value")
    p = rsub.add_parser("update", parents=[common], help="update a record")
    p.add_argument("object")
    p.add_argument("id", type=_id)
    p.add_argument("values", nargs="+", metavar="prop=value")
    for action in ("get", "delete", "restore"):
        p = rsub.add_parser(action, parents=[common], help=f"{action} a record")
        p.add_argument("object")
        p.add_argument("id", type=_id)
    p = rsub.add_parser("erase", parents=[common], help="remove a record for good: values, links, history (asks)")
    p.add_argument("object")
    p.add_argument("id", type=_id)
    p.add_argument("--yes", action="store_true", help="do not ask")
    p = sub.add_parser("bin", parents=[common],
                       help="the recycle bin: empty it (erase its records for good), or show/set its retention in days")
    p.add_argument("action", choices=["empty", "retention"])
    p.add_argument("days", nargs="?", type=_bounded("days", 0, 100_000),
                   help="retention: records deleted longer ago are erased when the database is opened (0: keep them)")
    p.add_argument("--object", help="only this object's deleted records")
    p.add_argument("--older-than", type=_bounded("days", 0, 100_000), metavar="DAYS",
                   help="only records deleted more than DAYS days ago")
    p.add_argument("--yes", action="store_true", help="do not ask")
    p = rsub.add_parser("merge", parents=[common], help="merge OTHER_ID into KEEP_ID")
    p.add_argument("object")
    p.add_argument("keep_id", type=_id)
    p.add_argument("other_id", type=_id)
    p.add_argument("--take", action="append", default=[], metavar="PROP",
                   help="take this property's value from the other record (repeatable)")

    p = sub.add_parser("history", parents=[common], help="property history of a record")
    p.add_argument("object")
    p.add_argument("id", type=_id)
    p.add_argument("--property", help="only this property")

    p = sub.add_parser("list", parents=[common], help="list records of an object")
    p.add_argument("object")
    p.add_argument("--filter", action="append", default=[], metavar="prop=value",
                   help="prop=value, prop!=value, prop~text (contains), prop>value, prop<value, prop? (known), prop! (unknown)")
    p.add_argument("--sort", action="append", default=[], metavar="PROP",
                   help="sort by PROP (PROP:desc or --sort=-PROP for descending; repeatable)")
    p.add_argument("--limit", type=_limit, default=50)
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
    g.add_argument("--new-primary", type=_id, metavar="COMPANY_ID", help="the new primary company")
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
    p.add_argument("--new-primary", type=_id, metavar="COMPANY_ID")
    p = asub.add_parser("list", parents=[common], help="a record's associations")
    p.add_argument("a", type=_ref)
    p = asub.add_parser("history", parents=[common], help="a record's association history, newest first")
    p.add_argument("a", type=_ref)
    p.add_argument("--object", help="only links with this object")
    p.add_argument("--with", dest="with_ref", type=_ref, metavar="OBJ:ID", help="only this one association")

    p = sub.add_parser("labels", parents=[common], help="list association labels, or create, rename or delete one")
    p.add_argument("action", nargs="?", choices=["create", "rename", "delete"])
    p.add_argument("from_object", nargs="?")
    p.add_argument("to_object", nargs="?")
    p.add_argument("name", nargs="?")
    p.add_argument("new_name", nargs="?", help="rename: the new name")
    p.add_argument("--yes", action="store_true", help="delete: do not ask")
    p.add_argument("--inverse", help="the other side's name (a paired label)")
    p.add_argument("--limit", type=_bounded("label limit", 1, MAX_LIMIT), help="at most N records per from-record with this label")

    p = sub.add_parser("log", parents=[common], help="log an activity (note, call, meeting, email, task) on a record")
    p.add_argument("a", type=_ref)
    p.add_argument("activity", help="notes, calls, meetings, emails, tasks or your own activity type (schema apply)")
    p.add_argument("values", nargs="*", metavar="prop=value")

    p = sub.add_parser("timeline", parents=[common], help="a record's activities, newest first")
    p.add_argument("a", type=_ref)
    p.add_argument("--limit", type=_limit, default=50)

    p = sub.add_parser("owners", parents=[common], help="list owners (users), or add one")
    p.add_argument("action", nargs="?", choices=["add"], help="add NAME [--email E]")
    p.add_argument("name", nargs="?")
    p.add_argument("--email", help="the owner's email")

    sub.add_parser("pipelines", parents=[common], help="list the pipelines (deals, tickets, custom objects) with their stages")

    # -- import / export (crm_tui/importing): imports carry the source Import
    imp = sub.add_parser("import", parents=[common], help="import a CSV or vCard file, a folder or .zip of CSVs (or `import undo ID`)")
    imp.add_argument("file", help="the file, folder or .zip to import, or `undo`")
    imp.add_argument("undo_id", nargs="?", type=_bounded("import ID", 1, MAX_ID), metavar="ID", help="with `undo`: the import to undo")
    imp.add_argument("--object", action="append", default=[], metavar="O",
                     help="the file's object (repeat for several objects per row; default: guessed)")
    imp.add_argument("--map", action="append", default=[], metavar="COL=prop",
                     help="map a column: COL=prop, COL=object.prop, COL=@id, COL=skip (repeatable)")
    imp.add_argument("--link", action="append", default=[], metavar="COL=OBJ.PROP[:LABEL]",
                     help="the column names a record to link by a property, e.g. account=companies.name")
    imp.add_argument("--require-link", action="append", default=[], metavar="COL",
                     help="report rows whose link column is empty")
    imp.add_argument("--value", action="append", default=[], metavar="COL:FROM=TO",
                     help="replace a cell value before parsing, e.g. deal_stage:Won=closedwon")
    imp.add_argument("--ids", default=None, metavar="SYSTEM",
                     help="whose Record IDs the file holds: `local` (this CRM, default) or a source system name "
                          "(e.g. hubspot) whose IDs are remembered so a second import finds the same records; "
                          "a HubSpot export is recognised and read as hubspot")
    imp.add_argument("--dayfirst", action="store_true", help="dates are day first (16/01/2026)")
    imp.add_argument("--encoding", help="the file's encoding (default: detected)")
    imp.add_argument("--delimiter", help="the CSV delimiter (default: detected)")
    imp.add_argument("--batch", type=_bounded("batch size", 1, 1_000_000), default=5000, metavar="N", help="rows per transaction")
    imp.add_argument("--error-dir", metavar="DIR", help="where to write the error file")
    imp.add_argument("--dry-run", action="store_true", help="preview: count what would change, write nothing")
    imp.add_argument("--strict", action="store_true",
                     help="refuse a whole row for one bad cell, and dropdown values the property lacks")
    imp.add_argument("--no-new-properties", action="store_true",
                     help="skip unknown columns instead of creating a custom property for each")
    imp.add_argument("--yes", action="store_true", help="with `undo`: do not ask")

    sub.add_parser("imports", parents=[common], help="list past imports")

    p = sub.add_parser("export", parents=[common], help="export an object's view to CSV, JSON, vCard or iCalendar (meetings)")
    p.add_argument("object")
    p.add_argument("--view", metavar="V", help="a saved view's name (default: the default view)")
    p.add_argument("--format", choices=["csv", "json", "vcf", "ics"], help="default: from the file name, else csv")
    p.add_argument("--hubspot", action="store_true",
                   help="HubSpot-style: Record ID and ;-joined Associated <Object> IDs columns (round trip)")
    p.add_argument("--all-properties", action="store_true", help="every property (archived ones too), not only the view's columns")
    p.add_argument("-o", "--output", metavar="FILE", help="default: OBJECT.FORMAT in the current folder")
    p.add_argument("--force", action="store_true", help="replace the output file if it exists")
    from .calendars import add_calendar_commands  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

    add_calendar_commands(sub, common)
    from .admin import add_admin_commands  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)
    from .journal import add_journal_commands  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

    from .reports import add_report_commands

    add_admin_commands(sub, common)
    add_journal_commands(sub, common)
    add_report_commands(sub, common)
    from .duplicates import add_duplicate_commands

    add_duplicate_commands(sub, common)
    from .workflows import add_workflow_commands

    add_workflow_commands(sub, common)
    from .mail import add_mail_commands

    add_mail_commands(sub, common)
    from .tasks import add_task_commands

    add_task_commands(sub, common)
    from .vdir import add_vdir_commands

    add_vdir_commands(sub, common)
    return parser


def resolve_db_path(args) -> str:
    if getattr(args, "db", None):
        return args.db
    if os.environ.get("CRM_TUI_DB"):
        return os.environ["CRM_TUI_DB"]
    from ..storage.config import load_config  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

    config, _warnings = load_config()
    if config.database:
        return os.path.expanduser(config.database)
    from ..storage.paths import default_db_path  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

    return str(default_db_path())


def _app_launch(argv: list[str]):
    """The arguments of a plain app launch (`crm-tui`, `crm-tui --db PATH`), or None for anything
    else, which goes through the parser."""
    if not argv:
        return _AppArgs(None)
    if len(argv) == 2 and argv[0] == "--db" and argv[1] and not argv[1].startswith("-"):
        return _AppArgs(argv[1])
    if len(argv) == 1 and argv[0].startswith("--db=") and len(argv[0]) > len("--db="):
        return _AppArgs(argv[0][len("--db="):])
    return None


class _AppArgs:
    command = None
    demo = False
    version = False

    def __init__(self, db: str | None):
        if db is not None:
            self.db = db


def main(argv: list[str] | None = None) -> int:
    """The entry point: every failure is one line on stderr; output cut short by a closed pipe
    (`crm-tui list contacts | head`) ends quietly, as other unix tools do."""
    try:
        code = _main(sys.argv[1:] if argv is None else list(argv))
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # the reader went away: stop quietly, and keep Python from complaining at exit
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):  # not a real file descriptor (tests)
            pass
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the closed pipe


def _main(argv: list[str]) -> int:
    bad = _bad_argument(argv)
    if bad:
        return _fail(bad)
    launch = _app_launch(argv)
    if launch is not None:
        return _run_app(launch)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0), or a usage error already printed as one line (2)
        return exc.code if isinstance(exc.code, int) else 2
    if args.version:
        from .. import __version__  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

        print(__version__)
        return 0
    if args.command is None:
        return _run_app(args)
    from ..domain.errors import CrmError  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

    try:
        from .admin import ADMIN_COMMANDS, run_admin  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

        if args.command in ADMIN_COMMANDS:
            return run_admin(args, resolve_db_path(args))
        from .commands import run  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

        return run(args, resolve_db_path(args))
    except CrmError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        raise  # main() ends quietly
    except Exception as exc:  # a database error from deep down: one line, never a traceback
        from ..storage import dialect  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

        text = dialect.problem_text(exc, resolve_db_path(args))
        if text:
            return _fail(text)
        if isinstance(exc, OverflowError):  # last line of defence: the typed arguments catch most
            return _fail(f"a number is too large for the database ({exc})")
        raise


def _run_app(args) -> int:
    from ..domain.errors import CrmError  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

    try:
        if args.demo:
            from ..services.demo import fresh_demo_database  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

            path = fresh_demo_database()
        else:
            path = resolve_db_path(args)
        import gc  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

        gc.disable()  # no collections while starting; the app turns them back on after its first frame
        from ..shell.app import run_app  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

        return run_app(path)
    except CrmError as exc:
        return _fail(str(exc))


if __name__ == "__main__":
    sys.exit(main())
