"""`crm-tui vdir sync DIR`: contacts <-> a folder of .vcf files (khard, vdirsyncer), both ways."""

from __future__ import annotations

VDIR_COMMANDS = {"vdir"}


def add_vdir_commands(sub, common) -> None:
    p = sub.add_parser("vdir", parents=[common],
                       help="two-way sync of contacts with a vdir (a folder of .vcf files: khard, vdirsyncer)")
    p.add_argument("action", choices=["sync"], help="sync: new, changed and deleted on either side since the last sync")
    p.add_argument("folder", metavar="DIR", help="the address book folder (created when missing)")
    p.add_argument("--force-delete", action="store_true",
                   help="sync even when every card synced before is gone (moves all their contacts to the bin)")


def cmd_vdir(crm, args) -> int:
    from ..domain.sanitize import clean_line
    from ..importing.vdir import sync_vdir
    from .args import emit

    result = sync_vdir(crm, args.folder, force_delete=args.force_delete)
    lines = [result.summary_line()] + [f"  - {clean_line(p)}" for p in result.problems[:50]]
    if len(result.problems) > 50:
        lines.append(f"  ... and {len(result.problems) - 50} more")
    emit(args, result.to_json(), lines)
    return 0
