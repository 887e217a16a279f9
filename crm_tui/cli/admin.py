"""Command-line commands that look after the database and the set-up rather than records:
backup, restore, copy, doctor, config, serve. Only argparse here at import time (a fast `--help`)."""

from __future__ import annotations

import json
import sys

from .args import _bounded, emit

ADMIN_COMMANDS = {"backup", "restore", "doctor", "config", "serve", "copy"}


def add_admin_commands(sub, common) -> None:
    p = sub.add_parser("backup", parents=[common], help="copy the database safely, even while the app runs")
    p.add_argument("path", nargs="?", help="target file (default: the data dir's backups/ folder)")
    p.add_argument("--force", action="store_true", help="replace the target file if it exists")
    p = sub.add_parser("restore", parents=[common], help="replace the database with a backup (asks first)")
    p.add_argument("path", help="backup file")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p = sub.add_parser("doctor", parents=[common], help="check integrity, associations, history and the search index")
    p.add_argument("--repair", action="store_true", help="fix what can be fixed safely and report the rest")
    p = sub.add_parser("copy", parents=[common], help="copy a whole CRM into a new file or an empty database")
    p.add_argument("source", help="the database to copy")
    p.add_argument("target", help="a new file or an empty database (a non-empty one is refused)")
    p = sub.add_parser("config", parents=[common], help="where the config file is, and what it says")
    p.add_argument("action", choices=["path", "show"])
    p = sub.add_parser("serve", parents=[common], help="serve the app to a web browser (needs textual-serve)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_bounded("port", 1, 65535), default=8000)
    p.add_argument("--public", action="store_true",
                   help="allow a --host other than this machine (other machines can connect; the token is still needed)")


def _say(args, data, text) -> None:

    emit(args, data, text)


def run_admin(args, db_path: str) -> int:
    from ..domain.errors import CrmError  # lazy: `crm-tui --help` loads this module; it stays quick

    if args.command == "backup":
        from ..services.maintenance import backup  # lazy: `crm-tui --help` loads this module; it stays quick
        from ..storage.safe_files import confirm_replace  # lazy: `crm-tui --help` loads this module; it stays quick

        target = backup(db_path, args.path, overwrite=confirm_replace(args.path, args.force, [db_path]))
        _say(args, {"backup": str(target)}, f"backed up {db_path} to {target}")
        return 0
    if args.command == "restore":
        from ..services.maintenance import restore  # lazy: `crm-tui --help` loads this module; it stays quick

        if not args.yes:
            if not sys.stdin.isatty():
                raise CrmError("restore replaces the whole database: confirm with --yes when not at a terminal")
            answer = input(f"Replace everything in {db_path} with {args.path}? (the current data is backed up first) [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing changed")
                return 1
        safety = restore(db_path, args.path)
        _say(args, {"restored": str(args.path), "previous_backed_up_to": str(safety) if safety else None},
             f"restored {db_path} from {args.path}" + (f" (previous content saved to {safety})" if safety else ""))
        return 0
    if args.command == "doctor":
        from ..services.core import Crm  # lazy: `crm-tui --help` loads this module; it stays quick
        from ..services.maintenance import doctor  # lazy: `crm-tui --help` loads this module; it stays quick

        with Crm.open(db_path, create=False) as crm:
            opened = list(crm.notices)  # what opening it found or made good (missing schema parts)
            report = doctor(crm, repair=args.repair)
        lines = ([f"on opening: {n}" for n in opened] + [f"repaired: {r}" for r in report.repaired]
                 + [f"problem: {p}" for p in report.problems])
        _say(args, {"healthy": report.healthy, "problems": report.problems, "repaired": report.repaired},
             "\n".join(lines) if lines else f"{db_path}: healthy")
        return 0 if report.healthy else 1
    if args.command == "copy":
        from ..services.copying import copy_database

        report = copy_database(args.source, args.target)
        for note in report.notes:
            from ..domain.sanitize import clean_line

            print(f"warning: {clean_line(note)}", file=sys.stderr)
        _say(args, {"source": report.source, "target": report.target, "rows": report.rows, "notes": report.notes},
             f"copied {report.source} to {report.target}: {report.total:,} rows in {len(report.rows)} tables")
        return 0
    if args.command == "config":
        from ..storage.config import load_config  # lazy: `crm-tui --help` loads this module; it stays quick
        from ..storage.paths import config_file  # lazy: `crm-tui --help` loads this module; it stays quick

        if args.action == "path":
            _say(args, {"path": str(config_file())}, str(config_file()))
            return 0
        config, warnings = load_config()
        from dataclasses import asdict  # lazy: `crm-tui --help` loads this module; it stays quick

        from ..domain.sanitize import clean_line, clean_text  # lazy: `crm-tui --help` loads this module; it stays quick

        data = asdict(config)
        data["database_in_use"] = db_path
        for warning in warnings:
            print(f"warning: {clean_line(str(warning))}", file=sys.stderr)
        if getattr(args, "json", False):
            _say(args, data, "")
        else:
            import yaml  # lazy: `crm-tui --help` loads this module; it stays quick

            print(clean_text(yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False).rstrip()))
        return 0
    if args.command == "serve":
        from ..shell.serve import serve  # lazy: `crm-tui --help` loads this module; it stays quick

        return serve(db_path, args.host, args.port, public=args.public)
    raise CrmError(f"unknown command {args.command}")
