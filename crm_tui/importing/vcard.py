"""Reading address books (.vcf: vCard 2.1, 3.0 and 4.0) and writing vCard 4.0.

Reading turns each card into a plain contact dict:
    firstname, lastname, email (the preferred or first address), emails (all), phone (preferred or
    first), phones (all), jobtitle, company (first component of ORG), city, country (from the
    preferred or first ADR), note
with "" (or []) where the card has nothing. Odd input never raises: lines and cards that cannot be
read are skipped and described in `problems`.

Real exports differ: folded lines (a leading space or tab continues the previous line), 2.1
QUOTED-PRINTABLE values with `=` soft line breaks and CHARSET parameters, base64 photos spread over
unindented lines, CR CR LF line ends (iPhone), grouped properties (`item1.EMAIL`), TYPE=PREF or
PREF=1, backslash escapes (`\\n`, `\\,`, `\\;`, Apple's `\\:`), nested AGENT cards.
"""

from __future__ import annotations

import codecs
import io
import os
import quopri
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from ..domain.values import clean_text

CONTACT_FIELDS = ("firstname", "lastname", "email", "emails", "phone", "phones", "jobtitle", "company",
                  "city", "country", "note", "address", "state", "zip", "work_phone", "mobilephone", "fax",
                  "additional_emails", "birthday", "website", "salutation")
_CHUNK = 1 << 16
_MAX_PROBLEMS = 200  # a huge broken file must not grow an unbounded list

# Line ends: LF, CR LF, CR CR LF (iPhone), or a bare CR (old Macs).
_EOL = re.compile(rb"\r*\n|\r+")
_PROPERTY_START = re.compile(rb"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)?[;:]")
_PROPERTY = re.compile(
    rb"(?:(?P<group>[A-Za-z0-9_-]+)\.)?(?P<name>[A-Za-z0-9_-]+)"  # item1.EMAIL
    rb'(?P<params>(?:;(?:"[^"]*"|[^";:])*)*)'  # ;TYPE="work,voice";PREF=1 (a quoted value may hold ':')
    rb":(?P<value>.*)",
    re.DOTALL,
)
_PARAM = re.compile(rb';((?:"[^"]*"|[^";])*)')
_QUOTED_PRINTABLE = re.compile(rb"QUOTED-PRINTABLE", re.I)
_BASE64 = re.compile(rb"[;=]\s*(?:BASE64|B)\s*(?:;|$)", re.I)
_BARE_ENCODINGS = {"QUOTED-PRINTABLE", "BASE64", "B", "8BIT", "7BIT"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


@dataclass
class VcardRead:
    contacts: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class _Property:
    name: str
    params: dict[str, list[str]]
    value: str  # decoded, still escaped
    index: int  # position in the card, to break preference ties

    @property
    def preference(self) -> tuple[int, int]:
        """Smaller is preferred: PREF=1 (vCard 4.0) or TYPE=PREF (2.1, 3.0) first, then file order."""
        if "PREF" in self.params:
            try:
                return int(self.params["PREF"][0]), self.index
            except (ValueError, IndexError):
                return 1, self.index
        if "PREF" in self.params.get("TYPE", ()):
            return 1, self.index
        return 101, self.index


# ---------------------------------------------------------------- reading


def read_vcards(path: str | os.PathLike) -> VcardRead:
    """All contacts of a .vcf file, and the problems met."""
    with open(path, "rb") as f:
        return _collect(f)


def parse_vcards(data: bytes | str) -> VcardRead:
    """All contacts of .vcf content given as bytes or text."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return _collect(io.BytesIO(data))


def iter_vcards(stream: BinaryIO, problems: list[str]) -> Iterator[dict]:
    """Contacts one at a time from a binary stream (memory stays flat); problems are appended."""
    card: list[tuple[int, bytes]] | None = None
    start = depth = 0
    outside, first_outside = 0, 0
    for line_no, line in _logical_lines(_physical_lines(_chunks(stream))):
        marker = line.strip().upper()
        if marker == b"BEGIN:VCARD":
            if card is None:
                card, start = [], line_no
            else:
                depth += 1  # a card nested in a card (vCard 2.1 AGENT): skipped
            continue
        if marker == b"END:VCARD":
            if depth:
                depth -= 1
            elif card is None:
                _report(problems, f"line {line_no}: END:VCARD without BEGIN:VCARD")
            else:
                contact = _contact_or_problem(card, start, problems)
                card = None
                if contact is not None:
                    yield contact
            continue
        if card is None:
            if marker:
                outside += 1
                first_outside = first_outside or line_no
            continue
        if depth:
            continue
        if marker.startswith(b"AGENT:BEGIN:VCARD"):
            # vCard 3.0 escapes the whole agent card into this one line; otherwise its lines follow.
            if b"END:VCARD" not in marker:
                depth += 1
            continue
        card.append((line_no, line))
    if card is not None:
        _report(problems, f"line {start}: the card has no END:VCARD (file cut short?)")
        contact = _contact_or_problem(card, start, problems)
        if contact is not None:
            yield contact
    if outside:
        _report(problems, f"{outside} line(s) outside any BEGIN:VCARD/END:VCARD were ignored "
                          f"(first on line {first_outside})")


def _collect(stream: BinaryIO) -> VcardRead:
    result = VcardRead()
    result.contacts = list(iter_vcards(stream, result.problems))
    if not result.contacts and not result.problems:
        result.problems.append("no vCard found (no BEGIN:VCARD line)")
    return result


def _report(problems: list[str], message: str) -> None:
    if len(problems) < _MAX_PROBLEMS:
        problems.append(message)
    elif len(problems) == _MAX_PROBLEMS:
        problems.append("more problems were not listed")


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    """The stream's bytes in chunks, as UTF-8: a BOM is dropped, UTF-16 (some Windows exports) re-encoded."""
    first = stream.read(_CHUNK)
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        yield (first + stream.read()).decode("utf-16", errors="replace").encode("utf-8")
        return
    yield first.removeprefix(codecs.BOM_UTF8)
    yield from iter(lambda: stream.read(_CHUNK), b"")


def _physical_lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) for every line, whatever the line ends."""
    buffer = b""
    number = 0
    for chunk in chunks:
        buffer += chunk
        # Trailing CRs may be the start of a CR LF or CR CR LF split across chunks: keep them.
        complete = len(buffer.rstrip(b"\r"))
        lines = _EOL.split(buffer[:complete])
        buffer = lines.pop() + buffer[complete:]
        for line in lines:
            number += 1
            yield number, line
    for line in _EOL.split(buffer):
        number += 1
        yield number, line


def _logical_lines(lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    """Unfolded content lines: folding, quoted-printable soft breaks and base64 bodies joined.
    The pieces of a line are gathered in a list and joined once: adding bytes to bytes copies the
    whole line each time, which made a 5 MB PHOTO (70,000 folded lines) take seconds."""
    parts: list[bytes] | None = None
    start = 0
    quoted_printable = base64 = False
    for number, line in lines:
        if parts is not None:
            if quoted_printable and parts[-1].endswith(b"=") and not _is_card_marker(line):
                parts[-1] = parts[-1][:-1]  # "=" at the end of a line is a soft line break
                parts.append(line)
                continue
            if line[:1] in (b" ", b"\t"):
                parts.append(line[1:])
                continue
            if base64 and line and not _PROPERTY_START.match(line):
                parts.append(line)  # vCard 2.1 base64 data runs on unindented lines up to a blank line
                continue
            yield start, b"".join(parts)
            parts = None
        if line:
            parts, start = [line], number
            prefix = line.split(b":", 1)[0]
            quoted_printable = bool(_QUOTED_PRINTABLE.search(prefix))
            base64 = bool(_BASE64.search(prefix))
    if parts is not None:
        yield start, b"".join(parts)


def _is_card_marker(line: bytes) -> bool:
    return line.strip().upper() in (b"BEGIN:VCARD", b"END:VCARD")


def _contact_or_problem(card: list[tuple[int, bytes]], start: int, problems: list[str]) -> dict | None:
    try:
        contact = _contact(card, problems)
    except Exception as exc:  # noqa: BLE001 - one broken card must not stop an address book import
        _report(problems, f"line {start}: the card could not be read ({exc}); skipped")
        return None
    if not any(contact[key] for key in ("firstname", "lastname", "email", "phone", "company")):
        _report(problems, f"line {start}: the card has no name, email, phone or company; skipped")
        return None
    return contact


def _contact(card: list[tuple[int, bytes]], problems: list[str]) -> dict:
    properties: dict[str, list[_Property]] = {}
    for index, (line_no, line) in enumerate(card):
        m = _PROPERTY.fullmatch(line)
        if m is None:
            shown = line[:40].decode("latin-1")
            _report(problems, f"line {line_no}: not a vCard property, skipped: {shown!r}")
            continue
        name = m["name"].decode("ascii").upper()
        params = _params(m["params"])
        value = _decode_value(m["value"], params)
        if value is not None:
            properties.setdefault(name, []).append(_Property(name, params, value, index))

    def texts(name: str) -> list[str]:
        return [text for p in properties.get(name, ()) if (text := _text(p.value))]

    def preferred(name: str) -> _Property | None:
        candidates = [p for p in properties.get(name, ()) if p.value.strip()]
        return min(candidates, key=lambda p: p.preference) if candidates else None

    emails = _ordered_unique(_strip_scheme(p.value, "mailto:") for p in _by_preference(properties, "EMAIL"))
    phones = _ordered_unique(_phone(p.value) for p in _by_preference(properties, "TEL"))
    company = _components(org.value)[0] if (org := preferred("ORG")) else ""
    address = _components(adr.value) if (adr := preferred("ADR")) else []
    names = _components(properties["N"][0].value) if "N" in properties else []
    lastname, firstname = (names + ["", ""])[:2]
    full = next(iter(texts("FN")), "")
    # Without N, split FN - unless FN only repeats the email, phone or company of a nameless card.
    if not firstname and not lastname and full and full not in (*emails, *phones, company):
        *given, family = full.split()
        firstname, lastname = (" ".join(given), family) if given else (family, "")
    address += [""] * (7 - len(address))
    typed = [(p, {t.strip() for value in p.params.get("TYPE", ()) for t in value.split(",")})
             for p in _by_preference(properties, "TEL")]
    mobile = next((_phone(p.value) for p, types in typed if "CELL" in types), "")
    fax = next((_phone(p.value) for p, types in typed if "FAX" in types), "")
    phone = next((_phone(p.value) for p, types in typed if not types & {"CELL", "FAX"}), "") or \
        (phones[0] if phones and phones[0] not in (mobile, fax) else "")
    others = [p for p in phones if p not in (phone, mobile, fax)]
    if others:  # a second work or home number: kept with the first, not dropped
        phone = ", ".join([phone, *others]) if phone else ", ".join(others)
    prefix = (names + [""] * 4)[3]
    return {
        "firstname": firstname,
        "lastname": lastname,
        "email": emails[0] if emails else "",
        "emails": emails,
        "phone": phones[0] if phones else "",
        "phones": phones,
        "jobtitle": next(iter(texts("TITLE")), ""),
        "company": company,
        "city": address[3],
        "country": address[6],
        "note": "\n\n".join(texts("NOTE")),
        # the rest of the card, so that an import keeps it (crm_tui/importing/importer.VCARD_COLUMNS)
        "address": "\n".join(part for part in address[1:3] if part),
        "state": address[4],
        "zip": address[5],
        "work_phone": phone,
        "mobilephone": mobile,
        "fax": fax,
        "additional_emails": ";".join(emails[1:]),
        "birthday": next(iter(texts("BDAY")), ""),
        "website": next(iter(texts("URL")), ""),
        "salutation": prefix,
    }


def _params(raw: bytes) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for m in _PARAM.finditer(raw):
        item = m[1].decode("latin-1").strip()
        if not item:
            continue
        if "=" in item:
            key, _, value = item.partition("=")
            key = key.strip().upper()
            values = [v.strip().strip('"') for v in re.split(r',(?=(?:[^"]*"[^"]*")*[^"]*$)', value)]
        else:  # vCard 2.1 bare parameter: "TEL;WORK;VOICE", "NOTE;QUOTED-PRINTABLE"
            key = "ENCODING" if item.upper() in _BARE_ENCODINGS else "TYPE"
            values = [item]
        if key in ("TYPE", "ENCODING"):
            values = [v.upper() for v in values]
        params.setdefault(key, []).extend(v for v in values if v)
    return params


def _decode_value(raw: bytes, params: dict[str, list[str]]) -> str | None:
    """The value as text (escapes still in), or None for binary data (photos, keys)."""
    encoding = (params.get("ENCODING") or [""])[0]
    if encoding in ("B", "BASE64"):
        return None
    if encoding in ("QUOTED-PRINTABLE", "QP"):
        raw = quopri.decodestring(raw)
    charset = (params.get("CHARSET") or [""])[0]
    if charset:
        try:
            return raw.decode(charset, errors="replace")
        except LookupError:
            pass
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _unescape(value: str) -> str:
    """vCard text escapes: \\n and \\N are newlines, a backslash before anything else is dropped."""
    if "\\" not in value:
        return value
    return _ESCAPE.sub(lambda m: "\n" if m[1] in "nN" else m[1], value)


def _text(value: str) -> str:
    return clean_text(_unescape(value)).strip()


def _components(value: str) -> list[str]:
    """A structured value (N, ADR, ORG) split at unescaped semicolons, each part unescaped."""
    parts, current, i = [], [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            current.append(value[i: i + 2])
            i += 2
            continue
        if ch == ";":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return [_text(part) for part in parts]


def _by_preference(properties: dict[str, list[_Property]], name: str) -> list[_Property]:
    return sorted(properties.get(name, ()), key=lambda p: p.preference)


def _strip_scheme(value: str, scheme: str) -> str:
    text = _text(value)
    return text[len(scheme):].strip() if text[: len(scheme)].lower() == scheme else text


def _phone(value: str) -> str:
    text = _strip_scheme(value, "tel:")
    return text.replace(";ext=", " ext. ") if "tel:" in value[:4].lower() else text


def _ordered_unique(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for value in values:
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            unique.append(value)
    return unique


# ---------------------------------------------------------------- writing


def write_vcard4(contacts: Iterable[Mapping]) -> str:
    """vCard 4.0 text (CRLF line ends, lines folded at 75 octets) for contact dicts with the keys
    read_vcards produces (and optionally "website")."""
    return "".join(_fold(line) + "\r\n" for contact in contacts for line in _card_lines(contact))


def _card_lines(contact: Mapping) -> list[str]:
    def get(key: str) -> str:
        value = contact.get(key)
        return clean_text(str(value)).strip() if value is not None else ""

    def get_all(one: str, many: str) -> list[str]:
        more = contact.get(many) or ()
        if isinstance(more, str):
            more = [more]
        return _ordered_unique([get(one)] + [clean_text(str(v)).strip() for v in more if v is not None])

    first, last = get("firstname"), get("lastname")
    emails, phones = get_all("email", "emails"), get_all("phone", "phones")
    company, title, city, country = get("company"), get("jobtitle"), get("city"), get("country")
    note, website = get("note"), get("website")
    full_name = " ".join(part for part in (first, last) if part) or company or next(iter(emails + phones), "")

    lines = ["BEGIN:VCARD", "VERSION:4.0", "PRODID:-//crm-tui//EN", "FN:" + _escape(full_name)]
    if first or last:
        lines.append("N:" + ";".join(_escape(part) for part in (last, first, "", "", "")))
    for i, email in enumerate(emails):
        lines.append(("EMAIL;PREF=1:" if i == 0 and len(emails) > 1 else "EMAIL:") + _escape(email))
    for i, phone in enumerate(phones):
        lines.append(("TEL;PREF=1:" if i == 0 and len(phones) > 1 else "TEL:") + _escape(phone))
    if title:
        lines.append("TITLE:" + _escape(title))
    if company:
        lines.append("ORG:" + _escape(company))
    if city or country:
        lines.append("ADR:" + ";".join(_escape(part) for part in ("", "", "", city, "", "", country)))
    if website:
        lines.append("URL:" + " ".join(website.split()))  # a URI: no text escaping
    if note:
        lines.append("NOTE:" + _escape(note))
    lines.append("END:VCARD")
    return lines


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace(",", "\\,").replace(";", "\\;")


def _fold(line: str) -> str:
    """Fold at 75 octets (RFC 6350 3.2), never inside a UTF-8 sequence; continuations start with a space."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line
    pieces, start, limit = [], 0, 75
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte: step back
            end -= 1
        pieces.append(data[start:end].decode("utf-8"))
        start, limit = end, 74  # the leading space counts towards the 75
    return "\r\n ".join(pieces)
