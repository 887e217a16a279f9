"""Guessing which property each column of an import file goes to.

Headers are compared case-, space- and punctuation-insensitively ("First Name", "first_name" and
"FIRSTNAME" are alike) against, in order of preference:
1. special columns: record IDs, associated record IDs and association labels;
2. a property's internal name;
3. a property's label;
4. the column titles of HubSpot exports and of common address books (Outlook, Google);
5. the same, after dropping the object's own name in front ("Contact Email", "Deal Amount");
6. last resorts ("Website URL" fills a company's domain when nothing better does).
A target is given to one column only: the best match wins, then the leftmost.

Targets are property names or special targets:
- "@id": the record's own ID ("Record ID", "Contact ID");
- "@assoc:<object>": IDs of associated records, `;`-joined ("Associated Company IDs");
- "@assoc_primary:<object>": the primary associated record ("Associated Company IDs (Primary)");
- "@label": association labels, `;`-joined ("Association label").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

ID = "@id"
LABEL = "@label"
ASSOC_PREFIX = "@assoc:"
ASSOC_PRIMARY_PREFIX = "@assoc_primary:"

Properties = Iterable[tuple[str, str]]  # (internal name, label)

_NON_ALNUM = re.compile(r"[\W_]+")

# Column titles seen in exports, per object, by normalised key -> internal name. A title only maps when
# the object has that property.
_TITLES: dict[str, dict[str, str]] = {
    "contacts": {
        "firstname": "firstname", "givenname": "firstname", "first": "firstname",
        "lastname": "lastname", "familyname": "lastname", "surname": "lastname", "last": "lastname",
        "email": "email", "emailaddress": "email", "email1": "email", "email1value": "email",
        "mail": "email", "primaryemail": "email",
        "phonenumber": "phone", "phone": "phone", "telephone": "phone", "tel": "phone",
        "businessphone": "phone", "workphone": "phone", "phone1value": "phone",
        "mobilephonenumber": "mobilephone", "mobilephone": "mobilephone", "mobile": "mobilephone",
        "cellphone": "mobilephone",
        "jobtitle": "jobtitle", "position": "jobtitle", "organization1title": "jobtitle",
        "companyname": "company", "company": "company", "organization": "company",
        "organisation": "company", "organization1name": "company",
        "lifecyclestage": "lifecyclestage", "leadstatus": "hs_lead_status",
        "contactowner": "hubspot_owner_id", "owner": "hubspot_owner_id",
        "createdate": "createdate", "createddate": "createdate", "created": "createdate",
        "city": "city", "businesscity": "city", "country": "country", "countryregion": "country",
        "businesscountryregion": "country", "businesscountry": "country",
        "websiteurl": "website", "website": "website", "webpage": "website",
    },
    "companies": {
        "companyname": "name", "name": "name", "company": "name", "organization": "name",
        "organisation": "name", "accountname": "name", "account": "name",
        "companydomainname": "domain", "domainname": "domain", "domain": "domain",
        "websiteurl": "website", "website": "website",
        "industry": "industry", "sector": "industry",
        "phonenumber": "phone", "phone": "phone", "telephone": "phone",
        "city": "city", "country": "country", "countryregion": "country",
        "lifecyclestage": "lifecyclestage", "companyowner": "hubspot_owner_id", "owner": "hubspot_owner_id",
        "createdate": "createdate", "createddate": "createdate",
        "revenue": "annualrevenue", "annualrevenue": "annualrevenue",
        "employees": "numberofemployees", "numberofemployees": "numberofemployees",
        "employeecount": "numberofemployees", "headcount": "numberofemployees",
    },
    "deals": {
        "dealname": "dealname", "name": "dealname", "deal": "dealname", "opportunityname": "dealname",
        "amount": "amount", "dealamount": "amount", "value": "amount", "dealvalue": "amount",
        "pipeline": "pipeline", "dealstage": "dealstage", "stage": "dealstage",
        "closedate": "closedate", "expectedclosedate": "closedate",
        "dealowner": "hubspot_owner_id", "owner": "hubspot_owner_id",
        "createdate": "createdate", "createddate": "createdate",
    },
    "tickets": {
        "ticketname": "subject", "subject": "subject", "name": "subject", "title": "subject",
        "ticketdescription": "content", "description": "content", "content": "content",
        "pipeline": "hs_pipeline", "ticketstatus": "hs_pipeline_stage", "status": "hs_pipeline_stage",
        "stage": "hs_pipeline_stage",
        "priority": "hs_ticket_priority", "ticketpriority": "hs_ticket_priority",
        "ticketowner": "hubspot_owner_id", "owner": "hubspot_owner_id",
        "createdate": "createdate", "createddate": "createdate",
    },
}
# Any other object: the pipeline and stage properties a custom object given pipelines has (HubSpot's names).
_ANY_TITLES = {"pipeline": "hs_pipeline", "stage": "hs_pipeline_stage", "pipelinestage": "hs_pipeline_stage",
               "status": "hs_pipeline_stage"}
# Used only when the object lacks the preferred property or another column already took it.
_LAST_RESORTS: dict[str, dict[str, str]] = {
    "companies": {"websiteurl": "domain", "website": "domain", "url": "domain", "webpage": "domain"},
    "contacts": {
        "mobilephonenumber": "phone", "mobilephone": "phone", "mobile": "phone", "cellphone": "phone",
    },
}

# Address books (Outlook, old and current Google Contacts, Thunderbird, LinkedIn, Apple), in English
# and in the languages Outlook writes its CSV headers in (German, French, Spanish, Russian): contacts.
_ADDRESS_BOOK_TITLES = {
    "firstname": ("vorname", "prénom", "prenom", "nombre", "имя", "givenname"),
    "lastname": ("nachname", "nom", "apellidos", "apellido", "фамилия"),
    "email": ("emailaddress", "email1address", "primaryemail", "emailadresse", "adressedemessagerie",
              "direccióndecorreoelectrónico", "адресэлпочты", "электроннаяпочта"),
    "hs_additional_emails": ("email2address", "email2value", "secondaryemail", "email2adresse",
                             "adresse2demessagerie", "адрес2элпочты", "additionalemailaddresses"),
    "phone": ("businessphone", "workphone", "phone1value", "telefongeschäftlich", "téléphonebureau",
              "teléfonodeltrabajo", "рабочийтелефон", "телефон"),
    "mobilephone": ("mobilephone", "mobilenumber", "mobiltelefon", "téléphonemobile", "teléfonomóvil",
                    "мобильныйтелефон"),
    "fax": ("fax", "faxnumber", "businessfax", "workfax", "faxgeschäftlich", "télécopiebureau",
            "faxdeltrabajo", "факсраб", "факс"),
    "website": ("webpage", "website", "websiteurl", "webpage1", "website1value", "webseite", "pageweb",
                "páginaweb", "вебстраница"),
    "address": ("streetaddress", "street", "address", "businessstreet", "workaddress", "address1street",
                "straßegeschäftlich", "ruebureau", "callecomercial", "улицарабадрес"),
    "city": ("city", "businesscity", "workcity", "address1city", "ortgeschäftlich", "villebureau",
             "ciudadcomercial", "городрабадрес"),
    "state": ("state", "stateregion", "region", "businessstate", "workstate", "address1region",
              "regiongeschäftlich", "dépréginbureau", "étatprovincebureau", "provinciaoestadocomercial",
              "областьрабадрес"),
    "zip": ("zip", "zipcode", "postalcode", "postcode", "businesspostalcode", "workzipcode", "address1postalcode",
            "postleitzahlgeschäftlich", "codepostalbureau", "códigopostalcomercial", "индексрабадрес"),
    "country": ("businesscountryregion", "businesscountry", "workcountry", "address1country",
                "landregiongeschäftlich", "paysrégionbureau", "paísoregióncomercial",
                "странаилирегионрабадрес"),
    "company": ("organizationname", "organization1name", "firma", "société", "organización", "организация"),
    "jobtitle": ("organizationtitle", "organization1title", "position", "fonction", "puesto", "должность"),
    "date_of_birth": ("birthday", "dateofbirth", "birthdate", "dob", "geburtstag", "anniversaire",
                      "cumpleaños", "деньрождения"),
    "notes": ("notes", "note", "comments", "notizen", "notas", "заметки"),
    "salutation": ("salutation", "nameprefix", "anrede", "обращение"),
}
for _prop, _keys in _ADDRESS_BOOK_TITLES.items():
    for _key in _keys:
        _TITLES["contacts"].setdefault(_NON_ALNUM.sub("", _key.casefold()), _prop)
_TITLES["companies"].update({"streetaddress": "address", "address": "address", "street": "address",
                             "stateregion": "state", "state": "state", "postalcode": "zip", "zip": "zip",
                             "zipcode": "zip", "description": "description"})
# Used when the address book's business column is absent or taken (home address, other phones).
_LAST_RESORTS["contacts"].update({
    "homestreet": "address", "homeaddress": "address", "homecity": "city", "homestate": "state",
    "homepostalcode": "zip", "homezipcode": "zip", "homecountry": "country", "homecountryregion": "country",
    "homephone": "phone", "primaryphone": "phone", "homefax": "fax", "personalwebpage": "website",
    "email3address": "hs_additional_emails", "email3value": "hs_additional_emails",
    "straßeprivat": "address", "ortprivat": "city", "postleitzahlprivat": "zip", "telefonprivat": "phone",
    "улицадомадрес": "address", "городдомадрес": "city", "домашнийтелефон": "phone",
})
_LAST_RESORTS["contacts"] = {_NON_ALNUM.sub("", k.casefold()): v for k, v in _LAST_RESORTS["contacts"].items()}

# Match quality, best first.
_SPECIAL, _NAME, _LABEL, _TITLE, _PREFIXED, _LAST_RESORT = range(6)


def header_key(text: str) -> str:
    """'First Name', 'first_name' and 'FIRSTNAME' all give 'firstname'."""
    return _NON_ALNUM.sub("", text.casefold())


def singular(object_name: str) -> str:
    """'companies' -> 'company', 'roast_batches' -> 'roastbatch': the noun a header may start with."""
    key = header_key(object_name)
    endings = (("ies", "y"), ("ches", "ch"), ("shes", "sh"), ("sses", "ss"), ("xes", "x"), ("s", ""))
    for plural, one in endings:
        if key.endswith(plural) and len(key) > len(plural):
            return key[: -len(plural)] + one
    return key


def _plural(noun: str, objects: Iterable[str]) -> str:
    """The object name whose singular is noun ('company' -> 'companies'); standard names by default."""
    for name in objects:
        if singular(name) == noun:
            return name
    standard = {"company": "companies", "contact": "contacts", "deal": "deals", "ticket": "tickets"}
    return standard.get(noun, noun + "s")


_ASSOC = re.compile(r"associated(?P<noun>[a-z0-9]+?)(?:record)?(?P<plural>id|ids)(?P<primary>primary)?")


def _special_target(key: str, object_name: str, known_objects: Iterable[str]) -> str | None:
    own = singular(object_name)
    if key in ("recordid", "hsobjectid", "id", "objectid", own + "id", own + "recordid", "recordid" + own):
        return ID
    if key in ("associationlabel", "associationlabels", "associationtype"):
        return LABEL
    m = _ASSOC.fullmatch(key)
    if m:
        other = _plural(m["noun"], known_objects)
        # HubSpot's contact property "associatedcompanyid" (one ID) is the primary company.
        primary = m["primary"] or (m["plural"] == "id" and m["noun"] == "company")
        return (ASSOC_PRIMARY_PREFIX if primary else ASSOC_PREFIX) + other
    return None


def _candidates(header: str, object_name: str, properties: Sequence[tuple[str, str]],
                known_objects: Iterable[str]) -> list[tuple[int, str]]:
    """(quality, target) pairs for one header, best first."""
    key = header_key(header)
    if not key:
        return []
    special = _special_target(key, object_name, known_objects)
    if special:
        return [(_SPECIAL, special)]
    names = {name for name, _label in properties}
    found: list[tuple[int, str]] = []

    def look(k: str, shifted: bool) -> None:
        for name, label in properties:
            if header_key(name) == k:
                found.append((_PREFIXED if shifted else _NAME, name))
            if header_key(label) == k:
                found.append((_PREFIXED if shifted else _LABEL, name))
        title = _TITLES.get(object_name, _ANY_TITLES).get(k)
        if title in names:
            found.append((_PREFIXED if shifted else _TITLE, title))

    look(key, shifted=False)
    own = singular(object_name)
    if key.startswith(own) and len(key) > len(own):
        look(key[len(own):], shifted=True)
    resort = _LAST_RESORTS.get(object_name, {}).get(key)
    if resort in names:
        found.append((_LAST_RESORT, resort))
    return sorted(set(found))


def auto_map(headers: Sequence[str], object_name: str, properties: Properties,
             objects: Iterable[str] = ()) -> dict[str, str | None]:
    """Each header -> a property name, a special target ("@id", "@assoc:companies"...) or None.

    `objects` names the other objects of the CRM, so that "Associated Roast batch IDs" finds
    "roast_batches"; the standard four are known anyway.
    """
    properties = list(properties)
    known_objects = [object_name, *objects]
    options = []
    for column, header in enumerate(headers):
        for quality, target in _candidates(header, object_name, properties, known_objects):
            options.append((quality, column, header, target))
    mapping: dict[str, str | None] = {header: None for header in headers}
    taken: set[str] = set()
    for _quality, _column, header, target in sorted(options, key=lambda o: (o[0], o[1])):
        if mapping[header] is None and target not in taken:
            mapping[header] = target
            taken.add(target)
    return mapping


def auto_map_many(headers: Sequence[str],
                  objects: Mapping[str, Properties]) -> dict[str, tuple[str, str] | None]:
    """For a file holding several objects per row: each header -> (object, target) or None.

    A header that starts with an object's name ("Company name", "Deal stage") goes to that object;
    other shared headers ("Phone number", "Record ID") go to the first object listed that takes them.
    """
    objects = {name: list(props) for name, props in objects.items()}
    options = []
    for column, header in enumerate(headers):
        key = header_key(header)
        for order, (object_name, properties) in enumerate(objects.items()):
            names_object = key.startswith(singular(object_name))
            for quality, target in _candidates(header, object_name, properties, objects):
                options.append(((0 if names_object else 1, quality, order, column),
                                header, object_name, target))
    mapping: dict[str, tuple[str, str] | None] = {header: None for header in headers}
    taken: set[tuple[str, str]] = set()
    for _rank, header, object_name, target in sorted(options, key=lambda o: o[0]):
        if mapping[header] is None and (object_name, target) not in taken:
            mapping[header] = (object_name, target)
            taken.add((object_name, target))
    return mapping


def split_list(text: str, separator: str = ";") -> list[str]:
    """'a; b;;a' -> ['a', 'b']: HubSpot joins several values (labels, options) with ';'."""
    items: list[str] = []
    for item in text.split(separator):
        item = item.strip()
        if item and item not in items:
            items.append(item)
    return items


def split_ids(text: str) -> list[int]:
    """'101;102; 103' -> [101, 102, 103] (commas are accepted too). Raises ValueError on a part that
    is not a record ID."""
    ids: list[int] = []
    for part in split_list(text.replace(",", ";")):
        if not part.isdigit() or not part.isascii():
            raise ValueError(f"{part!r} is not a record ID")
        value = int(part)
        if value not in ids:
            ids.append(value)
    return ids
