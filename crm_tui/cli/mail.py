"""`crm-tui mail log [FILE]` (a message on stdin, as mutt's pipe-message sends it) and
`crm-tui mail scan PATH` (a Maildir or mbox): mail logged as email activities on its contacts."""

from __future__ import annotations

MAIL_COMMANDS = {"mail"}


def add_mail_commands(sub, common) -> None:
    mail = sub.add_parser("mail", parents=[common], help="log mail as email activities on its contacts (log, scan)")
    msub = mail.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = msub.add_parser("log", parents=[common],
                        help="log one message (a FILE, or stdin as mutt's pipe-message sends it)")
    p.add_argument("file", nargs="?", help="the message file (default: stdin)")
    p.add_argument("--create", action="store_true",
                   help="add an unknown sender as a contact (a sent message: its unknown To recipients)")
    p = msub.add_parser("scan", parents=[common], help="log the new messages of a Maildir or an mbox file")
    p.add_argument("path", help="a Maildir folder (with cur/ and new/) or an mbox file")
    p.add_argument("--create", action="store_true", help="add unknown senders as contacts")
    p = msub.add_parser("thread", parents=[common], help="the emails of an email's thread, oldest first")
    p.add_argument("email_id", type=_email_id, metavar="EMAIL_ID")


def _email_id(text):
    from .args import _id

    return _id(text)


def _mail(crm):
    from ..importing.mail import Mail
    from ..storage.config import load_config

    config, _warnings = load_config()  # the command has printed the warnings already
    return Mail(crm, config.my_addresses)


def cmd_mail(crm, args) -> int:
    import sys

    from .args import emit

    if args.action == "log":
        from ..importing.mail import read_input

        raw = read_input(args.file)  # read once: a run again after a lost race logs the same bytes
        result = crm.retrying(lambda: _mail(crm).log(raw, create=args.create))
        for problem in result.problems:
            print(f"warning: {problem}", file=sys.stderr)
        emit(args, result.to_json(), result.message)
        return 0 if result.status in ("logged", "already") else 1
    if args.action == "scan":
        tty = sys.stderr.isatty()
        state = {"shown": 0}

        def progress(done, total, result):
            if tty and (done == total or done - state["shown"] >= 25):
                state["shown"] = done
                width = 30
                filled = int(width * done / max(total, 1))
                print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}  logged {result.logged:,}",
                      end="", file=sys.stderr, flush=True)

        mail = _mail(crm)
        try:
            result = mail.scan(args.path, create=args.create, progress=progress)
        except KeyboardInterrupt:
            if tty:
                print(file=sys.stderr)
            print("interrupted: the messages read so far are kept; run the same scan again to resume", file=sys.stderr)
            return 130
        if tty and result.total:
            print(file=sys.stderr)
        for problem in result.problems[:20]:
            print(f"warning: {problem}", file=sys.stderr)
        if len(result.problems) > 20:
            print(f"warning: ... and {len(result.problems) - 20} more", file=sys.stderr)
        emit(args, {"path": result.path, "kind": result.kind, **result.counts(), "problems": result.problems},
             result.summary())
        return 0
    if args.action == "thread":
        meta = crm.registry.get("emails")
        model = meta.model
        row = crm.records.get("emails", args.email_id)
        thread = row.properties.get("hs_email_thread_id") or row.properties.get("hs_email_message_id")
        rows = list(model.select(model.id, model.hs_timestamp, model.hs_email_direction, model.hs_email_from,
                                 model.hs_email_subject).where(
            (model.hs_email_thread_id == thread) & model.deleted_at.is_null(True)).order_by(
            model.hs_timestamp, model.id).tuples()) if thread else []
        if not rows:
            rows = [(row.id, row.properties.get("hs_timestamp"), row.properties.get("hs_email_direction"),
                     row.properties.get("hs_email_from"), row.properties.get("hs_email_subject"))]
        data = [{"id": r[0], "at": r[1], "direction": r[2], "from": r[3], "subject": r[4]} for r in rows]
        from .args import show_value  # lazy like this command's other imports

        lines = [f"{r[0]:>6}  {show_value(meta, 'hs_timestamp', r[1], crm):<16}  "
                 f"{'sent' if r[2] == 'EMAIL' else 'received':<8}  {r[3] or ''}  {r[4] or ''}" for r in rows]
        emit(args, data, lines)
        return 0
    return 2


HANDLERS = {"mail": cmd_mail}
