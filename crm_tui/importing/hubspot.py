"""HubSpot exports, recognised by their headers (in the languages HubSpot exports in), so that a
whole account moves in without flags (no Textual here).

    hubspot.recognise(headers)          # a HubSpotFile or None: the file's language-neutral headers
    spec = plan_import(crm, path)        # importer.plan_import hands HubSpot files to plan() below

What a HubSpot export gets that another CSV does not:
- its Record IDs are remembered as HubSpot IDs (`--ids hubspot` without asking), so its
  "Associated X IDs" columns link across files and a second import finds the same records;
- owners named in the file that do not exist are created (and reported);
- columns that match no property become custom properties of the object (`ensure_properties`),
  typed from their values (number, date and time, or text);
- association columns for objects this CRM does not have (line items, form submissions...) are
  reported and skipped, never abort the file;
- the two-object export (`Record ID - Contact`, ..., `Record ID - Company`, ...) creates and links
  both records: each column belongs to the object whose `Record ID - X` column comes before it;
- spreadsheet re-saves: `M/D/YY[ H:MM]` dates (HubSpot's export locale is US) and `null` cells in
  typed columns are read as dates and as empty.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from ..domain.errors import InvalidValue
from . import csvread, infer, mapping
from .spec import Column, ImportError_, ImportSpec, _properties, archived_reason
from ..domain.values import parse_short_date
from ..domain.sanitize import clean_line

SOURCE = "hubspot"  # the id_source of HubSpot Record IDs (ExternalId.source_system)

# ------------------------------------------------------------------------------------------ header words


def fold(text: str) -> str:
    """Lower case, accents dropped, spaces collapsed: 'Fecha de creación ' -> 'fecha de creacion'."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.replace("\u2019", "'").split())


# English header -> the same header in HubSpot's export languages (es, fr, de, pt, nl, it, ja).
_TRANSLATIONS: dict[str, tuple[str, ...]] = {
    "Record ID": ("ID de registro", "ID del registro", "ID de fiche d'informations", "ID de la fiche",
                  "ID d'enregistrement", "Datensatz-ID", "ID do registro", "Record-ID", "ID record",
                  "ID del record", "レコードID"),
    "Create Date": ("Fecha de creación", "Date de création", "Erstelldatum", "Erstellungsdatum",
                    "Data de criação", "Aanmaakdatum", "Data di creazione", "作成日"),
    "Last Modified Date": ("Fecha de última modificación", "Date de dernière modification",
                           "Datum der letzten Änderung", "Zuletzt geändert am", "Data da última modificação",
                           "Laatst gewijzigd op", "Data ultima modifica", "最終更新日"),
    "Last Activity Date": ("Fecha de la última actividad", "Fecha de última actividad", "Date de dernière activité",
                           "Datum der letzten Aktivität", "Data da última atividade", "Datum laatste activiteit",
                           "Data dell'ultima attività", "最終アクティビティー日"),
    "Contact owner": ("Propietario del contacto", "Propriétaire du contact", "Kontaktinhaber",
                      "Proprietário do contato", "Eigenaar contactpersoon", "Proprietario del contatto",
                      "コンタクト担当者"),
    "Company owner": ("Propietario de la empresa", "Propriétaire de l'entreprise", "Unternehmensinhaber",
                      "Proprietário da empresa", "Eigenaar bedrijf", "Proprietario dell'azienda", "会社担当者"),
    "Deal owner": ("Propietario del negocio", "Propriétaire de la transaction", "Deal-Inhaber", "Dealinhaber",
                   "Proprietário do negócio", "Eigenaar deal", "Proprietario della trattativa", "取引担当者"),
    "Ticket owner": ("Propietario del ticket", "Propriétaire du ticket", "Ticket-Inhaber", "Ticketinhaber",
                     "Proprietário do ticket", "Eigenaar ticket", "Proprietario del ticket", "チケット担当者"),
    "First Name": ("Nombre", "Prénom", "Vorname", "Nome", "Voornaam", "名"),
    "Last Name": ("Apellidos", "Apellido", "Nom", "Nachname", "Sobrenome", "Achternaam", "Cognome", "姓"),
    "Email": ("Correo", "Correo electrónico", "E-mail", "E-Mail", "Adresse e-mail", "Endereço de e-mail",
              "Eメール"),
    "Phone Number": ("Número de teléfono", "Numéro de téléphone", "Telefonnummer", "Número de telefone",
                     "Telefoonnummer", "Numero di telefono", "電話番号"),
    "Job Title": ("Cargo", "Intitulé du poste", "Jobtitel", "Berufsbezeichnung", "Functie", "Qualifica", "役職"),
    "Lifecycle Stage": ("Etapa del ciclo de vida", "Phase du cycle de vie", "Lifecycle-Phase",
                        "Phase im Lebenszyklus", "Fase do ciclo de vida", "Lifecyclefase",
                        "Fase del ciclo di vita", "ライフサイクルステージ"),
    "Lead Status": ("Estado del lead", "Statut du lead", "Lead-Status", "Status do lead", "Leadstatus",
                    "Stato del lead", "リードステータス"),
    "City": ("Ciudad", "Ville", "Stadt", "Cidade", "Plaats", "Città", "市区町村"),
    "Country/Region": ("País/región", "Pays/région", "Land/Region", "País/região", "Land/regio",
                       "Paese/regione", "国/地域"),
    "Company name": ("Nombre de la empresa", "Nom de l'entreprise", "Name des Unternehmens", "Firmenname",
                     "Nome da empresa", "Bedrijfsnaam", "Nome dell'azienda", "会社名"),
    "Company Domain Name": ("Nombre de dominio de la empresa", "Nom de domaine de l'entreprise",
                            "Domain-Name des Unternehmens", "Domainname des Unternehmens",
                            "Nome de domínio da empresa", "Domeinnaam bedrijf", "Nome di dominio dell'azienda",
                            "会社ドメイン名"),
    "Industry": ("Sector", "Secteur d'activité", "Branche", "Setor", "Industrie", "Settore", "業種"),
    "Annual Revenue": ("Ingresos anuales", "Chiffre d'affaires annuel", "Jahresumsatz", "Receita anual",
                       "Jaarlijkse omzet", "Fatturato annuo", "年間売上高"),
    "Number of Employees": ("Número de empleados", "Nombre d'employés", "Anzahl der Mitarbeiter",
                            "Número de funcionários", "Aantal werknemers", "Numero di dipendenti", "従業員数"),
    "Deal Name": ("Nombre del negocio", "Nom de la transaction", "Name des Deals", "Dealname",
                  "Nome do negócio", "Dealnaam", "Nome della trattativa", "取引名"),
    "Deal Stage": ("Etapa del negocio", "Phase de la transaction", "Deal-Phase", "Dealphase", "Fase do negócio",
                   "Etapa do negócio", "Dealfase", "Fase della trattativa", "取引ステージ"),
    "Amount": ("Importe", "Cantidad", "Montant", "Betrag", "Valor", "Bedrag", "Importo", "金額"),
    "Close Date": ("Fecha de cierre", "Date de fermeture", "Abschlussdatum", "Data de fechamento",
                   "Sluitingsdatum", "Data di chiusura", "完了予定日"),
    "Ticket name": ("Nombre del ticket", "Nom du ticket", "Ticket-Name", "Ticketname", "Nome do ticket",
                    "Ticketnaam", "チケット名"),
    "Ticket description": ("Descripción del ticket", "Description du ticket", "Ticket-Beschreibung",
                           "Descrição do ticket", "Ticketbeschrijving", "Descrizione del ticket", "チケットの説明"),
    "Ticket status": ("Estado del ticket", "Statut du ticket", "Ticket-Status", "Ticketstatus", "Status do ticket",
                      "Stato del ticket", "チケットステータス"),
    "Priority": ("Prioridad", "Priorité", "Priorität", "Prioridade", "Prioriteit", "Priorità", "優先度"),
}
_ENGLISH: dict[str, str] = {}
for _english, _words in _TRANSLATIONS.items():
    for _word in _words:
        _ENGLISH.setdefault(fold(_word), _english)
    _ENGLISH.setdefault(fold(_english), _english)

# Object nouns in association and two-object headers, folded (singular and plural).
_NOUNS: dict[str, str] = {}
for _english, _words in {
    "Company": ("company", "companies", "empresa", "empresas", "entreprise", "entreprises", "unternehmen",
                "unternehmens", "bedrijf", "bedrijven", "azienda", "aziende", "会社"),
    "Contact": ("contact", "contacts", "contacto", "contactos", "kontakt", "kontakte", "kontakts", "contato",
                "contatos", "contactpersoon", "contactpersonen", "contatto", "contatti", "コンタクト"),
    "Deal": ("deal", "deals", "negocio", "negocios", "transaction", "transactions", "negocio", "trattativa",
             "trattative", "取引"),
    "Ticket": ("ticket", "tickets", "チケット"),
}.items():
    for _word in _words:
        _NOUNS[fold(_word)] = _english

# "ID de empresas asociadas", "ID des entreprises associées (principale)", "Zugeordnete Unternehmens-IDs",
# "IDs de contatos associados" (folded: no accents, lower case)
_FOREIGN_ASSOC = [
    re.compile(r"ids? (?:de |del |de la |de los |de las )?(?P<noun>.+?) asociad[oa]s?(?P<primary> \(principal\))?"),
    re.compile(r"ids? (?:des |de |du |de la |d')?(?P<noun>.+?) associee?s?(?P<primary> \(principale?\))?"),
    re.compile(r"(?:zugeordnete|zugehorige|verknupfte) (?P<noun>.+?)[- ]ids?(?P<primary> \(primar\))?"),
    re.compile(r"ids? (?:de |do |da |dos |das )?(?P<noun>.+?) associad[oa]s?(?P<primary> \((?:principal|primari[oa])\))?"),
    re.compile(r"(?:gekoppelde|geassocieerde) (?P<noun>.+?)[- ]ids?(?P<primary> \(primair\))?"),
    re.compile(r"ids? (?:dei |delle |degli )?(?P<noun>.+?) associat[ie](?P<primary> \(principale\))?"),
]
_COPY = re.compile(r"^(?P<base>.*?)(?P<copy> \(\d+\))$")  # csvread's "Create Date (2)" for a repeated name
_TWO_OBJECT = re.compile(r"^(?P<left>.+?)\s+-\s+(?P<noun>[^-]+)$")


def english(header: str) -> str:
    """A HubSpot header in English ('Fecha de creación' -> 'Create Date'); other headers as they are.
    A csvread copy suffix (' (2)') is kept."""
    m = _COPY.match(header)
    base, copy = (m["base"], m["copy"]) if m else (header, "")
    key = fold(base)
    if key in _ENGLISH:
        return _ENGLISH[key] + copy
    two = _TWO_OBJECT.match(base)
    if two and _ENGLISH.get(fold(two["left"])) == "Record ID":
        noun = fold(two["noun"])
        return f"Record ID - {_NOUNS.get(noun, two['noun'].strip())}" + copy
    for pattern in _FOREIGN_ASSOC:
        a = pattern.fullmatch(key)
        if a:
            noun = _NOUNS.get(a["noun"].replace("-", " ").strip())
            if noun is None:
                noun = a["noun"].strip().title()
            return f"Associated {noun} IDs" + (" (Primary)" if a["primary"] else "") + copy
    return header


# ------------------------------------------------------------------------------------------ recognition

_OWNER_OBJECTS = {"Contact owner": "contacts", "Company owner": "companies", "Deal owner": "deals",
                  "Ticket owner": "tickets"}
_HUBSPOT_ONLY = {"Create Date", "Last Modified Date", "Last Activity Date"}  # Title Case: HubSpot, not crm-tui
_OLD_IDS = {"Contact ID", "Company ID", "Deal ID", "Ticket ID"}
_OWN_EXPORT = {"Create date", "Last modified date"}  # crm-tui's own export writes property labels


@dataclass
class HubSpotFile:
    headers: list[str]  # as in the file (row keys)
    english: list[str]  # the same headers in English
    segments: list[tuple[str, int, int]]  # two-object export: (English noun, first column, end column)

    def owner_object(self) -> str | None:
        for h in self.english:
            obj = _OWNER_OBJECTS.get(_COPY.sub("", h) if _COPY.match(h) else h)
            if obj:
                return obj
        return None


def recognise(headers: Sequence[str]) -> HubSpotFile | None:
    """The file is a HubSpot export when it has HubSpot's `Record ID - Contact` columns, or a Record
    ID column and one of HubSpot's own headers: its Title Case dates ("Create Date", "Last Activity
    Date": crm-tui's own export writes "Create date") or any header in another export language.
    The file's name plays no part."""
    eng = [english(h) for h in headers]
    segments = []
    for i, h in enumerate(eng):
        m = re.fullmatch(r"Record ID - (\w+)(?: \(\d+\))?", h)
        if m:
            segments.append([m[1], i, len(eng)])
    for first, second in zip(segments, segments[1:]):
        first[2] = second[1]
    if segments:
        return HubSpotFile(list(headers), eng, [tuple(s) for s in segments])
    has_id = any(h == "Record ID" or h in _OLD_IDS for h in eng)  # older exports: "Contact ID"
    if not has_id or any(h in _OWN_EXPORT for h in headers):
        return None
    translated = any(fold(e) != fold(h) for e, h in zip(eng, headers))  # a header in another language
    signals = translated or any(h in _HUBSPOT_ONLY for h in headers)
    return HubSpotFile(list(headers), eng, []) if signals else None


_NOUN_OBJECTS = {"Company": "companies", "Contact": "contacts", "Deal": "deals", "Ticket": "tickets"}


def object_for_noun(crm, noun: str) -> str | None:
    name = _NOUN_OBJECTS.get(noun)
    if name and name in crm.registry.objects:
        return name
    meta = crm.registry.find(noun) or crm.registry.find(noun + "s")
    return meta.name if meta else None


# ------------------------------------------------------------------------------------------ the plan


@dataclass
class NewProperty:
    object: str
    name: str
    label: str
    type: str
    header: str


@dataclass
class FileFacts:
    """What planning a HubSpot file found besides its columns: shown before anything is written."""

    new_properties: list[NewProperty] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one line per column left out, and why
    owner_columns: list[str] = field(default_factory=list)  # headers of owner columns


is_null = csvread.is_null_word  # 'null', 'N/A', '#N/A'... (csvread.NULL_WORDS, the one list)


SAMPLE_ROWS = infer.SAMPLE_ROWS  # rows read to type a new property
BATCH_CELLS = 1_500_000  # cells per import batch (two batches are in memory at once: the one written, the next)
_TEXT_WORDS = re.compile(r"(?i)postal|zip|code|phone|fax|\bid\b")  # digits, never a number


def plan(crm, path: str, source, found: HubSpotFile, objects: list[str] | None = None):
    """An ImportSpec (HubSpotSpec) for a recognised HubSpot export: columns, HubSpot IDs, the new
    properties its unknown columns need, and what it leaves out."""
    reg = crm.registry
    known = [m.name for m in reg.objects.values()]
    facts = FileFacts()
    segments = []
    if found.segments:
        for noun, start, end in found.segments:
            obj = object_for_noun(crm, noun)
            if obj is None:
                facts.skipped += [f"{h}: this CRM has no {noun.lower()} object" for h in found.headers[start:end]]
                continue
            segments.append((obj, start, end))
        if not segments:
            raise ImportError_(f"{path}: none of the objects of this export exists here")
        if segments[0][1] > 0:  # columns before the first Record ID: the first object's
            obj, _start, end = segments[0]
            segments[0] = (obj, 0, end)
    else:
        obj = objects[0] if objects else guess_object(crm, found)
        segments.append((reg.get(obj).name, 0, len(found.headers)))
    columns: list = []
    new_props: dict[tuple[str, str], NewProperty] = {}
    sample = None
    for obj, start, end in segments:
        meta = reg.get(obj)
        headers = found.headers[start:end]
        eng = [_COPY.sub(r"\g<base>", e) if _COPY.match(e) else e for e in found.english[start:end]]
        eng = ["Record ID" if e.startswith("Record ID - ") else e for e in eng]
        by_english = mapping.auto_map(list(dict.fromkeys(eng)), meta.name, _properties(meta), objects=known)
        taken = set(meta.properties)
        for header, e in zip(headers, eng):
            target = by_english.get(e)
            if e in eng[:eng.index(e)]:  # a second column of the same name in one object: left out
                target = None
            key = mapping.header_key(e)
            if target and target.startswith((mapping.ASSOC_PREFIX, mapping.ASSOC_PRIMARY_PREFIX)):
                other = target.split(":", 1)[1]
                if other not in reg.objects:
                    noun = re.sub(r"(?i)^associated\s+|\s+ids?\b.*$", "", e).strip() or other
                    facts.skipped.append(f"{header}: associations with {noun.lower()} records "
                                         "(this CRM has no such object): skipped")
                    target = None
            elif target is None and key.startswith("associated"):
                facts.skipped.append(f"{header}: association names (the IDs columns make the links): skipped")
            elif target is None and (key.startswith("recordid") or not key):
                facts.skipped.append(f"{header}: skipped")
            elif target is None and (archived := archived_reason(meta, e, known)):
                facts.skipped.append(f"{header}: {archived}")
                columns.append(Column(header, None, None, reason=archived))
                continue
            elif target is None:
                if sample is None:
                    sample = [row for _line, row in _head(source, SAMPLE_ROWS)]
                values = [v for row in sample if (v := row.get(header, ""))]
                name = infer.property_name(e, taken)
                taken.add(name)
                kind = "text" if _TEXT_WORDS.search(e) else _new_type(values)
                prop = NewProperty(meta.name, name, _clean_label(e), kind, header)
                new_props[(meta.name, name)] = prop
                target = name
            if target and target in meta.properties and meta.properties[target].type == "user":
                facts.owner_columns.append(header)
            columns.append(Column(header, meta.name if target else None, target))
    facts.new_properties = list(new_props.values())
    spec = HubSpotSpec(path, [s[0] for s in segments], columns, kind="csv", encoding=source.encoding,
                       delimiter=source.delimiter, headers=list(found.headers), warnings=list(source.warnings))
    spec.id_source = SOURCE
    # a batch holds about BATCH_CELLS cells: a 300-column export goes 5,000 rows at a time
    spec.batch_size = max(1000, min(spec.batch_size, BATCH_CELLS // max(1, len(found.headers))))
    spec.facts = facts
    spec.two_object = bool(found.segments)
    return spec


def _new_type(cells: Iterable[str]) -> str:
    """The type of a new property (infer.infer_type, month-first dates as HubSpot's US export
    writes them), HubSpot's empty words ('null', 'N/A'...) left out."""
    return infer.infer_type(cell for cell in cells if not is_null(cell))


def _clean_label(text: str) -> str:
    return clean_line(text).strip()[:100] or "Imported column"


def _head(source, n: int):
    for i, item in enumerate(source):
        if i >= n:
            return
        yield item


def guess_object(crm, found: HubSpotFile) -> str:
    """The owner column names the object (`Deal owner`); else the object whose properties the
    headers match best, custom objects and activities included."""
    owner = found.owner_object()
    if owner and owner in crm.registry.objects:
        return owner
    best, best_score = "contacts", 0
    known = list(crm.registry.objects)
    for meta in crm.registry.objects.values():
        got = mapping.auto_map(found.english, meta.name, _properties(meta), objects=known)
        score = sum(1 for t in got.values() if t and not t.startswith("@"))
        if score > best_score:
            best, best_score = meta.name, score
    return best


# ------------------------------------------------------------------------------------------ writing


def ensure_properties(crm, props: Iterable[NewProperty]) -> list[NewProperty]:
    """Create the properties an import needs that do not exist yet (custom, not indexed: hundreds of
    imported columns must not slow every insert), with the registry's add_properties (one reload
    per object). Returns those created."""
    reg = crm.registry
    wanted: dict[tuple[str, str], NewProperty] = {}
    for prop in props:  # two files adding one column to an object make one property (text if they disagree)
        first = wanted.setdefault((prop.object, prop.name), prop)
        if first.type != prop.type:
            first.type = "text"
    by_object: dict[str, list[NewProperty]] = {}
    for prop in wanted.values():
        if prop.name not in reg.get(prop.object).properties:
            by_object.setdefault(prop.object, []).append(prop)
    created = []
    for obj, new in by_object.items():
        reg.add_properties(obj, [{"name": p.name, "label": p.label, "type": p.type, "indexed": False,
                                  "group": "Imported from HubSpot"} for p in new])
        created += new
    return created


class NewOwner(str):
    """An owner named in the file that does not exist (yet): created by the writer."""


def owner_converter(crm, meta, prop, names: dict[str, int]):
    """A cell -> an owner id, or a NewOwner for a name nobody has (the writer creates it)."""
    def convert(raw: str):
        text = clean_line(raw).strip()
        if not text or is_null(text):
            return None
        found = names.get(text.casefold())
        if found is not None:
            return found
        return NewOwner(text)
    return convert


DATE_MEMO = 4096  # dates remembered per column


def typed_converter(conv, prop, dayfirst: bool = False):
    """Dates month first (HubSpot's export locale; day first with `dayfirst`, which is the run's
    crm.dayfirst) and `null` cells as empty, for typed columns.

    The common cells skip the general parsers: a short date ('5/7/24 10:26', values.parse_short_date)
    and, in number columns, plain digits give exactly what the full path gives
    (tests/test_import_hubspot.py checks both paths agree); anything else goes the full way, with
    its error message."""
    if prop.type in ("date", "datetime"):
        with_time = prop.type == "datetime"
        seen: dict[str, str] = {}  # a column's dates repeat (one value per day): each is parsed once

        def convert(raw: str):
            value = seen.get(raw)
            if value is not None:
                return value
            value = parse(raw)
            if value is not None and len(seen) < DATE_MEMO:
                seen[raw] = value
            return value

        def parse(raw: str):
            value = parse_short_date(raw, dayfirst=dayfirst, with_time=with_time)
            if value is not None:
                return value
            if is_null(raw):
                return None
            return conv(raw)
        return convert
    if prop.type in ("text", "textarea"):
        return conv
    if prop.type == "number":
        def convert_number(raw: str):
            if raw.isdigit() and raw.isascii() and len(raw) < 16:
                return float(raw)
            return None if is_null(raw) else conv(raw)
        return convert_number

    def convert_other(raw: str):
        try:  # a dropdown may have an option called 'None': the value first
            return conv(raw)
        except InvalidValue:
            if is_null(raw):
                return None
            raise
    return convert_other


def owner_names(crm) -> dict[str, int]:
    Owner = crm.models.Owner

    names: dict[str, int] = {}
    for owner in Owner.select().order_by(Owner.id):
        names.setdefault(owner.name.casefold(), owner.id)
        if owner.email:
            names.setdefault(owner.email.casefold(), owner.id)
    return names


# ------------------------------------------------------------------------------------------ the spec

@dataclass
class HubSpotSpec(ImportSpec):
    """An ImportSpec for a HubSpot export; run_import hands it to bundle.run_specs, which creates
    its properties and owners first."""

    facts: FileFacts = field(default_factory=FileFacts)
    two_object: bool = False  # `Record ID - Contact`, ..., `Record ID - Company`, ...
    whole_run: ClassVar[bool] = True
