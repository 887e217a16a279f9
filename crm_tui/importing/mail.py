"""Mail from the mail client: `crm-tui mail log [FILE]` and `crm-tui mail scan PATH`.

A message (RFC 5322, as mutt's pipe-message, aerc's :pipe or a Maildir file holds it) is read with
the stdlib `email` package (policy.default) and logged as one email activity on every contact whose
address (email or additional emails) is in From, To or Cc; `create` adds an unknown sender as a
contact. The activity keeps the subject, the body text (text/plain preferred; HTML reduced to its
literal text), the Date, the direction (From one of your own addresses: Sent), Cc, the attachments
by name and size, the Message-ID (a message is logged once) and a thread id (the first message of
its References / In-Reply-To chain known here). Nothing in a message is ever a traceback: a broken
header or part is read as far as it goes, and what could not be read is said in one line.

A scan reads a Maildir (mailbox.Maildir) or an mbox file (mailbox.mbox) and logs each message the
same way, each in its own transaction under one `mail_scan` operation, remembering every message
it has read (MailSeen: a Maildir key, an mbox message's digest), so the next scan reads only new
ones and an interrupted scan resumes where it stopped.
"""

from __future__ import annotations

import email
import hashlib
import json
import mailbox
import re
from dataclasses import dataclass, field
from datetime import timezone
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path

from ..domain import sources
from ..domain.errors import CrmError, InvalidValue
from ..domain.sanitize import clean_line
from ..domain.types import format_datetime, now_iso
from ..services import rules

MAX_MESSAGE_BYTES = 50 * 1024 * 1024  # a bigger "message" on stdin is not a mail
MAX_BODY_CHARS = 100_000  # the body text kept on the activity
_MSGID = re.compile(r"<[^<>\s]+>")


# -- reading a message -------------------------------------------------------------------------

@dataclass
class ParsedMail:
    message_id: str
    subject: str
    sender: list[tuple[str, str]]  # (display name, address lower case)
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    date: str | None  # the stored datetime form, UTC
    body: str
    attachments: list[tuple[str, int]]  # (file name, size in bytes)
    references: list[str]  # In-Reply-To and References, oldest first
    problems: list[str] = field(default_factory=list)

    @property
    def addresses(self) -> list[str]:
        return list(dict.fromkeys(a for _n, a in self.sender + self.to + self.cc))


class _TextOfHtml(HTMLParser):
    """The literal text of an HTML body: no scripts, styles or head, a line break per block."""

    SKIP = {"script", "style", "head", "title", "template", "noscript"}
    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
              "table", "ul", "ol", "hr", "section", "article", "header", "footer"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag, attrs):
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)

    def text(self) -> str:
        lines = [" ".join(line.split()) for line in "".join(self.parts).splitlines()]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    parser = _TextOfHtml()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; anything left is kept as read so far
        pass
    return parser.text()


def _header(msg, name: str, problems: list[str]) -> str:
    """A header as text (RFC 2047 words decoded); a header the parser cannot read, as raw text."""
    try:
        value = msg.get(name)
    except Exception as exc:  # a malformed header the policy refuses
        problems.append(f"{name} header unreadable ({type(exc).__name__})")
        raw = [v for k, v in msg.raw_items() if k.lower() == name.lower()]
        return clean_line(str(raw[0])) if raw else ""
    return clean_line(str(value)) if value is not None else ""


def _addresses(msg, name: str, problems: list[str]) -> list[tuple[str, str]]:
    out = []
    try:
        header = msg.get(name)
        items = [(a.display_name, a.addr_spec) for a in header.addresses] if header is not None else []
    except Exception:
        items = getaddresses([_header(msg, name, problems)])
    for display, address in items:
        address = clean_line(address or "").strip().strip("<>").lower()
        if "@" in address and len(address) <= 254 and not any(c.isspace() for c in address):
            out.append((clean_line(display or "").strip(), address))
    return out


def _part_text(part, problems: list[str]) -> str:
    try:
        return part.get_content()
    except Exception as exc:  # an unknown charset, a broken transfer encoding
        payload = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "utf-8"
        try:
            text = payload.decode(charset, errors="replace")
        except LookupError:
            text = payload.decode("utf-8", errors="replace")
            problems.append(f"unknown charset {charset!r} in the body, read as UTF-8")
        else:
            problems.append(f"body part unreadable as declared ({type(exc).__name__}), read with replacements")
        return text


def parse_message(raw: bytes) -> ParsedMail:
    """The parts of a message the CRM keeps. Never raises for a broken message: what could not be
    read is in `problems`. Raises InvalidValue only when the input is no mail at all."""
    if not raw or not raw.strip():
        raise InvalidValue("no message: the input is empty")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise InvalidValue(f"not a mail message: {len(raw):,} bytes (the limit is {MAX_MESSAGE_BYTES:,})")
    problems: list[str] = []
    msg: EmailMessage = email.message_from_bytes(raw, policy=policy.default)
    if not any(True for _ in msg.raw_items()) or not any(msg.get(h) is not None for h in ("From", "To", "Subject", "Message-ID", "Date")):
        raise InvalidValue("not a mail message: no From, To, Subject, Message-ID or Date header")
    for defect in msg.defects[:1]:
        problems.append(f"malformed message ({type(defect).__name__})")
    message_id = (_MSGID.findall(_header(msg, "Message-ID", problems)) or [""])[0]
    if not message_id:
        message_id = f"<{hashlib.sha256(raw).hexdigest()[:32]}@crm-tui.invalid>"
        problems.append("no Message-ID: the message is known by its content")
    references = _MSGID.findall(_header(msg, "References", problems))
    for parent in _MSGID.findall(_header(msg, "In-Reply-To", problems)):
        if parent not in references:
            references.append(parent)
    date = None
    date_text = _header(msg, "Date", problems)
    if date_text:
        try:
            moment = parsedate_to_datetime(date_text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            date = format_datetime(moment.astimezone(timezone.utc))
        except (TypeError, ValueError, IndexError, OverflowError):
            problems.append(f"Date header {date_text[:40]!r} unreadable: logged with the time it was read")
    else:
        problems.append("no Date header: logged with the time it was read")
    body = ""
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is not None:
        text = _part_text(part, problems)
        body = html_to_text(text) if part.get_content_subtype() == "html" else text
    elif not msg.is_multipart() and msg.get_content_maintype() == "text":
        body = _part_text(msg, problems)
    attachments = []
    for item in msg.walk():
        if item.is_multipart() or item is part:
            continue
        try:
            disposition = item.get_content_disposition()
            name = item.get_filename()
        except Exception:
            disposition, name = None, None
        if disposition != "attachment" and not name and (item is msg or item.get_content_maintype() == "text"):
            continue
        if item is msg and not msg.is_multipart() and disposition != "attachment":
            continue
        try:
            size = len(item.get_payload(decode=True) or b"")
        except Exception:
            size = 0
        attachments.append((clean_line(name or f"(unnamed {item.get_content_type()})"), size))
    body = body.replace("\r\n", "\n").strip()
    if len(body) > MAX_BODY_CHARS:
        body = body[:MAX_BODY_CHARS] + "\n[... cut: the body is longer than 100,000 characters]"
    return ParsedMail(message_id=message_id, subject=_header(msg, "Subject", problems),
                      sender=_addresses(msg, "From", problems), to=_addresses(msg, "To", problems),
                      cc=_addresses(msg, "Cc", problems), date=date, body=body, attachments=attachments,
                      references=references, problems=problems)


def _shown(people: list[tuple[str, str]]) -> str:
    return ", ".join(f"{name} <{address}>" if name else address for name, address in people)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def _split_name(display: str) -> dict:
    display = display.strip().strip('"').strip()
    if not display or "@" in display:
        return {}
    if "," in display:
        last, _, first = display.partition(",")
        return {"firstname": first.strip() or None, "lastname": last.strip() or None}
    first, _, last = display.rpartition(" ")
    if not first:
        return {"firstname": last}
    return {"firstname": first, "lastname": last}


# -- logging -----------------------------------------------------------------------------------

@dataclass
class MailResult:
    status: str  # logged, already, no_contact
    message: str
    email_id: int | None = None
    contacts: list[int] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"status": self.status, "email_id": self.email_id, "contacts": self.contacts,
                "created_contacts": self.created, "problems": self.problems, "message": self.message}


class Mail:
    """Logs messages on an open CRM. `my_addresses`: the user's own addresses (the config's)."""

    def __init__(self, crm, my_addresses=(), *, source: str = sources.API, actor: str | None = None):
        self.crm = crm
        self.mine = {a.lower() for a in my_addresses}
        Owner = crm.models.Owner
        self.mine |= {e.lower() for (e,) in Owner.select(Owner.email).where(
            (Owner.is_me == True) & Owner.email.is_null(False)).tuples() if e}  # noqa: E712
        self.source = source
        self.actor = actor
        self._extra: dict[str, set[int]] | None = None  # additional emails -> contacts (scans)

    # contacts by address: the email column is indexed; additional emails are read once per Mail
    def contacts_for(self, addresses: list[str]) -> dict[str, list[int]]:
        meta = self.crm.registry.get("contacts")
        model = meta.model
        found: dict[str, list[int]] = {}
        if not addresses:
            return found
        for rid, address in model.select(model.id, model.email).where(
                model.email.in_(addresses) & model.deleted_at.is_null(True)).order_by(model.id).tuples():
            found.setdefault(address, []).append(rid)
        if "hs_additional_emails" in meta.properties:
            if self._extra is None:
                self._extra = {}
                for rid, text in model.select(model.id, model.hs_additional_emails).where(
                        model.hs_additional_emails.is_null(False) & (model.hs_additional_emails != "")
                        & model.deleted_at.is_null(True)).tuples():
                    for address in rules.addresses_in(text):
                        self._extra.setdefault(address, set()).add(rid)
            for address in addresses:
                for rid in sorted(self._extra.get(address, ())):
                    if rid not in found.get(address, []):
                        found.setdefault(address, []).append(rid)
        return found

    def logged(self, message_id: str) -> tuple[int, bool] | None:
        """(email id, deleted) of the activity of this Message-ID, or None."""
        meta = self.crm.registry.get("emails")
        model = meta.model
        row = model.select(model.id, model.deleted_at).where(model.hs_email_message_id == message_id).order_by(
            model.id).tuples().first()
        return (row[0], row[1] is not None) if row else None

    def thread_of(self, mail: ParsedMail) -> str:
        """The thread id of a known message this one refers to, else the oldest one it names, else its own."""
        if mail.references:
            meta = self.crm.registry.get("emails")
            model = meta.model
            known = dict(model.select(model.hs_email_message_id, model.hs_email_thread_id).where(
                model.hs_email_message_id.in_(mail.references[:200])).tuples())
            for ref in mail.references:
                if known.get(ref):
                    return known[ref]
            return mail.references[0]
        return mail.message_id

    def log(self, raw: bytes, *, create: bool = False, parent: int | None = None) -> MailResult:
        mail = parse_message(raw)
        return self.log_parsed(mail, create=create, parent=parent)

    def log_parsed(self, mail: ParsedMail, *, create: bool = False, parent: int | None = None) -> MailResult:
        crm = self.crm
        subject = mail.subject or "(no subject)"
        have = self.logged(mail.message_id)
        if have is not None:
            email_id, deleted = have
            where = f", in the recycle bin (crm-tui record restore emails {email_id})" if deleted else ""
            return MailResult("already", f"already logged: {subject!r} is email {email_id}{where}", email_id,
                              problems=mail.problems)
        theirs = [a for a in mail.addresses if a not in self.mine]
        found = self.contacts_for(theirs)
        sender = mail.sender[0] if mail.sender else None
        from_me = sender is not None and sender[1] in self.mine
        direction = "EMAIL" if from_me else "INCOMING_EMAIL"
        values = {
            "hs_timestamp": mail.date or now_iso(), "hs_email_subject": mail.subject or None,
            "hs_email_text": mail.body or None, "hs_email_direction": direction,
            "hs_email_from": _shown(mail.sender) or None, "hs_email_to": _shown(mail.to) or None,
            "hs_email_cc": _shown(mail.cc) or None, "hs_email_message_id": mail.message_id,
            "hs_email_thread_id": self.thread_of(mail),
            "hs_email_attachments": "\n".join(f"{name} ({_size(size)})" for name, size in mail.attachments) or None,
        }
        # --create: an unknown sender of a received message; the unknown To recipients of a sent one
        people = [p for p in mail.to if p[1] not in self.mine] if from_me else [sender] if sender else []
        unknown = list({a: (n, a) for n, a in people if a not in found}.values())
        if not found and not (create and unknown):
            who = ", ".join(theirs) or "no address but your own"
            hint = (f"; --create adds the {'recipients' if from_me else 'sender'} as contacts" if unknown else "")
            return MailResult("no_contact", f"not logged: {subject!r}: no contact has {who}{hint}",
                              problems=mail.problems)
        created: list[int] = []
        text = f"Logged email {subject!r}"
        with crm.operation("mail_log", self.source, self.actor, parent=parent,
                           summary={"text": text, "message_id": mail.message_id}) as op:
            for name, address in unknown if create else ():
                result = crm.records.create("contacts", {"email": address, **_split_name(name)},
                                            self.source, actor=self.actor)
                created.append(result.id)
                found[address] = [result.id]
            ids = list(dict.fromkeys(rid for address in mail.addresses for rid in found.get(address, ())))
            refs = [("contacts", rid) for rid in ids]
            logged = crm.activities.log(refs[0], "emails", values, source=self.source, actor=self.actor,
                                        also=refs[1:], allow_read_only=True)
            text = f"Logged email {subject!r} on {len(ids)} contact(s)"
            op.summary = json.dumps({"text": text, "message_id": mail.message_id, "email": logged.id,
                                     "contacts": ids, "created": created})
            op.object, op.record_id = "emails", logged.id
            op.save()
        names = crm.records.display_names(crm.registry.get("contacts"), ids)
        shown = ", ".join(f"{names.get(rid) or rid} ({rid})" for rid in ids)
        message = f"logged email {logged.id} {subject!r} ({'sent' if from_me else 'received'}) on {shown}"
        if created:
            message += f"; created contact(s) {', '.join(map(str, created))}"
        if logged.skipped:
            message += f"; {logged.message.split('; ', 1)[-1]}"
        return MailResult("logged", message, logged.id, ids, created, mail.problems)

    # -- a mailbox ------------------------------------------------------------------------------

    def scan(self, path, *, create: bool = False, progress=None) -> "ScanResult":
        """Log the messages of a Maildir or mbox not read before. `progress(done, total, result)` is
        called after each message. Each message is its own transaction under one operation."""
        box, kind, path = open_mailbox(path)
        MailSeen = self.crm.models.MailSeen
        where = str(path)
        seen = {k for (k,) in MailSeen.select(MailSeen.key).where(MailSeen.mailbox == where).tuples()}
        result = ScanResult(where, kind)
        try:
            keys = list(box.keys())
        except (OSError, mailbox.Error) as exc:
            raise CrmError(f"{path}: cannot read the mailbox: {exc}") from None
        todo = []
        for key in keys:
            if kind == "maildir":
                todo.append((str(key), key))
            else:
                todo.append((None, key))
        result.total = len(todo)
        scan_op = None  # made before the first message not read before: a scan with nothing new leaves no trace
        try:
            for done, (seen_key, key) in enumerate(todo, 1):
                if seen_key is not None and seen_key in seen:
                    result.before += 1
                    if progress:
                        progress(done, result.total, result)
                    continue
                try:
                    raw = box.get_bytes(key)
                except (OSError, KeyError, mailbox.Error) as exc:
                    result.problems.append(f"message {key}: cannot read it ({exc})")
                    continue
                if seen_key is None:
                    seen_key = hashlib.sha256(raw).hexdigest()
                    if seen_key in seen:
                        result.before += 1
                        if progress:
                            progress(done, result.total, result)
                        continue
                if scan_op is None:
                    with self.crm.operation("mail_scan", self.source, self.actor,
                                            summary={"text": f"Mail scan of {where}", "status": "running"}) as scan_op:
                        pass
                self._scan_one(raw, seen_key, where, scan_op.id, create, result)
                seen.add(seen_key)
                if progress:
                    progress(done, result.total, result)
        finally:
            if scan_op is not None:
                self._finish(scan_op, where, result)
        return result

    def _finish(self, scan_op, where: str, result) -> None:
        """The scan's operation says what it did (and that it is no longer running)."""
        Operation = self.crm.models.Operation
        text = (f"Mail scan of {where}: {result.logged} logged, {result.already} already logged, "
                f"{result.no_contact} without a contact")
        Operation.update(summary=json.dumps({"text": text, "status": "done", "counts": result.counts()})).where(
            Operation.id == scan_op.id).execute()

    def _scan_one(self, raw: bytes, seen_key: str, where: str, parent: int, create: bool, result) -> None:
        MailSeen = self.crm.models.MailSeen
        with self.crm.db.atomic():
            try:
                outcome = self.log(raw, create=create, parent=parent)
            except InvalidValue as exc:
                result.problems.append(f"{_message_label(raw, seen_key)}: {exc}")
                outcome = None
            MailSeen.insert(mailbox=where, key=seen_key).on_conflict_ignore().execute()
        if outcome is None:
            result.unreadable += 1
            return
        if outcome.status == "logged":
            result.logged += 1
            result.created += len(outcome.created)
        elif outcome.status == "already":
            result.already += 1
        else:
            result.no_contact += 1
        label = _message_label(raw, seen_key) if outcome.problems else ""
        for problem in outcome.problems:
            result.problems.append(f"{label}: {problem}")


def _message_label(raw: bytes, seen_key: str) -> str:
    """How a scan's warning names a message: its Message-ID, else its subject, else the start of
    the hash it is known by (a message with neither)."""
    from email.parser import BytesHeaderParser

    try:
        headers = BytesHeaderParser().parsebytes(raw[:65536])
        message_id = clean_line(str(headers.get("Message-ID") or "")).strip()
        subject = clean_line(str(headers.get("Subject") or "")).strip()
    except Exception:  # noqa: BLE001 - a header the parser cannot read: the hash names it
        message_id = subject = ""
    if message_id:
        return f"message {message_id[:120]}"
    if subject:
        return f"message {subject[:80]!r}"
    return f"message {seen_key[:16]}"


@dataclass
class ScanResult:
    path: str
    kind: str
    total: int = 0
    before: int = 0  # read by an earlier scan
    logged: int = 0
    already: int = 0
    no_contact: int = 0
    unreadable: int = 0
    created: int = 0
    problems: list[str] = field(default_factory=list)

    def counts(self) -> dict:
        return {"messages": self.total, "read_before": self.before, "logged": self.logged,
                "already_logged": self.already, "no_contact": self.no_contact, "unreadable": self.unreadable,
                "created_contacts": self.created}

    def summary(self) -> str:
        return (f"{self.path} ({self.kind}): {self.total:,} message(s), {self.before:,} read before; "
                f"{self.logged:,} logged, {self.already:,} already logged, {self.no_contact:,} without a contact"
                + (f", {self.unreadable:,} unreadable" if self.unreadable else "")
                + (f"; {self.created:,} contact(s) created" if self.created else ""))


def open_mailbox(path):
    """(mailbox, "maildir" | "mbox", absolute path) or a one-line CrmError."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CrmError(f"{path}: no such Maildir or mbox")
    path = path.resolve()
    if path.is_dir():
        if not all((path / sub).is_dir() for sub in ("cur", "new")):
            raise CrmError(f"{path}: a folder but not a Maildir (no cur/ and new/ in it)")
        return mailbox.Maildir(str(path), factory=None, create=False), "maildir", path
    if not path.is_file():
        raise CrmError(f"{path}: not a Maildir or mbox file (a device or pipe)")
    with open(path, "rb") as handle:
        head = handle.read(5)
    if head and head != b"From ":
        raise CrmError(f"{path}: not an mbox file (it does not start with 'From ')")
    return mailbox.mbox(str(path), factory=None, create=False), "mbox", path


def read_input(file) -> bytes:
    """The message bytes from a file path, or stdin when None or '-'."""
    import sys

    if file in (None, "-"):
        data = sys.stdin.buffer.read(MAX_MESSAGE_BYTES + 1)
        if not data.strip():
            raise InvalidValue("no message on stdin (pipe one in, as mutt's pipe-message does, or name a FILE)")
        return data
    path = Path(file).expanduser()
    if not path.exists():
        raise InvalidValue(f"{path}: no such file")
    if path.is_dir():
        raise InvalidValue(f"{path}: a folder; use `crm-tui mail scan {path}` for a Maildir")
    if not path.is_file():
        raise InvalidValue(f"{path}: not a regular file")
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_MESSAGE_BYTES + 1)
    except OSError as exc:
        raise InvalidValue(f"{path}: cannot read it ({exc.strerror})") from None


__all__ = ["Mail", "MailResult", "ParsedMail", "ScanResult", "html_to_text", "open_mailbox", "parse_message",
           "read_input"]
