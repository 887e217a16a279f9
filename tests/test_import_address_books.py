"""Real files come in whole: address books (Google, Outlook in other languages and code pages,
LinkedIn, Thunderbird, vCard), unknown columns as new properties, new dropdown options, null words,
multi-value cells, day-first columns, idempotent re-imports without emails, round trips."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest

from crm_tui.cli import main as cli
from crm_tui.domain import sources
from crm_tui.services.core import Crm
from crm_tui.importing import exporter, importer, infer
from crm_tui.importing import undo as import_journal

from .conftest import SHARED_DATA, needs_shared_data
from .test_import import errors, run, write


def contacts(crm) -> list[dict]:
    return crm.records.list("contacts", limit=1000).rows


def by(rows, key, value) -> dict:
    return next(r for r in rows if r[key] == value)


def cli_import(db_path, path, *extra, capsys=None) -> tuple[int, dict]:
    code = cli.main(["--db", str(db_path), "import", str(path), "--json", "--error-dir", str(path.parent), *extra])
    out = capsys.readouterr().out if capsys else ""
    return code, (json.loads(out) if out.strip().startswith("{") else {})


# ------------------------------------------------------------------ address books

RUSSIAN_OUTLOOK = [
    ["Обращение", "Имя", "Отчество", "Фамилия", "Организация", "Должность", "Улица (раб. адрес)",
     "Город (раб. адрес)", "Индекс (раб. адрес)", "Страна или регион (раб. адрес)", "Рабочий телефон",
     "Мобильный телефон", "Адрес эл. почты", "День рождения", "Заметки", "Пейджер"],
    ["Г-н", "Иван", "Петрович", "Сидоров", "ООО Ромашка", "Менеджер", "ул. Ленина, 5", "Москва", "101000",
     "Россия", "+7 495 123-45-67", "+7 916 000-00-01", "ivan@romashka.ru", "15.03.1980", "Любит чай", ""],
    ["", "Анна", "", "Кузнецова", "", "", "", "Санкт-Петербург", "", "Россия", "", "+7 921 555-44-33", "",
     "3.4.1990", "Без почты", ""],
]


def test_russian_outlook_export_in_windows_1251_comes_in_whole(db_path, tmp_path, capsys):
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(RUSSIAN_OUTLOOK)
    path = tmp_path / "outlook.csv"
    path.write_bytes(buf.getvalue().encode("cp1251"))
    code, data = cli_import(db_path, path, capsys=capsys)
    assert code == 0 and data["encoding"] == "cp1251"
    assert data["created"] == 2 and data["failed"] == 0 and data["skipped_cells"] == 0
    assert "Пейджер -> (skipped: empty in every row)" in data["mapping"]
    assert "Отчество -> contacts.otchestvo" in data["mapping"] and data["new_properties"] == ["contacts.otchestvo (text)"]
    with Crm.open(db_path) as crm:
        rows = contacts(crm)
        ivan = by(rows, "firstname", "Иван")
        assert ivan["lastname"] == "Сидоров" and ivan["email"] == "ivan@romashka.ru" and ivan["company"] == "ООО Ромашка"
        assert ivan["jobtitle"] == "Менеджер" and ivan["city"] == "Москва" and ivan["zip"] == "101000"
        assert ivan["phone"] == "+7 495 123-45-67" and ivan["mobilephone"] == "+7 916 000-00-01"
        assert ivan["date_of_birth"] == "1980-03-15" and ivan["notes"] == "Любит чай" and ivan["salutation"] == "Г-н"
        middle = next(p for p in crm.registry.get("contacts").properties.values() if p.label == "Отчество")
        assert ivan[middle.name] == "Петрович" and middle.is_custom
        anna = by(rows, "firstname", "Анна")
        assert anna["date_of_birth"] == "1990-04-03"  # the column's values are day first
    # a second import of the same file (no emails for Anna) creates nothing
    code, data = cli_import(db_path, path, capsys=capsys)
    assert code == 0 and data["created"] == 0 and data["unchanged"] == 2


def test_german_outlook_headers_map(crm, tmp_path):
    path = write(tmp_path / "de.csv", "Vorname,Nachname,Firma,Position,E-Mail-Adresse,Mobiltelefon,Straße geschäftlich,"
                 "Ort geschäftlich,Postleitzahl geschäftlich,Geburtstag,Notizen\n"
                 "Jörg,Müller,ACME GmbH,Leiter,joerg@acme.de,+49 170 1234567,Hauptstr. 1,Berlin,10115,24.12.1970,Kunde\n",
                 "cp1252")
    result = run(crm, path, tmp=tmp_path)
    assert result.created == {"contacts": 1} and not result.new_properties
    row = contacts(crm)[0]
    assert (row["firstname"], row["lastname"], row["company"], row["address"], row["zip"]) == \
        ("Jörg", "Müller", "ACME GmbH", "Hauptstr. 1", "10115")
    assert row["mobilephone"] == "+49 170 1234567" and row["date_of_birth"] == "1970-12-24" and row["notes"] == "Kunde"


GOOGLE = ("First Name,Middle Name,Last Name,Organization Name,Organization Title,Birthday,Notes,Labels,"
          "E-mail 1 - Label,E-mail 1 - Value,Phone 1 - Label,Phone 1 - Value,Address 1 - Formatted,"
          "Address 1 - Street,Address 1 - City,Address 1 - Region,Address 1 - Postal Code,Address 1 - Country,"
          "Website 1 - Label,Website 1 - Value\n"
          "Ann,,Lee,Acme,Buyer,1985-07-01,\"Met at\nthe fair\",* myContacts ::: Friends,* Work ::: Home,"
          "ann@acme.com ::: ann.lee@gmail.com,Mobile ::: Work,+1 555 0100 ::: +1 555 0199,\"1 Main St\nSpringfield\","
          "1 Main St,Springfield,IL,62701,USA,,https://acme.com\n"
          "Bob,,Ray,,,,,* myContacts,,,Mobile,+44 20 7946 0000,,,,,,,,\n")


def test_google_contacts_multi_value_cells_keep_every_value(crm, tmp_path):
    path = write(tmp_path / "contacts.csv", GOOGLE)
    result = run(crm, path, tmp=tmp_path)
    assert result.created == {"contacts": 2} and result.failed == 0 and result.skipped_cells == 0
    ann = by(contacts(crm), "firstname", "Ann")
    assert ann["email"] == "ann@acme.com" and ann["hs_additional_emails"] == "ann.lee@gmail.com"
    assert ann["phone"] == "+1 555 0100, +1 555 0199"
    assert (ann["company"], ann["jobtitle"], ann["address"], ann["city"], ann["state"], ann["zip"], ann["country"]) == \
        ("Acme", "Buyer", "1 Main St", "Springfield", "IL", "62701", "USA")
    assert ann["website"] == "https://acme.com" and ann["notes"] == "Met at\nthe fair"
    labels = next(p for p in crm.registry.get("contacts").properties.values() if p.label == "Labels")
    assert ann[labels.name] == "* myContacts ::: Friends"  # text keeps the whole cell
    again = run(crm, path, tmp=tmp_path)
    assert again.created == {} and again.updated == {} and again.unchanged == 2


def test_more_emails_in_one_cell_join_the_additional_emails_column(crm, tmp_path):
    path = write(tmp_path / "g.csv", "First Name,E-mail 1 - Value,E-mail 2 - Value\n"
                 "Ann,ann@acme.com ::: ann@home.org,ann@old.net\n")
    assert run(crm, path, tmp=tmp_path).created == {"contacts": 1}
    ann = contacts(crm)[0]
    assert ann["email"] == "ann@acme.com" and ann["hs_additional_emails"] == "ann@old.net;ann@home.org"


def test_linkedin_connections_with_a_notes_preamble_and_without_a_header(crm, tmp_path):
    path = write(tmp_path / "Connections.csv",
                 "Notes:\n\"When exporting your connection data, you may notice that some of the email addresses "
                 "are missing.\"\n\nFirst Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
                 "Ann,Lee,https://www.linkedin.com/in/annlee,,Acme,CTO,11 Jun 2021\n"
                 "Bob,Ray,https://www.linkedin.com/in/bobray,bob@beta.io,Beta,Dev,02 Jan 2024\n")
    result = run(crm, path, tmp=tmp_path)
    assert result.created == {"contacts": 2} and result.failed == 0
    assert "contacts.connected_on (date)" in result.new_properties and "contacts.url (url)" in result.new_properties
    ann = by(contacts(crm), "firstname", "Ann")
    assert ann["connected_on"] == "2021-06-11" and ann["jobtitle"] == "CTO" and ann["company"] == "Acme"
    old = write(tmp_path / "old.csv", "Cy,Fox,,Gamma,Owner,22 May 2021\nDi,Orr,di@delta.io,Delta,CEO,17 May 2021\n")
    result = run(crm, old, tmp=tmp_path)
    assert result.created == {"contacts": 2} and any("no header row" in w for w in result.warnings)
    assert by(contacts(crm), "firstname", "Cy")["connected_on"] == "2021-05-22"
    assert run(crm, old, tmp=tmp_path).created == {}  # Cy has no email: found again by name


def test_thunderbird_address_book(crm, tmp_path):
    path = write(tmp_path / "tb.csv",
                 "First Name,Last Name,Display Name,Nickname,Primary Email,Secondary Email,Work Phone,Mobile Number,"
                 "Birth Year,Birth Month,Birth Day,Notes\n"
                 "John,Doe,John Doe,jd,john@doe.invalid,jd@home.invalid,555 1234,555 9876,1970,5,17,hello\n")
    result = run(crm, path, tmp=tmp_path)
    assert result.created == {"contacts": 1} and result.skipped_cells == 0
    john = contacts(crm)[0]
    assert john["hs_additional_emails"] == "jd@home.invalid" and john["mobilephone"] == "555 9876"
    assert john["date_of_birth"] is None  # Birth Day is a day of the month, not a date
    birth_day = next(p for p in crm.registry.get("contacts").properties.values() if p.label == "Birth Day")
    assert john[birth_day.name] == 17 and birth_day.type == "number"


def test_vcard_keeps_more_than_name_and_email(crm, tmp_path):
    path = write(tmp_path / "card.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Ann;;Dr.;\r\nFN:Ann Lee\r\n"
                 "EMAIL;TYPE=WORK:ann@acme.com\r\nEMAIL;TYPE=HOME:ann@home.org\r\nTEL;TYPE=WORK:+1 555 0100\r\n"
                 "TEL;TYPE=CELL:+1 555 0101\r\nTEL;TYPE=FAX:+1 555 0102\r\nADR;TYPE=WORK:;;1 Main St;Springfield;IL;62701;USA\r\n"
                 "BDAY:1985-07-01\r\nURL:https://acme.com\r\nNOTE:Met at the fair\r\nEND:VCARD\r\n")
    result = run(crm, path, tmp=tmp_path)
    assert result.created == {"contacts": 1} and result.skipped_cells == 0
    ann = contacts(crm)[0]
    assert (ann["phone"], ann["mobilephone"], ann["fax"]) == ("+1 555 0100", "+1 555 0101", "+1 555 0102")
    assert (ann["address"], ann["state"], ann["zip"], ann["date_of_birth"]) == ("1 Main St", "IL", "62701", "1985-07-01")
    assert ann["hs_additional_emails"] == "ann@home.org" and ann["website"] == "https://acme.com"
    assert ann["notes"] == "Met at the fair" and ann["salutation"] == "Dr."


# ------------------------------------------------------------------ columns, options, cells

def test_unknown_columns_become_typed_properties_or_are_skipped_with_a_reason(db_path, tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_text("Email,Shoe size,Member since,Active,Fax line,Zip Code 2,Nothing here,Last modified date\n"
                    "ann@x.org,41,2021-03-04,yes,+1 555 0100,01234,,2026-01-01\n"
                    "bob@x.org,42.5,2022-01-02,no,,02345,,2026-01-01\n", encoding="utf-8")
    assert cli.main(["--db", str(db_path), "import", str(path), "--dry-run", "--error-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Shoe size -> contacts.shoe_size (new property, number)" in out
    assert "Member since -> contacts.member_since (new property, date)" in out
    assert "Active -> contacts.active (new property, boolean)" in out
    assert "Zip Code 2 -> contacts.zip_code_2 (new property, text)" in out  # a leading zero stays text
    assert "Nothing here -> (skipped: empty in every row)" in out
    assert "Last modified date -> (skipped: read-only: kept by the CRM)" in out
    with Crm.open(db_path) as crm:
        assert "shoe_size" not in crm.registry.get("contacts").properties  # the preview made nothing
    assert cli.main(["--db", str(db_path), "import", str(path), "--no-new-properties", "--dry-run",
                     "--error-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Shoe size -> (skipped: no property matches its title)" in out
    assert "columns not imported: Shoe size (no property" in out
    assert cli.main(["--db", str(db_path), "import", str(path), "--error-dir", str(tmp_path)]) == 0
    assert "new properties: contacts.shoe_size (number)" in capsys.readouterr().out
    with Crm.open(db_path) as crm:
        bob = by(contacts(crm), "email", "bob@x.org")
        assert bob["shoe_size"] == 42.5 and bob["member_since"] == "2022-01-02" and bob["active"] == 0
        assert bob["zip_code_2"] == "02345"


def test_new_dropdown_option_is_added_and_reported_strict_refuses_it(crm, tmp_path):
    path = write(tmp_path / "c.csv", "Email,Lead Status,Lifecycle Stage\nann@x.org,Warm,lead\nbob@x.org,warm,Imaginary\n"
                 "cy@x.org,Open,\n")
    strict = run(crm, path, tmp=tmp_path, strict=True, dry_run=True)
    assert strict.failed == 2 and strict.new_options == []
    result = run(crm, path, tmp=tmp_path)
    assert result.created == {"contacts": 3} and result.new_options == ["contacts.hs_lead_status: Warm"]
    assert result.skipped_cells == 1  # a lifecycle stage is not made up: its order means something
    assert [e["Column"] for e in errors(result)] == ["Lifecycle Stage"]
    rows = contacts(crm)
    assert by(rows, "email", "bob@x.org")["hs_lead_status"] == "Warm"
    assert crm.registry.get("contacts").properties["hs_lead_status"].option_name("warm") == "Warm"
    (stored,) = crm.db.execute_sql("SELECT options FROM property_def WHERE name = 'hs_lead_status'").fetchone()
    assert {"name": "Warm", "label": "Warm"} in json.loads(stored)  # stored, not only in memory
    import_journal.undo_import(crm, result.import_id, backup=False)  # undo takes the new option away again
    assert crm.registry.get("contacts").properties["hs_lead_status"].option_name("Warm") is None
    assert crm.registry.get("contacts").properties["hs_lead_status"].option_name("Open") == "OPEN"


def test_null_words_are_empty(crm, tmp_path):
    path = write(tmp_path / "c.csv", "Email,First Name,Job Title,Phone Number\n"
                 "ann@x.org,Ann,null,[not provided]\nNULL,Bob,None,none\n")
    result = run(crm, path, tmp=tmp_path)
    assert result.created == {"contacts": 2} and result.skipped_cells == 0
    bob = by(contacts(crm), "firstname", "Bob")
    assert bob["email"] is None and bob["jobtitle"] is None and bob["phone"] is None
    assert by(contacts(crm), "firstname", "Ann")["jobtitle"] is None


def test_a_column_empty_in_the_sample_with_a_later_value_is_reported(crm, tmp_path, monkeypatch):
    monkeypatch.setattr(infer, "SAMPLE_ROWS", 2)
    path = write(tmp_path / "c.csv", "Email,Hobby\na@x.org,\nb@x.org,\nc@x.org,chess\n")
    result = run(crm, path, tmp=tmp_path)
    assert result.created == {"contacts": 3}
    assert any("'Hobby'" in w and "line 4" in w for w in result.warnings)


def test_dates_as_spreadsheets_resave_them(crm, tmp_path):
    path = write(tmp_path / "d.csv", "Deal Name,Close Date,Create Date\nA,2/20/24,4/8/2025 17:19\nB,11 Jun 2021,5/7/24 10:26\n")
    result = run(crm, path, ["deals"], tmp=tmp_path)
    assert result.created == {"deals": 2} and result.skipped_cells == 0
    rows = {r["dealname"]: r for r in crm.records.list("deals").rows}
    assert rows["A"]["closedate"] == "2024-02-20" and rows["A"]["createdate"].startswith("2025-04-08T17:19")
    assert rows["B"]["closedate"] == "2021-06-11"


def test_contacts_without_email_and_companies_without_domain_are_found_again(crm, tmp_path):
    path = write(tmp_path / "c.csv", "First Name,Last Name,Phone Number,Company\n"
                 "Ann,Lee,+1 555 0100,\nAnn,Lee,,\nAnn,Lee,,\nBob,Ray,,\n")
    first = run(crm, path, tmp=tmp_path, batch=2)
    assert first.created == {"contacts": 4}  # two Ann Lees without phone are two people, in one file
    again = run(crm, path, tmp=tmp_path, batch=2)
    assert again.created == {} and again.unchanged == 4
    crm.records.create("contacts", {"firstname": "Bob", "lastname": "Ray", "email": "bob@ray.io"}, sources.API)
    assert run(crm, path, tmp=tmp_path).created == {}  # Bob without email is not the one with an email
    companies = write(tmp_path / "co.csv", "Company name,City\nAcme,Oslo\nBeta,Bergen\n")
    assert run(crm, companies, ["companies"], tmp=tmp_path).created == {"companies": 2}
    again = run(crm, companies, ["companies"], tmp=tmp_path)
    assert again.created == {} and crm.records.count("companies") == 2


# ------------------------------------------------------------------ round trips, migration

@pytest.mark.parametrize("hubspot", [False, True])
def test_export_then_import_changes_nothing_and_formulas_stay_neutral(crm, tmp_path, hubspot):
    acme = crm.records.create("companies", {"name": "Acme", "domain": "acme.com"}, sources.API).id
    crm.records.create("companies", {"name": "Acme"}, sources.API)  # the same name twice
    ann = crm.records.create("contacts", {"email": "ann@acme.com", "firstname": "=1+2", "jobtitle": "@SUM(A1)",
                                          "notes": "two\nlines", "mobilephone": "+1 555 0101",
                                          "date_of_birth": "1980-01-02"}, sources.API).id
    crm.records.create("contacts", {"firstname": "-Bob", "phone": "+1 555 0100"}, sources.API)
    crm.assoc.add(("contacts", ann), ("companies", acme))
    before = {r["id"]: r for r in contacts(crm)}
    out = tmp_path / "contacts.csv"
    exporter.export_view(crm, "contacts", out, hubspot=hubspot, all_properties=hubspot)
    text = out.read_text(encoding="utf-8-sig")
    assert "'=1+2" in text and "'-Bob" in text and ("'@SUM(A1)" in text or not hubspot)  # a spreadsheet runs nothing
    result = run(crm, str(out), ["contacts"], tmp=tmp_path)
    assert result.created == {} and result.updated == {} and result.failed == 0 and result.link_problems == 0
    assert result.new_properties == []
    assert {r["id"]: r for r in contacts(crm)} == before


def test_migration_3_adds_the_address_book_properties(db_path):
    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"email": "ann@x.org"}, sources.API)
    conn = sqlite3.connect(db_path)
    conn.executescript("DELETE FROM property_def WHERE name IN ('mobilephone', 'zip', 'website'); "
                       "ALTER TABLE obj_contacts DROP COLUMN mobilephone; PRAGMA user_version = 2;")
    conn.close()
    with Crm.open(db_path) as crm:
        props = crm.registry.get("contacts").properties
        assert {"mobilephone", "zip", "website"} <= set(props) and props["mobilephone"].type == "phone"
        assert not props["mobilephone"].is_custom
        crm.records.update("contacts", 1, {"mobilephone": "+1 555 0100"}, sources.API)
        assert crm.records.get("contacts", 1).properties["mobilephone"] == "+1 555 0100"
    assert list(db_path.parent.glob("crm.db.v2-*.bak"))


# ------------------------------------------------------------------ the shared real files

def _shared(folder: str) -> list:
    base = SHARED_DATA / folder
    return sorted(p.name for p in base.iterdir() if p.suffix in (".csv", ".vcf")) if base.exists() else ["(absent)"]


@pytest.mark.parametrize("name", _shared("real-exports") + _shared("vcards"))
def test_every_shared_address_book_imports_whole_with_no_flags(db_path, tmp_path, capsys, name):
    folder = "vcards" if name.endswith(".vcf") else "real-exports"
    path = needs_shared_data(folder, name)
    code = cli.main(["--db", str(db_path), "import", str(path), "--json", "--error-dir", str(tmp_path)])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["failed"] == 0 and data["rows"] > 0, data
    assert not any(line.endswith("(skipped)") for line in data["mapping"])  # every skip says why
    cli.main(["--db", str(db_path), "import", str(path), "--json", "--error-dir", str(tmp_path)])
    again = json.loads(capsys.readouterr().out)
    assert again["created"] == 0 and again["failed"] == 0  # idempotent, emails or not


def test_an_owner_unknown_here_skips_the_cell_not_the_row(crm, tmp_path):
    path = write(tmp_path / "c.csv", "Email,First Name,Contact owner\nann@x.org,Ann,Nobody Here\nbob@x.org,Bob,tester\n")
    result = run(crm, path, tmp=tmp_path)
    assert result.created == {"contacts": 2} and result.failed == 0 and result.skipped_cells == 1
    (row,) = errors(result)
    assert row["Column"] == "Contact owner" and row["Value"] == "Nobody Here" and row["Result"] == importer.CELL_SKIPPED
    rows = contacts(crm)
    assert by(rows, "firstname", "Ann")["hubspot_owner_id"] is None
    assert by(rows, "firstname", "Bob")["hubspot_owner_id"] is not None


def test_running_the_same_plan_twice_makes_its_property_once(crm, tmp_path):
    path = write(tmp_path / "c.csv", "Email,Shoe size\nann@x.org,41\n")
    spec = importer.plan_import(crm, path)
    spec.error_dir = str(tmp_path)
    col = next(c for c in spec.columns if c.header == "Shoe size")
    planned = col.target
    assert importer.run_import(crm, spec, dry_run=True).new_properties == ["contacts.shoe_size (number)"]
    assert col.target == planned and "shoe_size" not in crm.registry.get("contacts").properties
    assert importer.run_import(crm, spec).new_properties == ["contacts.shoe_size (number)"]
    col.target = planned  # as the wizard reads its Select again before a second run
    again = importer.run_import(crm, spec)
    assert again.new_properties == [] and again.unchanged == 1
    assert [p for p in crm.registry.get("contacts").properties if p.startswith("shoe")] == ["shoe_size"]


def test_no_new_properties_holds_for_a_hubspot_export_too(db_path, tmp_path, capsys):
    path = needs_shared_data("real-exports", "Shaftdog__Salesmod__Hubspot.csv")
    code = cli.main(["--db", str(db_path), "import", str(path), "--no-new-properties", "--json", "--error-dir", str(tmp_path)])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["failed"] == 0 and "Company Type (no property matches its title)" in data["skipped_columns"]
    with Crm.open(db_path) as crm:
        assert "company_type" not in crm.registry.get("companies").properties


@pytest.mark.parametrize("cells, expected", [
    (["12", "7.5", ""], "number"), (["01234", "12"], "text"), (["yes", "No"], "boolean"),
    (["2021-03-04", "11 Jun 2021"], "date"), (["4/8/2025 17:19", "2025-01-01"], "datetime"),
    (["a@x.org", "b@y.com"], "email"), (["https://x.org", "www.y.com"], "url"),
    (["+1 555 0100", "(020) 7946-0000"], "phone"), (["two\nlines"], "textarea"), (["Blue", "12"], "text"), ([], "text"),
])
def test_the_type_of_a_new_property_comes_from_its_values(cells, expected):
    assert infer.infer_type(cells) == expected


def test_day_first_columns_and_property_names():
    assert infer.dates_day_first(["16/01/2024", "3/2/24", ""]) is True
    assert infer.dates_day_first(["1/16/2024", "3/2/24"]) is False
    assert infer.dates_day_first(["3/2/24"]) is False  # nothing says so: month first stays
    assert infer.property_name("Отчество", []) == "otchestvo"
    assert infer.property_name("Connected On", ["connected_on"]) == "connected_on_2"
    assert infer.property_name("Ελληνικά", []) == "column" and infer.property_name("2nd phone", []) == "column_2nd_phone"


def test_undo_removes_the_properties_the_import_made(crm, tmp_path):
    crm.records.create("contacts", {"email": "old@x.org"}, sources.API)
    path = write(tmp_path / "c.csv", "Email,Shoe size\nann@x.org,41\nold@x.org,40\n")
    result = run(crm, path, tmp=tmp_path)
    assert result.new_properties == ["contacts.shoe_size (number)"] and result.updated == {"contacts": 1}
    import_journal.undo_import(crm, result.import_id, backup=False)
    assert "shoe_size" not in crm.registry.get("contacts").properties
    assert "shoe_size" not in {r[1] for r in crm.db.execute_sql('PRAGMA table_info("obj_contacts")').fetchall()}
    assert [r["email"] for r in contacts(crm)] == ["old@x.org"]


GOOGLE_OLD = """Name,Given Name,Additional Name,Family Name,Yomi Name,Given Name Yomi,Additional Name Yomi,Family Name Yomi,Name Prefix,Name Suffix,Initials,Nickname,Short Name,Maiden Name,Birthday,Gender,Location,Billing Information,Directory Server,Mileage,Occupation,Hobby,Sensitivity,Priority,Subject,Notes,Language,Photo,Group Membership,E-mail 1 - Type,E-mail 1 - Value,E-mail 2 - Type,E-mail 2 - Value,Phone 1 - Type,Phone 1 - Value,Phone 2 - Type,Phone 2 - Value,Address 1 - Type,Address 1 - Formatted,Address 1 - Street,Address 1 - City,Address 1 - PO Box,Address 1 - Region,Address 1 - Postal Code,Address 1 - Country,Address 1 - Extended Address,Organization 1 - Type,Organization 1 - Name,Organization 1 - Yomi Name,Organization 1 - Title,Organization 1 - Department,Organization 1 - Symbol,Organization 1 - Location,Organization 1 - Job Description,Website 1 - Type,Website 1 - Value
Ann Lee,Ann,,Lee,,,,,Dr.,,,,,,1985-07-01,,,,,,,,,,,Met at the fair,,,* myContacts ::: Friends,* Work,ann@acme.com ::: ann@acme.org,Home,ann@home.org,Mobile,+1 555 0101,Work,+1 555 0100,Work,"1 Main St
Springfield",1 Main St,Springfield,,IL,62701,USA,,,Acme,,Buyer,Purchasing,,,,Profile,https://acme.com
"""


def test_google_contacts_older_format(crm, tmp_path):
    result = run(crm, write(tmp_path / "google.csv", GOOGLE_OLD), tmp=tmp_path)
    assert result.created == {"contacts": 1} and result.skipped_cells == 0 and result.failed == 0
    ann = contacts(crm)[0]
    assert (ann["firstname"], ann["lastname"], ann["salutation"], ann["company"], ann["jobtitle"]) == \
        ("Ann", "Lee", "Dr.", "Acme", "Buyer")
    assert ann["email"] == "ann@acme.com" and ann["hs_additional_emails"] == "ann@home.org;ann@acme.org"
    assert ann["phone"] == "+1 555 0101" and ann["phone_2_value"] == "+1 555 0100"
    assert (ann["address"], ann["city"], ann["state"], ann["zip"]) == ("1 Main St", "Springfield", "IL", "62701")
    assert ann["e_mail_1_type"] == "* Work" and ann["website"] == "https://acme.com"
