"""Deterministic, realistic synthetic data: for the demo database, benchmarks and trying things at scale.

Goes through the core's bulk paths (one operation, executemany on Peewee's SQL, the full-text index
and secondary indexes built after the load), so a million contacts load in well under a minute.
"""

from __future__ import annotations

import random
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..domain import sources
from ..domain.types import format_datetime, whole_number

FIRST = ("Ada Alan Alice Amara Ana Andre Anna Arjun Ava Ben Bianca Carlos Chen Chloe Clara Daniel David Diego "
         "Elena Eli Emma Ethan Fatima Felix Grace Hana Hugo Ian Ines Isaac Jack James Jin Jonas Julia Kai Karim "
         "Lara Leo Liam Lina Lucas Maya Mei Mila Nadia Noah Nora Omar Oscar Priya Rafael Rosa Ruth Sam Sara "
         "Sofia Tariq Theo Uma Victor Wei Yara Yusuf Zoe").split()
LAST = ("Abbott Ahmed Alvarez Andersen Baker Bauer Bell Brooks Campbell Chen Costa Cruz Dalton Diaz Dubois "
        "Edwards Evans Fischer Garcia Gomez Gupta Hall Hansen Harris Hughes Ito Jensen Johnson Kaur Kim Klein "
        "Kowalski Larsen Lee Lopez Martin Meyer Moreau Murphy Nakamura Nguyen Novak Okafor Olsen Patel Petrov "
        "Quinn Reyes Rossi Santos Schmidt Silva Singh Smith Suzuki Tanaka Taylor Thomas Torres Vargas Walker "
        "Wang Weber Williams Wilson Wright Young Zhang").split()
WORDS = ("Acme Apex Arbor Atlas Aurora Beacon Birch Blue Bright Cedar Cobalt Copper Crest Delta Echo Ember "
         "Falcon Fern Forge Global Granite Harbor Helix Horizon Iron Juniper Keystone Lumen Maple Meridian Nimbus "
         "North Nova Oak Orbit Pine Prism Quartz Red River Sage Signal Silver Solar Spruce Summit Terra Tidal "
         "Union Vector Willow Zenith").split()
SUFFIX = "Labs Systems Logistics Foods Health Partners Analytics Robotics Media Energy Works Studio Group Supply".split()
INDUSTRIES = "Software Retail Manufacturing Healthcare Finance Logistics Media Energy Education Hospitality".split()
CITIES = [("Lisbon", "Portugal"), ("Berlin", "Germany"), ("Austin", "United States"), ("Toronto", "Canada"),
          ("Osaka", "Japan"), ("Lagos", "Nigeria"), ("Lyon", "France"), ("Melbourne", "Australia"),
          ("Pune", "India"), ("Bogota", "Colombia"), ("Oslo", "Norway"), ("Leeds", "United Kingdom")]
JOBS = "CEO CTO Buyer Engineer Designer Analyst Founder Consultant Accountant Director Manager Developer".split()
JOBS += ["Head of Sales", "Office Manager", "VP Marketing", "Product Manager", "Operations Lead"]
LIFECYCLE = ["subscriber", "lead", "lead", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"]
FREEMAIL = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com"]
DEAL_STAGES = ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
               "contractsent", "closedwon", "closedlost"]
NOTES = ["Intro call went well; follow up next week.", "Asked for a quote on the annual plan.",
         "Sent the contract draft.", "Wants a demo for the whole team.", "Budget approved for Q3.",
         "Met at the trade fair.", "Prefers email over phone."]


@dataclass
class SeedCounts:
    contacts: int = 0
    companies: int = 0
    deals: int = 0
    tickets: int = 0
    activities: int = 0
    associations: int = 0


def _stamp(rng: random.Random, days_back: int = 730) -> str:
    base = datetime(2026, 11, 1, tzinfo=timezone.utc)
    return format_datetime(base - timedelta(seconds=rng.randrange(days_back * 86400)))


MAX_COUNT = 10_000_000  # records of one object per seed run (1M contacts take ~30 s; 10M ~5 min)


def seed(crm, *, contacts: int = 0, companies: int = 0, deals: int = 0, tickets: int = 0, activities: int = 0,
         seed: int = 1, source: str = sources.API, progress=None) -> SeedCounts:
    """Add synthetic records and links. Same arguments and seed, same data. Each count is a whole
    number from 0 to MAX_COUNT (a typo of a few digits must not fill the disk)."""
    counts_given = {"contacts": contacts, "companies": companies, "deals": deals, "tickets": tickets,
                    "activities": activities}
    contacts, companies, deals, tickets, activities = (
        whole_number(value, f"seed: --{name}", 0, MAX_COUNT) for name, value in counts_given.items())
    seed = whole_number(seed, "seed: --seed", 0)
    rng = random.Random(seed)
    reg = crm.registry
    counts = SeedCounts()
    big = contacts >= 50_000
    with crm.operation("seed", source, summary={"contacts": contacts, "companies": companies, "deals": deals,
                                                  "tickets": tickets, "activities": activities, "seed": seed}) as op:
        dropped = {}
        if big:  # building indexes after the load is several times faster than keeping them up to date
            for name in ("contacts", "companies"):
                # seeded keys are unique by construction; the rebuilt unique indexes check it anyway
                dropped[name] = reg.drop_secondary_indexes(reg.get(name), unique_too=True)

        stamp_pool = [_stamp(rng) for _ in range(20_000)]
        company_meta = reg.get("companies")
        domains = []
        company_rows = []
        used = set()
        for i in range(companies):
            word, suffix = rng.choice(WORDS), rng.choice(SUFFIX)
            name = f"{word} {suffix}"
            domain = f"{word}{suffix}".lower() + rng.choice([".com", ".io", ".co", ".net"])
            if domain in used:  # names repeat at scale; domains are unique keys
                name, domain = f"{name} {i}", f"{word}{suffix}{i}".lower() + ".com"
            used.add(domain)
            city, country = rng.choice(CITIES)
            domains.append(domain)
            company_rows.append((name, domain, rng.choice(INDUSTRIES),
                                 city, country, float(rng.choice([5, 12, 40, 120, 500, 2000])),
                                 rng.choice(["lead", "opportunity", "customer", "salesqualifiedlead"]), _stamp(rng)))
        first_company, last_company = crm.records.bulk_insert(
            company_meta, ["name", "domain", "industry", "city", "country", "numberofemployees", "lifecyclestage", "createdate"],
            company_rows, op) if company_rows else (1, 0)
        counts.companies = len(company_rows)
        company_ids = list(range(first_company, last_company + 1))

        contact_meta = reg.get("contacts")
        links = []

        phones = [f"+1 555 {n:07d}" for n in range(0, 10_000_000, 9973)]
        company_count = len(company_ids)

        def contact_rows():
            # Columns are drawn in chunks with rng.choices (one C loop each) rather than a call per
            # value: a million contacts would otherwise spend most of their time in `random`.
            chunk = 50_000
            for base in range(0, contacts, chunk):
                size = min(chunk, contacts - base)
                firsts, lasts = rng.choices(FIRST, k=size), rng.choices(LAST, k=size)
                jobs, stages = rng.choices(JOBS, k=size), rng.choices(LIFECYCLE, k=size)
                places, phone = rng.choices(CITIES, k=size), rng.choices(phones, k=size)
                stamps, frees = rng.choices(stamp_pool, k=size), rng.choices(FREEMAIL, k=size)
                employed = [rng.random() < 0.8 for _ in range(size)] if company_count else [False] * size
                picks = [int(rng.random() * company_count) for _ in range(size)] if company_count else [0] * size
                for j in range(size):
                    i = base + j
                    if employed[j]:
                        company_index = picks[j]
                        domain, company_name = domains[company_index], company_rows[company_index][0]
                        links.append(company_ids[company_index])
                    else:
                        domain, company_name = frees[j], None
                        links.append(None)
                    first, last = firsts[j], lasts[j]
                    city, country = places[j]
                    yield (first, last, f"{first}.{last}.{i}@{domain}".lower(), domain, phone[j], jobs[j], company_name,
                           stages[j], city, country, stamps[j])

        first_contact, last_contact = crm.records.bulk_insert(
            contact_meta, ["firstname", "lastname", "email", "hs_email_domain", "phone", "jobtitle", "company",
                           "lifecyclestage", "city", "country", "createdate"], contact_rows(), op,
            count=contacts) if contacts else (1, 0)
        counts.contacts = contacts
        if progress:
            progress("contacts", contacts)
        pairs = ((("contacts", first_contact + i), ("companies", cid)) for i, cid in enumerate(links) if cid)
        counts.associations += crm.assoc.bulk_link(pairs, op, holders_are_new=True)

        deal_meta = reg.get("deals")
        deal_rows = []
        for i in range(deals):
            stage = rng.choice(DEAL_STAGES)
            deal_rows.append((f"{rng.choice(WORDS)} {rng.choice(['renewal', 'expansion', 'pilot', 'license', 'rollout'])} {i + 1}",
                              float(rng.randrange(5, 500) * 100), "default", stage,
                              _stamp(rng)[:10] if stage.startswith("closed") else None, _stamp(rng)))
        first_deal, last_deal = crm.records.bulk_insert(
            deal_meta, ["dealname", "amount", "pipeline", "dealstage", "closedate", "createdate"], deal_rows, op) if deals else (1, 0)
        counts.deals = deals
        deal_pairs = []
        for deal_id in range(first_deal, last_deal + 1):
            if company_ids:
                deal_pairs.append((("deals", deal_id), ("companies", rng.choice(company_ids))))
            if contacts:
                for contact_id in {first_contact + rng.randrange(contacts) for _ in range(rng.randint(1, 2))}:
                    deal_pairs.append((("deals", deal_id), ("contacts", contact_id)))
        counts.associations += crm.assoc.bulk_link(deal_pairs, op, holders_are_new=True, automations=False)

        ticket_meta = reg.get("tickets")
        ticket_rows = [(f"{rng.choice(['Cannot log in', 'Invoice question', 'Bug report', 'Feature request', 'Shipping delay'])} #{i + 1}",
                        rng.choice(NOTES), "0", rng.choice(["1", "2", "3", "4"]), rng.choice(["LOW", "MEDIUM", "HIGH"]), _stamp(rng))
                       for i in range(tickets)]
        first_ticket, last_ticket = crm.records.bulk_insert(
            ticket_meta, ["subject", "content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority", "createdate"],
            ticket_rows, op) if tickets else (1, 0)
        counts.tickets = tickets
        if contacts:
            counts.associations += crm.assoc.bulk_link(
                ((("tickets", t), ("contacts", first_contact + rng.randrange(contacts))) for t in range(first_ticket, last_ticket + 1)), op)

        if activities and contacts:
            note_meta = reg.get("notes")
            note_rows = [(_stamp(rng, 365), rng.choice(NOTES)) for _ in range(activities)]
            first_note, last_note = crm.records.bulk_insert(note_meta, ["hs_timestamp", "hs_note_body"], note_rows, op)
            counts.activities = activities
            targets = []
            for note_id in range(first_note, last_note + 1):
                contact_id = first_contact + rng.randrange(contacts)
                targets.append((("contacts", contact_id), ("notes", note_id)))
                company = links[contact_id - first_contact]
                if company:
                    targets.append((("companies", company), ("notes", note_id)))
            counts.associations += crm.assoc.bulk_link(targets, op)
            crm.records.index_range(note_meta, first_note, last_note)

        for meta, first, last in ((company_meta, first_company, last_company), (contact_meta, first_contact, last_contact),
                                  (deal_meta, first_deal, last_deal), (ticket_meta, first_ticket, last_ticket)):
            crm.records.index_range(meta, first, last)
        for name, statements in dropped.items():
            for sql in statements:
                crm.db.execute_sql(sql)

        op.summary = json.dumps(counts.__dict__)
        op.save()
    return counts
