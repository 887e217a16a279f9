"""`crm-tui duplicates OBJECT`: likely duplicate pairs with a score and reasons; `--reject A B`
remembers a pair that is not one. Merging is `crm-tui record merge OBJECT KEEP OTHER`."""

from __future__ import annotations

DUPLICATE_COMMANDS = {"duplicates"}


def add_duplicate_commands(sub, common) -> None:
    from .args import MAX_ID, _bounded, _limit

    p = sub.add_parser("duplicates", parents=[common], help="likely duplicate records of an object, with reasons")
    p.add_argument("object")
    p.add_argument("--limit", type=_limit, default=50, metavar="N")
    p.add_argument("--reject", nargs=2, type=_bounded("record ID", 1, MAX_ID), metavar=("ID", "ID"),
                   help="remember that these two are not the same (not listed again)")


def cmd_duplicates(crm, args) -> int:
    from .args import emit

    if args.reject:
        a, b = args.reject
        meta = crm.registry.get(args.object)
        for rid in (a, b):
            crm.records.get(meta.name, rid)  # an unknown id: one line
        crm.duplicates.reject(meta.name, a, b)
        emit(args, {"rejected": [a, b]}, f"{meta.name} {a} and {b} will not be offered as duplicates again")
        return 0
    scan = crm.duplicates.find(args.object, limit=args.limit)
    lines = [f"{p.score:.2f}  {p.object}:{p.a} {p.a_name}  ~  {p.object}:{p.b} {p.b_name}  ({', '.join(p.reasons)})"
             for p in scan.pairs]
    lines.append(f"({len(scan.pairs)} likely pair(s) among {scan.records:,} records"
                 + (f"; {scan.skipped_blocks:,} keys shared by too many records to count" if scan.skipped_blocks else "")
                 + "; merge with: crm-tui record merge OBJECT KEEP_ID OTHER_ID)")
    emit(args, [p.to_json() for p in scan.pairs], lines)
    return 0


HANDLERS = {"duplicates": cmd_duplicates}
