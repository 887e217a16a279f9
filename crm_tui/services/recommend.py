"""Association recommendations: which records of an object a user probably wants to link next.

Used by the record screen's "Add existing" tab. No Textual here: plain dataclasses out.

Three sources, best first, each record listed once (under its best reason):
  1. domain: companies whose domain matches a contact's email domain (never free-mail domains);
     for a company, contacts whose email domain matches its domain.
  2. shared: records linked to the records this one is linked to (a contact's company's deals,
     the other contacts of its companies, ...), most shared links first.
  3. name: full-text matches of this record's name (and a contact's plain-text company name).
Records already linked to the record, the record itself and deleted records are left out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

DOMAIN = "domain"
SHARED = "shared"
NAME = "name"


@dataclass
class Recommendation:
    object: str
    id: int
    display_name: str
    reason: str  # DOMAIN, SHARED or NAME
    detail: str  # one line a user reads: "domain acme.com matches the email"


def recommend(crm, ref, target_object: str, *, limit: int = 10) -> list[Recommendation]:
    """Recommendations of `target_object` records to associate with the record `ref`."""
    meta = crm.registry.get(ref[0])
    target = crm.registry.get(target_object)
    rid = int(ref[1])
    try:
        view = crm.records.get(meta.name, rid)
    except Exception:
        return []
    excluded = set(crm.assoc.linked_ids((meta.name, rid), target.name))
    if target.name == meta.name:
        excluded.add(rid)
    found: dict[int, tuple[str, str]] = {}

    def offer(ids, reason: str, detail: str) -> None:
        for other_id in ids:
            if other_id in excluded or other_id in found or len(found) >= limit:
                continue
            found[other_id] = (reason, detail)

    # 1. domain
    domain = None
    if meta.name == "contacts":
        domain = view.properties.get("hs_email_domain")
    elif meta.name == "companies":
        domain = view.properties.get("domain")
    if domain and domain not in crm.freemail:
        model = target.model
        if meta.name == "contacts" and target.name == "companies":
            ids = [r for (r,) in model.select(model.id).where(
                (model.domain == domain) & model.deleted_at.is_null(True)).order_by(model.id).limit(limit).tuples()]
            offer(ids, DOMAIN, f"domain {domain} matches the email")
        elif meta.name == "companies" and target.name == "contacts":
            ids = [r for (r,) in model.select(model.id).where(
                (model.hs_email_domain == domain) & model.deleted_at.is_null(True)).order_by(model.id).limit(limit).tuples()]
            offer(ids, DOMAIN, f"email domain matches {domain}")

    # 2. shared associations (bounded: at most 50 neighbours, 200 links each)
    if len(found) < limit:
        shared: Counter[int] = Counter()
        via: dict[int, str] = {}
        for group in crm.assoc.groups((meta.name, rid), per_group=50):
            neighbour_meta = crm.registry.get(group.object)
            if neighbour_meta.is_activity:
                continue
            for item in group.items:
                for other_id in crm.assoc.linked_ids((group.object, item.id), target.name)[:200]:
                    if other_id in excluded:
                        continue
                    shared[other_id] += 1
                    via.setdefault(other_id, f"{neighbour_meta.label.lower()} {item.display_name}")
        live = _live_ids(target, [i for i, _ in shared.most_common(limit * 3)])
        ordered = [i for i, _ in shared.most_common() if i in live]
        for other_id in ordered:
            offer([other_id], SHARED, f"also linked to {via[other_id]}")

    # 3. name matches
    if len(found) < limit:
        texts = []
        if meta.name == "contacts" and view.properties.get("company"):
            texts.append(str(view.properties["company"]))
        if not (meta.name == "contacts" and target.name == "contacts"):
            texts.append(view.display_name)
        for text in texts:
            hits = crm.search.records(target.name, text, limit * 2 + 1)
            offer([hit.id for hit in hits], NAME, f"name matches {text!r}")

    names = crm.records.display_names(target, list(found))
    return [Recommendation(target.name, other_id, names.get(other_id, f"#{other_id}"), reason, detail)
            for other_id, (reason, detail) in found.items()]


def _live_ids(meta, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    model = meta.model
    return {r for (r,) in model.select(model.id).where(model.id.in_(ids) & model.deleted_at.is_null(True)).tuples()}
