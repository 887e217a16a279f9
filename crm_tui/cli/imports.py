"""`crm-tui import`, `crm-tui imports` and `crm-tui export` (wired into commands.HANDLERS)."""

from __future__ import annotations

import sys

from .args import emit
from ..domain.errors import CrmError
from ..importing import bundle, exporter, importer
from ..importing import undo as import_journal
from ..storage import safe_files


def _emit(args, data, lines) -> None:
    emit(args, data, lines)


def _progress(args):
    if getattr(args, "json", False) or not sys.stderr.isatty():
        return None

    def show(p) -> None:
        left = f", {p.seconds_left:.0f} s left" if p.seconds_left is not None else ""
        print(f"\r{p.rows_done:,} / ~{p.total_estimate:,} rows, {p.rate:,.0f} rows/s{left}   ",
              end="", file=sys.stderr, flush=True)

    return show


def cmd_import(crm, args) -> int:
    if args.file == "undo":
        if args.undo_id is None:
            raise CrmError("write `crm-tui import undo ID` (see `crm-tui imports`)")
        import_journal.check_undo(crm, args.undo_id)
        if not args.yes and sys.stdin.isatty():
            what = crm.journal.get(args.undo_id).summary
            answer = input(f"Undo {what}? Records it created are deleted for good (a backup is made first) [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing changed")
                return 1
        result = import_journal.undo_import(crm, args.undo_id)
        _emit(args, result.__dict__, [result.summary_line()])
        return 0
    if args.undo_id is not None:
        raise CrmError(f"unexpected argument {args.undo_id}: write `crm-tui import FILE` or `crm-tui import undo ID`")

    if bundle.is_bundle(args.file):
        return _import_bundle(crm, args)
    objects = [crm.registry.get(o).name for o in args.object] or None
    spec = importer.plan_import(crm, args.file, objects, encoding=args.encoding, delimiter=args.delimiter,
                                new_properties=not args.no_new_properties)
    spec.dayfirst = args.dayfirst
    if args.ids and args.ids.strip():  # else: local, or hubspot for a HubSpot export
        spec.id_source = args.ids.strip()
    spec.batch_size = max(1, args.batch)
    spec.error_dir = args.error_dir
    spec.strict = args.strict
    importer.apply_map_args(crm, spec, args.map)
    importer.apply_link_args(crm, spec, args.link, args.require_link)
    importer.apply_value_args(spec, args.value)
    show = _progress(args)
    result = importer.run_import(crm, spec, progress=show, dry_run=args.dry_run)
    if show:
        print(file=sys.stderr)
    data = {"import_id": result.import_id, "dry_run": result.dry_run, **result.counts(),
            "error_file": result.error_file, "not_imported": result.not_imported, "warnings": result.warnings, "seconds": round(result.seconds, 2),
            "new_properties": result.new_properties, "new_options": result.new_options,
            "skipped_columns": result.skipped_columns,
            "file": spec.path, "objects": spec.objects, "encoding": spec.encoding, "delimiter": spec.delimiter,
            "mapping": importer.describe_columns(crm, spec)}
    lines = []
    if args.dry_run:
        lines.append(f"file: {spec.path} ({spec.kind}, encoding {spec.encoding}, delimiter {spec.delimiter!r})")
        lines += ["  " + line for line in importer.describe_columns(crm, spec)]
    lines += result.summary_lines()
    if result.import_id:
        lines.append(f"undo with: crm-tui import undo {result.import_id}")
    _emit(args, data, lines)
    return 1 if result.rows and result.failed >= result.rows else 0  # every row failed


def _import_bundle(crm, args) -> int:
    """`crm-tui import FOLDER` or `crm-tui import EXPORT.zip`: every CSV in it, as one import."""
    if args.object or args.map or args.link or args.value or args.require_link:
        raise CrmError("--object, --map, --link and --value apply to one file; "
                       "import that file on its own to use them")
    plan = bundle.plan_path(crm, args.file, scan=args.dry_run)
    for spec in plan.specs:
        spec.dayfirst = args.dayfirst
        spec.batch_size = max(1, args.batch)
        if args.error_dir:
            spec.error_dir = args.error_dir
        if args.ids and args.ids.strip():
            spec.id_source = args.ids.strip()
    lines = plan.lines() if args.dry_run else []
    show = _progress(args)
    result = bundle.run_plan(crm, plan, progress=show, dry_run=args.dry_run)
    if show:
        print(file=sys.stderr)
    data = {"import_id": result.import_id, "dry_run": result.dry_run, **result.counts(), "path": result.path,
            "files": [{"file": name, **r.counts(), "error_file": r.error_file} for name, r in result.files],
            "owners_created": result.owners_created, "properties_created": result.properties_created,
            "warnings": result.warnings, "seconds": round(result.seconds, 2)}
    lines += result.summary_lines()
    if result.import_id:
        lines.append(f"undo with: crm-tui import undo {result.import_id}")
    _emit(args, data, lines)
    return 0


def cmd_imports(crm, args) -> int:
    items = import_journal.list_imports(crm)
    lines = [f"{i.id:>6}  {i.at[:19]}  {i.status:<11}  {','.join(i.objects):<20}  "
             f"created {i.counts.get('created', 0)}, updated {i.counts.get('updated', 0)}, "
             f"linked {i.counts.get('linked', 0)}, failed {i.counts.get('failed', 0)}  {i.file}" for i in items]
    _emit(args, [i.__dict__ for i in items], lines or ["no imports yet"])
    return 0


def cmd_export(crm, args) -> int:
    fmt = args.format
    path = args.output or f"{crm.registry.get(args.object).name}.{fmt or 'csv'}"
    result = exporter.export_view(crm, args.object, path, view=args.view, fmt=fmt, hubspot=args.hubspot,
                                  all_properties=args.all_properties,
                                  overwrite=safe_files.confirm_replace(path, args.force, [crm.path]))
    _emit(args, result.__dict__, [f"exported {result.rows} {args.object} to {result.path}"])
    return 0
