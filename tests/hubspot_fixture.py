"""A HubSpot portal's exports, written in HubSpot's shapes (headers as HubSpot writes them, re-saved
by a spreadsheet: M/D/YY dates, `null` cells), for the tests of importing/hubspot.py and bundle.py.

    write_portal(folder, lang="en") -> folder with companies.csv, contacts.csv, deals.csv, tickets.csv
    write_zip(path, lang="en")      -> the same four files in a .zip (as HubSpot mails them)
    EXPECTED                        -> what the CRM must hold afterwards

Owners "Worpaaeg Whjzqscokhf", "Sir Whjzqscokhf" and "Ana Souza" do not exist in a new database.
Associations are listed on both sides where HubSpot does (a company's contacts and a contact's
companies), and on one side only for contact 201004 - company 101003 (in the later file) and
company 101003 - deal 301002 (in the earlier file: the link waits for the deals file).
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

# English header -> (es, fr, de, pt)
HEADERS = {
    "Record ID": ("ID de registro", "ID de fiche d'informations", "Datensatz-ID", "ID do registro"),
    "Company name": ("Nombre de la empresa", "Nom de l'entreprise", "Name des Unternehmens", "Nome da empresa"),
    "Company owner": ("Propietario de la empresa", "Propriétaire de l'entreprise", "Unternehmensinhaber",
                      "Proprietário da empresa"),
    "Company Domain Name": ("Nombre de dominio de la empresa", "Nom de domaine de l'entreprise",
                            "Domain-Name des Unternehmens", "Nome de domínio da empresa"),
    "Create Date": ("Fecha de creación", "Date de création", "Erstelldatum", "Data de criação"),
    "Phone Number": ("Número de teléfono", "Numéro de téléphone", "Telefonnummer", "Número de telefone"),
    "City": ("Ciudad", "Ville", "Stadt", "Cidade"),
    "Country/Region": ("País/región", "Pays/région", "Land/Region", "País/região"),
    "Industry": ("Sector", "Secteur d'activité", "Branche", "Setor"),
    "Company Type": ("Tipo de empresa", "Type d'entreprise", "Unternehmenstyp", "Tipo de empresa"),
    "Postal Code": ("Código postal", "Code postal", "Postleitzahl", "Código postal"),
    "Annual Revenue": ("Ingresos anuales", "Chiffre d'affaires annuel", "Jahresumsatz", "Receita anual"),
    "First Name": ("Nombre", "Prénom", "Vorname", "Nome"),
    "Last Name": ("Apellidos", "Nom", "Nachname", "Sobrenome"),
    "Email": ("Correo", "E-mail", "E-Mail", "E-mail"),
    "Contact owner": ("Propietario del contacto", "Propriétaire du contact", "Kontaktinhaber",
                      "Proprietário do contato"),
    "Lifecycle Stage": ("Etapa del ciclo de vida", "Phase du cycle de vie", "Lifecycle-Phase",
                        "Fase do ciclo de vida"),
    "Lead Status": ("Estado del lead", "Statut du lead", "Lead-Status", "Status do lead"),
    "Client Grade": ("Grado del cliente", "Note du client", "Kundenbewertung", "Nota do cliente"),
    "Last Engagement Date": ("Fecha de la última interacción", "Date du dernier engagement",
                             "Datum des letzten Engagements", "Data do último engajamento"),
    "Deal Name": ("Nombre del negocio", "Nom de la transaction", "Name des Deals", "Nome do negócio"),
    "Deal Stage": ("Etapa del negocio", "Phase de la transaction", "Deal-Phase", "Fase do negócio"),
    "Pipeline": ("Pipeline", "Pipeline", "Pipeline", "Pipeline"),
    "Amount": ("Importe", "Montant", "Betrag", "Valor"),
    "Close Date": ("Fecha de cierre", "Date de fermeture", "Abschlussdatum", "Data de fechamento"),
    "Deal owner": ("Propietario del negocio", "Propriétaire de la transaction", "Deal-Inhaber",
                   "Proprietário do negócio"),
    "Forecast Category": ("Categoría de previsión", "Catégorie de prévision", "Prognosekategorie",
                          "Categoria de previsão"),
    "Ticket name": ("Nombre del ticket", "Nom du ticket", "Ticket-Name", "Nome do ticket"),
    "Ticket status": ("Estado del ticket", "Statut du ticket", "Ticket-Status", "Status do ticket"),
    "Priority": ("Prioridad", "Priorité", "Priorität", "Prioridade"),
    "Ticket owner": ("Propietario del ticket", "Propriétaire du ticket", "Ticket-Inhaber",
                     "Proprietário do ticket"),
    "Associated Contact IDs": ("ID de contactos asociados", "ID des contacts associés", "Zugeordnete Kontakt-IDs",
                               "IDs de contatos associados"),
    "Associated Company IDs": ("ID de empresas asociadas", "ID des entreprises associées",
                               "Zugeordnete Unternehmens-IDs", "IDs de empresas associadas"),
    "Associated Company IDs (Primary)": ("ID de empresas asociadas (principal)",
                                         "ID des entreprises associées (principale)",
                                         "Zugeordnete Unternehmens-IDs (primär)",
                                         "IDs de empresas associadas (principal)"),
    "Associated Deal IDs": ("ID de negocios asociados", "ID des transactions associées", "Zugeordnete Deal-IDs",
                            "IDs de negócios associados"),
    "Associated Ticket IDs": ("ID de tickets asociados", "ID des tickets associés", "Zugeordnete Ticket-IDs",
                              "IDs de tickets associados"),
    "Associated Line Item IDs": ("ID de partidas asociadas", "ID des éléments de ligne associés",
                                 "Zugeordnete Artikel-IDs", "IDs de itens de linha associados"),
    "Associated Form Submission IDs": ("ID de envíos de formularios asociados",
                                       "ID des soumissions de formulaire associées",
                                       "Zugeordnete Formulareinsendungs-IDs",
                                       "IDs de envios de formulário associados"),
    "Associated Company": ("Empresa asociada", "Entreprise associée", "Zugeordnetes Unternehmen",
                           "Empresa associada"),
}
LANGS = ("en", "es", "fr", "de", "pt")

COMPANIES = [
    {"Record ID": "101001", "Company name": "Acme Corp", "Company owner": "Worpaaeg Whjzqscokhf",
     "Company Domain Name": "acme.com", "Create Date": "5/7/24 10:26", "Phone Number": "+1 713 555 0100",
     "City": "Houston", "Country/Region": "United States", "Industry": "Real Estate", "Company Type": "AMC Contact",
     "Postal Code": "02134", "Annual Revenue": "10000000", "Associated Contact IDs": "201001;201002",
     "Associated Deal IDs": "301001", "Associated Ticket IDs": "401002"},
    {"Record ID": "101002", "Company name": "Beta LLC", "Company owner": "Sir Whjzqscokhf",
     "Company Domain Name": "beta.io", "Create Date": "11/18/24 17:56", "Phone Number": "null",
     "City": "Chicago Heights", "Country/Region": "United States", "Industry": "Finance", "Company Type": "Lender",
     "Postal Code": "60411", "Annual Revenue": "", "Associated Contact IDs": "201002;201003",
     "Associated Deal IDs": "301002", "Associated Ticket IDs": "401001"},
    {"Record ID": "101003", "Company name": "Gamma GmbH", "Company owner": "",
     "Company Domain Name": "gamma.de", "Create Date": "1/13/25 14:47", "Phone Number": "",
     "City": "Berlin", "Country/Region": "Germany", "Industry": "", "Company Type": "",
     "Postal Code": "10115", "Annual Revenue": "50000000", "Associated Contact IDs": "",
     "Associated Deal IDs": "301002", "Associated Ticket IDs": ""},
]
CONTACTS = [
    {"Record ID": "201001", "First Name": "Ann", "Last Name": "Lee", "Email": "ann@acme.com", "Phone Number": "null",
     "Contact owner": "Worpaaeg Whjzqscokhf", "Create Date": "2/5/24 1:51", "Lifecycle Stage": "Customer",
     "Lead Status": "Open deal", "Client Grade": "A Clients (High-Volume, Re-engage Every 7 Days)",
     "Last Engagement Date": "12/4/24 13:21", "Associated Company": "Acme Corp",
     "Associated Company IDs": "101001", "Associated Company IDs (Primary)": "101001",
     "Associated Deal IDs": "301001", "Associated Ticket IDs": "401002", "Associated Form Submission IDs": "999"},
    {"Record ID": "201002", "First Name": "Bob", "Last Name": "Ray", "Email": "bob@beta.io",
     "Phone Number": "(406) 086-8595", "Contact owner": "", "Create Date": "2/20/24 11:30",
     "Lifecycle Stage": "Opportunity", "Lead Status": "", "Client Grade": "C Clients",
     "Last Engagement Date": "", "Associated Company": "Acme Corp;Beta LLC",
     "Associated Company IDs": "101001;101002", "Associated Company IDs (Primary)": "101002",
     "Associated Deal IDs": "301002", "Associated Ticket IDs": "", "Associated Form Submission IDs": ""},
    {"Record ID": "201003", "First Name": "Cy", "Last Name": "", "Email": "cy@gmail.com", "Phone Number": "",
     "Contact owner": "Sir Whjzqscokhf", "Create Date": "6/20/24 15:00", "Lifecycle Stage": "Lead",
     "Lead Status": "New", "Client Grade": "", "Last Engagement Date": "3/29/25 11:27",
     "Associated Company": "Beta LLC", "Associated Company IDs": "101002",
     "Associated Company IDs (Primary)": "101002", "Associated Deal IDs": "", "Associated Ticket IDs": "401001",
     "Associated Form Submission IDs": ""},
    {"Record ID": "201004", "First Name": "Dee", "Last Name": "Voss", "Email": "dee@gamma.de", "Phone Number": "",
     "Contact owner": "Ana Souza", "Create Date": "9/11/24 10:32", "Lifecycle Stage": "Lead", "Lead Status": "",
     "Client Grade": "B Clients", "Last Engagement Date": "", "Associated Company": "Gamma GmbH",
     "Associated Company IDs": "101003", "Associated Company IDs (Primary)": "101003", "Associated Deal IDs": "",
     "Associated Ticket IDs": "", "Associated Form Submission IDs": ""},
]
DEALS = [
    {"Record ID": "301001", "Deal Name": "Acme renewal", "Deal Stage": "Closed Won", "Pipeline": "Sales Pipeline",
     "Amount": "12500.5", "Close Date": "6/30/24", "Deal owner": "Worpaaeg Whjzqscokhf", "Create Date": "3/1/24 9:00",
     "Forecast Category": "Commit", "Associated Company IDs": "101001", "Associated Company IDs (Primary)": "101001",
     "Associated Contact IDs": "201001", "Associated Ticket IDs": "401002", "Associated Line Item IDs": "555;556"},
    {"Record ID": "301002", "Deal Name": "Beta pilot", "Deal Stage": "Qualified To Buy", "Pipeline": "Sales Pipeline",
     "Amount": "4000", "Close Date": "", "Deal owner": "Ana Souza", "Create Date": "4/2/25 14:35",
     "Forecast Category": "Pipeline", "Associated Company IDs": "101002", "Associated Company IDs (Primary)": "101002",
     "Associated Contact IDs": "201002", "Associated Ticket IDs": "", "Associated Line Item IDs": ""},
]
TICKETS = [
    {"Record ID": "401001", "Ticket name": "Login broken", "Ticket status": "Waiting on contact",
     "Pipeline": "Support Pipeline", "Priority": "High", "Ticket owner": "Ana Souza", "Create Date": "3/1/25 9:05",
     "Associated Contact IDs": "201003", "Associated Company IDs": "101002", "Associated Deal IDs": ""},
    {"Record ID": "401002", "Ticket name": "Invoice question", "Ticket status": "New",
     "Pipeline": "Support Pipeline", "Priority": "Low", "Ticket owner": "", "Create Date": "3/2/25 16:40",
     "Associated Contact IDs": "201001", "Associated Company IDs": "101001", "Associated Deal IDs": "301001"},
]
FILES = {"companies.csv": COMPANIES, "contacts.csv": CONTACTS, "deals.csv": DEALS, "tickets.csv": TICKETS}

# What the CRM holds after the move, by HubSpot Record ID.
EXPECTED = {
    "counts": {"companies": 3, "contacts": 4, "deals": 2, "tickets": 2},
    # (object, id) -> {(object, id), ...}: every link, whichever file named it
    "links": {
        ("companies", "101001"): {("contacts", "201001"), ("contacts", "201002"), ("deals", "301001"),
                                  ("tickets", "401002")},
        ("companies", "101002"): {("contacts", "201002"), ("contacts", "201003"), ("deals", "301002"),
                                  ("tickets", "401001")},
        ("companies", "101003"): {("contacts", "201004"), ("deals", "301002")},
        ("contacts", "201001"): {("companies", "101001"), ("deals", "301001"), ("tickets", "401002")},
        ("contacts", "201002"): {("companies", "101001"), ("companies", "101002"), ("deals", "301002")},
        ("contacts", "201003"): {("companies", "101002"), ("tickets", "401001")},
        ("contacts", "201004"): {("companies", "101003")},
        ("deals", "301001"): {("companies", "101001"), ("contacts", "201001"), ("tickets", "401002")},
        ("deals", "301002"): {("companies", "101002"), ("companies", "101003"), ("contacts", "201002")},
        ("tickets", "401001"): {("companies", "101002"), ("contacts", "201003")},
        ("tickets", "401002"): {("companies", "101001"), ("contacts", "201001"), ("deals", "301001")},
    },
    "primary": {("contacts", "201001"): "101001", ("contacts", "201002"): "101002",
                ("contacts", "201003"): "101002", ("contacts", "201004"): "101003",
                ("deals", "301001"): "101001", ("deals", "301002"): "101002",
                ("tickets", "401001"): "101002", ("tickets", "401002"): "101001"},
    "owners": {"Worpaaeg Whjzqscokhf", "Sir Whjzqscokhf", "Ana Souza"},
}


def header(english: str, lang: str) -> str:
    return english if lang == "en" else HEADERS[english][LANGS.index(lang) - 1]


def csv_text(rows: list[dict], lang: str = "en") -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header(h, lang) for h in rows[0]])
    for row in rows:
        writer.writerow(list(row.values()))
    return out.getvalue()


def write_portal(folder: Path, lang: str = "en") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in FILES.items():
        (folder / name).write_text(csv_text(rows, lang), encoding="utf-8-sig", newline="")
    return folder


def write_zip(path: Path, lang: str = "en") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, rows in FILES.items():  # HubSpot names them after the export and the object
            zf.writestr(f"hubspot-crm-exports-all-{name}", ("\ufeff" + csv_text(rows, lang)).encode("utf-8"))
    return path


TWO_OBJECT = (
    "Record ID - Contact,First Name,Last Name,Email,Phone Number,Contact owner,Create Date,Company Name,"
    "Record ID - Company,Company name,Create Date,Phone Number,City,Industry\r\n"
    "31833029667,Snlvrhp,,fbuvqxl@ecllvianvahy.com,,Worpaaeg Whjzqscokhf,6/20/24 15:00,AppraisalTek,"
    "21526623102,AppraisalTek,6/20/24 15:03,,Austin,Real Estate\r\n"
    "8310,Kitxvs T.,Ezqfadc,bhuvdc@ecllvianvahy.com,null,,2/20/24 11:30,,"
    "21526623102,AppraisalTek,6/20/24 15:03,,Austin,Real Estate\r\n"
    "1415,Pygyweq,Ehgyaeqxq,,(406) 086-8595,,2/5/24 1:51,,,,,,,\r\n"
    "57056220451,Tvkcfjdpb,Zrhsubuskm,zowjhkfcmz@sluvcrfrefstxhh.com,,Worpaaeg Whjzqscokhf,9/11/24 10:32,,"
    "31505546281,Appraisal Shield,3/29/25 11:27,+1 954-491-9800,Edmond,Real Estate\r\n"
)


def write_two_object(path: Path) -> Path:
    path.write_text(TWO_OBJECT, encoding="utf-8", newline="")
    return path
