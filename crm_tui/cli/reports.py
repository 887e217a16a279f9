"""`crm-tui report`, `crm-tui reports` and `crm-tui forecast`. Only argparse here at import time."""

from __future__ import annotations

import sys

REPORT_COMMANDS = {"report", "reports", "forecast"}


def add_report_commands(sub, common) -> None:
    p = sub.add_parser("report", parents=[common], help="a measure of an object's records grouped by a property (a pivot with two)")
    p.add_argument("object", help="contacts, companies, deals, tickets, a custom object, or activities")
    p.add_argument("--group-by", action="append", default=[], metavar="G",
                   help="PROPERTY, PROPERTY:PERIOD (day/week/month/quarter/year), @primary_company or "
                        "OBJECT.PROPERTY (e.g. companies.industry); twice for a pivot")
    p.add_argument("--by-period", action="append", default=[], metavar="PROP:PERIOD",
                   help="a date property by period, e.g. createdate:month (a grouping like --group-by)")
    p.add_argument("--measure", default="count", metavar="M", help="count (default), sum:PROP, avg:PROP, min:PROP or max:PROP")
    p.add_argument("--filter", action="append", default=[], metavar="prop=value",
                   help="as in `list` (also OBJECT.PROPERTY=value, e.g. companies.industry=Software)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", action="store_true", help="print CSV (formulas neutralised)")
    p.add_argument("--save", metavar="NAME", help="also save it on your dashboard under NAME")
    p.add_argument("--chart", choices=["bar", "line", "funnel"], default="bar", help="how the dashboard draws a saved report")

    p = sub.add_parser("reports", parents=[common], help="your saved reports (the dashboard), or delete one")
    p.add_argument("action", nargs="?", choices=["list", "delete"], default="list")
    p.add_argument("name", nargs="?", help="the report to delete")

    p = sub.add_parser("forecast", parents=[common], help="open deals weighted by stage probability, beside won amounts")
    p.add_argument("--by", choices=["month", "owner"], default="month", help="by close month (default) or by owner")


def _spec(args):
    from ..services.query import parse_filter
    from ..services.reports import ReportSpec

    groupings = list(args.group_by) + list(args.by_period)
    if len(groupings) > 2:
        from ..domain.errors import InvalidValue

        raise InvalidValue("a report groups by at most two things (a pivot)")
    return ReportSpec(object=args.object, group_by=groupings[0] if groupings else None,
                      group_by2=groupings[1] if len(groupings) > 1 else None, measure=args.measure,
                      filters=tuple(parse_filter(f) for f in args.filter), name=args.save or "", chart=args.chart)


def _value_text(value: float) -> str:
    from ..domain.types import format_number

    return format_number(round(value, 2))


def cmd_report(crm, args) -> int:
    from .args import emit

    spec = _spec(args)
    report = crm.reports.run(spec)
    if args.save:
        crm.reports.save(spec)
    if args.csv:
        from ..importing.csvwrite import SafeCsvWriter

        headers = ["group"] + (["group2"] if spec.group_by2 else []) + ["value"]
        writer = SafeCsvWriter(sys.stdout, headers, numeric_columns={"value"})
        for row in report.rows:
            writer.writerow([row.group] + ([row.group2] if spec.group_by2 else []) + [round(row.value, 6)])
        return 0
    width = max([len(r.group) for r in report.rows] + [5])
    width2 = max([len(r.group2 or "") for r in report.rows] + [0])
    lines = [report.title]
    for row in report.rows:
        second = f"  {(row.group2 or '').ljust(width2)}" if spec.group_by2 else ""
        lines.append(f"  {row.group.ljust(width)}{second}  {_value_text(row.value):>12}")
    if not report.rows:
        lines.append("  (no records)")
    if report.truncated:
        lines.append(f"  (the {len(report.rows)} largest groups)")
    if args.save:
        lines.append(f"saved on your dashboard as {spec.name!r}")
    emit(args, [r.to_json() for r in report.rows], lines)
    return 0


def cmd_reports(crm, args) -> int:
    from .args import emit

    if args.action == "delete":
        if not args.name:
            from ..domain.errors import InvalidValue

            raise InvalidValue("name the report to delete: crm-tui reports delete NAME")
        crm.reports.delete(args.name)
        emit(args, {"deleted": args.name}, f"deleted {args.name!r} from your dashboard")
        return 0
    specs = crm.reports.saved()
    lines = [f"{s.name}: {s.object} {s.measure}" + (f" by {s.group_by}" if s.group_by else "")
             + (f" and {s.group_by2}" if s.group_by2 else "") + f" ({s.chart})" for s in specs]
    emit(args, [s.to_json() for s in specs], lines or ["no saved reports"])
    return 0


def cmd_forecast(crm, args) -> int:
    from .args import emit

    rows = crm.reports.forecast(args.by)
    head = "Close month" if args.by == "month" else "Owner"
    width = max([len(r.group) for r in rows] + [len(head)])
    lines = [f"{head.ljust(width)}  {'open deals':>10}  {'open amount':>12}  {'weighted':>12}  {'won deals':>9}  {'won amount':>12}"]
    for r in rows:
        lines.append(f"{r.group.ljust(width)}  {r.open_deals:>10}  {_value_text(r.open_amount):>12}  "
                     f"{_value_text(r.weighted_amount):>12}  {r.won_deals:>9}  {_value_text(r.won_amount):>12}")
    if rows:
        lines.append(f"{'Total'.ljust(width)}  {sum(r.open_deals for r in rows):>10}  "
                     f"{_value_text(sum(r.open_amount for r in rows)):>12}  {_value_text(sum(r.weighted_amount for r in rows)):>12}  "
                     f"{sum(r.won_deals for r in rows):>9}  {_value_text(sum(r.won_amount for r in rows)):>12}")
    else:
        lines.append("no deals")
    emit(args, [r.to_json() for r in rows], lines)
    return 0


HANDLERS = {"report": cmd_report, "reports": cmd_reports, "forecast": cmd_forecast}
