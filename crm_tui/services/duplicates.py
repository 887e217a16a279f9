"""The duplicate finder: likely pairs of records of one object, each with a score and its reasons.

Records are read once, in id order and in batches, and put into blocks by keys that duplicates
share (a normalised phone number, an email address with its free-mail aliases taken off, a name,
a name at a company, a company domain without its "www." or country ending): only records of one
block are compared, never all pairs, so a million contacts take seconds. A block bigger than
BLOCK_LIMIT records is not evidence (a switchboard number, a common name): it is skipped and
counted. Names inside a block are compared with rapidfuzz (a maintained C implementation of edit
distances), and a first name that is the start of the other ("Jon", "Jonathan") counts as close.

Pairs the user rejected are remembered (setting `duplicates_rejected:OBJECT`) and not shown again.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from ..storage import dialect
from ..domain.errors import InvalidValue

BLOCK_LIMIT = 8  # records sharing one key; beyond it the key says nothing about identity
BATCH = 5000
MIN_SCORE = 0.5
GMAIL = frozenset({"gmail.com", "googlemail.com"})
LEGAL_SUFFIXES = frozenset("inc incorporated ltd limited llc llp gmbh ag sa sas sarl bv nv plc corp corporation co "
                           "company kg oy ab as spa srl pty".split())
_NOT_WORD = re.compile(r"[^\w]+")
_NOT_DIGIT = re.compile(r"\D+")

# evidence weights: one strong reason makes a likely pair; several weak ones add up
WEIGHTS = {
    "same phone number": 0.7,
    "same email address (alias)": 0.95,
    "same name at the same company": 0.9,
    "same name": 0.6,
    "close names": 0.5,
    "same domain under another spelling": 0.8,
    "same company name": 0.7,
    "close company names": 0.5,
}


@dataclass
class DuplicatePair:
    object: str
    a: int
    b: int
    a_name: str
    b_name: str
    score: float
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"object": self.object, "a": self.a, "b": self.b, "a_name": self.a_name, "b_name": self.b_name,
                "score": round(self.score, 3), "reasons": self.reasons}


@dataclass
class DuplicateScan:
    pairs: list[DuplicatePair]
    records: int
    skipped_blocks: int  # keys shared by more than BLOCK_LIMIT records


@lru_cache(maxsize=200_000)  # names repeat: a million contacts hold a few thousand first names
def fold(text) -> str:
    """Lower case, accents off, punctuation to single spaces."""
    text = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


def phone_key(value) -> str | None:
    """The last nine digits: "+1 (555) 010-2030" and "555 010 2030" meet, country codes aside."""
    digits = _NOT_DIGIT.sub("", str(value or ""))
    return digits[-9:] if len(digits) >= 7 else None


def email_key(value) -> str | None:
    """An address as the mailbox it reaches: `+tags` off everywhere, dots off at Gmail."""
    text = str(value or "").strip().casefold()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        return None
    local = local.split("+", 1)[0]
    if domain in GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def domain_key(value) -> str | None:
    """A domain's name part: acme.com, www.acme.co.uk and acme.de all give "acme"."""
    text = str(value or "").strip().casefold().removeprefix("www.")
    parts = [p for p in text.split(".") if p]
    if len(parts) < 2:
        return None
    while len(parts) > 1 and (len(parts[-1]) <= 3 or parts[-1] in ("info", "online", "company")):
        parts.pop()
        if len(parts) > 1 and parts[-1] in ("co", "com", "org", "net", "ac", "gov"):
            parts.pop()
            break
    return parts[-1] if parts else None


@lru_cache(maxsize=200_000)
def company_name_key(value) -> str:
    words = [w for w in fold(value).split() if w not in LEGAL_SUFFIXES]
    return " ".join(words)


def _first_names_close(a: str, b: str) -> bool:
    if not a or not b:
        return False
    short, long = sorted((a, b), key=len)
    return long.startswith(short) and len(short) >= 2 or fuzz.ratio(a, b) >= 75


class Duplicates:
    def __init__(self, crm):
        self.crm = crm

    def _rejected_key(self, object_name: str) -> str:
        return f"duplicates_rejected:{object_name}"

    def rejected(self, object_name: str) -> set[tuple[int, int]]:
        return {tuple(sorted(p)) for p in self.crm.setting(self._rejected_key(object_name), []) or []}

    def reject(self, object_name: str, a: int, b: int) -> None:
        """Remember that a and b are not the same: the pair is not offered again."""
        meta = self.crm.registry.get(object_name)
        pairs = self.rejected(meta.name) | {tuple(sorted((int(a), int(b))))}
        self.crm.set_setting(self._rejected_key(meta.name), sorted(list(p) for p in pairs))

    def find(self, object_name: str, *, limit: int | None = None, progress=None) -> DuplicateScan:
        meta = self.crm.registry.get(object_name)
        if meta.is_activity:
            raise InvalidValue(f"{meta.plural_label.lower()} are activities: the duplicate finder looks at records")
        blocks: dict[tuple, list[int]] = {}
        info: dict[int, tuple] = {}
        props = meta.properties
        primary = self._primary_companies(meta) if meta.has_primary_company and "companies" in self.crm.registry.objects else {}
        records = 0
        for rid, row in self._rows(meta):
            records += 1
            keys = []
            if meta.name == "companies":
                dkey = domain_key(row.get("domain"))
                if dkey:
                    keys.append(("domain", dkey))
                nkey = company_name_key(row.get("name"))
                if nkey:
                    keys.append(("cname", nkey))
                    keys.append(("cblock", nkey[:4]))
                info[rid] = (nkey, str(row.get("domain") or ""))
            elif "firstname" in props and "lastname" in props:
                first, last = fold(row.get("firstname")), fold(row.get("lastname"))
                if last:
                    keys.append(("name", last, first[:1]))
                    company = primary.get(rid)
                    if company:
                        keys.append(("name_at", last, first[:1], company))
                for column in ("phone", "mobilephone"):
                    pkey = phone_key(row.get(column)) if column in props else None
                    if pkey:
                        keys.append(("phone", pkey))
                emails = [row.get("email")] + str(row.get("hs_additional_emails") or "").split(";")
                for email in dict.fromkeys(e for e in emails if e):
                    ekey = email_key(email)
                    if ekey:
                        keys.append(("email", ekey))
                info[rid] = (first, last)
            else:
                nkey = fold(row.get(meta.primary_property))
                if nkey:
                    keys.append(("pname", nkey))
                info[rid] = (nkey,)
            for key in dict.fromkeys(keys):
                blocks.setdefault(key, []).append(rid)
            if progress is not None and records % BATCH == 0:
                progress(records)
        evidence: dict[tuple[int, int], set[str]] = {}
        skipped = 0
        for key, ids in blocks.items():
            if len(ids) < 2:
                continue
            if len(ids) > BLOCK_LIMIT:
                skipped += 1
                continue
            kind = key[0]
            for i in range(len(ids)):
                for j in range(i + 1, len(ids)):
                    a, b = ids[i], ids[j]
                    reason = self._reason(kind, info[a], info[b])
                    if reason:
                        evidence.setdefault((a, b), set()).add(reason)
        rejected = self.rejected(meta.name)
        ids = sorted({rid for pair in evidence for rid in pair})
        names: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            names.update(self.crm.records.display_names(meta, ids[start:start + 500]))
        pairs = []
        for (a, b), reasons in evidence.items():
            if (a, b) in rejected:
                continue
            if "same name at the same company" in reasons:
                reasons.discard("same name")
                reasons.discard("close names")
            if "same company name" in reasons:
                reasons.discard("close company names")
            miss = 1.0
            for reason in reasons:
                miss *= 1.0 - WEIGHTS[reason]
            score = 1.0 - miss
            if score >= MIN_SCORE:
                pairs.append(DuplicatePair(meta.name, a, b, names[a], names[b], score, sorted(reasons, key=lambda r: -WEIGHTS[r])))
        pairs.sort(key=lambda p: (-p.score, p.a, p.b))
        if limit is not None:
            pairs = pairs[:limit]
        return DuplicateScan(pairs, records, skipped)

    @staticmethod
    def _reason(kind: str, x: tuple, y: tuple) -> str | None:
        if kind == "phone":
            # colleagues share an office line: a number in common counts only between similar names
            if all(x) and all(y) and not (_first_names_close(x[0], y[0]) and fuzz.ratio(x[1], y[1]) >= 80):
                return None
            return "same phone number"
        if kind == "email":
            return "same email address (alias)"
        if kind == "domain":
            return "same domain under another spelling" if x[1].casefold() != y[1].casefold() else None
        if kind in ("cname", "cblock"):
            if x[0] == y[0]:
                return "same company name"
            return "close company names" if kind == "cblock" and fuzz.token_sort_ratio(x[0], y[0]) >= 90 else None
        if kind == "pname":
            return "same name"
        first_a, last_a = x
        first_b, last_b = y
        same = first_a == first_b
        close = same or _first_names_close(first_a, first_b)
        if not close:
            return None
        if kind == "name_at":
            return "same name at the same company"
        return "same name" if same else "close names"

    def _rows(self, meta):
        """Live records in id order, in batches, as dicts of the few columns the keys need."""
        model = meta.model
        wanted = [n for n in ("firstname", "lastname", "email", "hs_additional_emails", "phone", "mobilephone",
                              "name", "domain", meta.primary_property) if n in model._meta.fields]
        names = list(dict.fromkeys(wanted))
        fields = [model.id] + [model._meta.fields[n] for n in names]
        after = 0
        while True:
            # the database's own cursor: the values are plain text and numbers, and Peewee's
            # per-value conversion was a third of a million-record scan
            query = (model.select(*fields).where(model.deleted_at.is_null(True) & (model.id > after))
                     .order_by(model.id).limit(BATCH))
            rows = self.crm.db.execute(query).fetchall()
            if not rows:
                return
            for row in rows:
                yield row[0], dict(zip(names, row[1:]))
            after = rows[-1][0]

    def _primary_companies(self, meta) -> dict[int, int]:
        Association = self.crm.models.Association
        companies = self.crm.registry.get("companies")
        q = (Association.select(Association.from_id, Association.to_id)
             .where((Association.from_object == meta.id) & (Association.to_object == companies.id)
                    & dialect.flag_set(Association.is_primary)))
        return dict(self.crm.db.execute(q).fetchall())
