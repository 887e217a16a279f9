"""Automatic header -> property mapping."""

import pytest

from crm_tui.importing.mapping import auto_map, auto_map_many, header_key, singular, split_ids, split_list

CONTACTS = [
    ("firstname", "First name"), ("lastname", "Last name"), ("email", "Email"), ("phone", "Phone number"),
    ("jobtitle", "Job title"), ("company", "Company name"), ("lifecyclestage", "Lifecycle stage"),
    ("hs_lead_status", "Lead status"), ("hubspot_owner_id", "Contact owner"), ("createdate", "Create date"),
    ("city", "City"), ("country", "Country/Region"),
]
COMPANIES = [
    ("name", "Company name"), ("domain", "Company domain name"), ("industry", "Industry"),
    ("phone", "Phone number"), ("city", "City"), ("country", "Country/Region"),
    ("lifecyclestage", "Lifecycle stage"), ("hubspot_owner_id", "Company owner"),
]
DEALS = [
    ("dealname", "Deal name"), ("amount", "Amount"), ("pipeline", "Pipeline"), ("dealstage", "Deal stage"),
    ("closedate", "Close date"), ("hubspot_owner_id", "Deal owner"),
]
TICKETS = [
    ("subject", "Ticket name"), ("content", "Ticket description"), ("hs_pipeline", "Pipeline"),
    ("hs_pipeline_stage", "Ticket status"), ("hs_ticket_priority", "Priority"),
    ("hubspot_owner_id", "Ticket owner"),
]


def test_hubspot_contact_export():
    headers = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Job Title", "Lifecycle Stage",
               "Lead Status", "Contact owner", "Create Date", "Company Name", "Associated Company IDs",
               "Associated Company IDs (Primary)", "Associated Deal IDs", "Association label", "Last Activity Date"]
    assert auto_map(headers, "contacts", CONTACTS) == {
        "Record ID": "@id", "First Name": "firstname", "Last Name": "lastname", "Email": "email",
        "Phone Number": "phone", "Job Title": "jobtitle", "Lifecycle Stage": "lifecyclestage",
        "Lead Status": "hs_lead_status", "Contact owner": "hubspot_owner_id", "Create Date": "createdate",
        "Company Name": "company", "Associated Company IDs": "@assoc:companies",
        "Associated Company IDs (Primary)": "@assoc_primary:companies", "Associated Deal IDs": "@assoc:deals",
        "Association label": "@label", "Last Activity Date": None,
    }


def test_hubspot_company_export():
    headers = ["Record ID", "Company name", "Company Domain Name", "Website URL", "Industry", "Phone Number",
               "City", "Country/Region", "Company owner", "Associated Contact IDs", "Associated Ticket IDs"]
    assert auto_map(headers, "companies", COMPANIES) == {
        "Record ID": "@id", "Company name": "name", "Company Domain Name": "domain",
        "Website URL": None,  # the domain is taken by the better column
        "Industry": "industry", "Phone Number": "phone", "City": "city", "Country/Region": "country",
        "Company owner": "hubspot_owner_id", "Associated Contact IDs": "@assoc:contacts",
        "Associated Ticket IDs": "@assoc:tickets",
    }


def test_website_fills_the_domain_when_nothing_better_does():
    assert auto_map(["Name", "Website URL"], "companies", COMPANIES) == {"Name": "name", "Website URL": "domain"}
    with_website = COMPANIES + [("website", "Website URL")]
    assert auto_map(["Website URL"], "companies", with_website) == {"Website URL": "website"}


def test_hubspot_deal_export():
    headers = ["Record ID", "Deal Name", "Deal Stage", "Pipeline", "Amount", "Close Date", "Deal owner",
               "Associated Company IDs", "Associated Contact IDs"]
    assert auto_map(headers, "deals", DEALS) == {
        "Record ID": "@id", "Deal Name": "dealname", "Deal Stage": "dealstage", "Pipeline": "pipeline",
        "Amount": "amount", "Close Date": "closedate", "Deal owner": "hubspot_owner_id",
        "Associated Company IDs": "@assoc:companies", "Associated Contact IDs": "@assoc:contacts",
    }


def test_hubspot_ticket_export():
    headers = ["Ticket ID", "Ticket name", "Ticket status", "Pipeline", "Priority", "Ticket description",
               "Ticket owner", "Associated Contact IDs"]
    assert auto_map(headers, "tickets", TICKETS) == {
        "Ticket ID": "@id", "Ticket name": "subject", "Ticket status": "hs_pipeline_stage",
        "Pipeline": "hs_pipeline", "Priority": "hs_ticket_priority", "Ticket description": "content",
        "Ticket owner": "hubspot_owner_id", "Associated Contact IDs": "@assoc:contacts",
    }


@pytest.mark.parametrize("header", ["firstname", "FIRSTNAME", "first_name", "First Name", " first  name ",
                                    "First-Name", "Given Name", "Contact First Name"])
def test_case_space_and_punctuation_insensitive(header):
    assert auto_map([header], "contacts", CONTACTS) == {header: "firstname"}


def test_internal_names_and_labels():
    headers = ["hs_lead_status", "HUBSPOT_OWNER_ID", "Country/Region", "country region", "jobtitle"]
    assert auto_map(headers, "contacts", CONTACTS) == {
        "hs_lead_status": "hs_lead_status", "HUBSPOT_OWNER_ID": "hubspot_owner_id",
        "Country/Region": "country", "country region": None, "jobtitle": "jobtitle"}


def test_common_address_book_titles():
    headers = ["Given Name", "Family Name", "E-mail Address", "Business Phone", "Organization", "Position"]
    assert auto_map(headers, "contacts", CONTACTS) == {
        "Given Name": "firstname", "Family Name": "lastname", "E-mail Address": "email",
        "Business Phone": "phone", "Organization": "company", "Position": "jobtitle"}


def test_a_target_goes_to_one_column_only():
    mapping = auto_map(["Email", "email", "E-mail", "Record ID", "ID"], "contacts", CONTACTS)
    assert mapping == {"Email": "email", "email": None, "E-mail": None, "Record ID": "@id", "ID": None}


def test_exact_name_beats_an_earlier_synonym():
    # "Mobile" is only a last resort for phone: the exact "Phone" column takes it even though it comes later.
    assert auto_map(["Mobile", "Phone"], "contacts", CONTACTS) == {"Mobile": None, "Phone": "phone"}
    assert auto_map(["Mobile"], "contacts", CONTACTS) == {"Mobile": "phone"}


def test_titles_only_map_to_existing_properties():
    assert auto_map(["Create Date"], "companies", COMPANIES) == {"Create Date": None}


def test_own_id_but_not_other_objects_id():
    assert auto_map(["Contact ID", "Company ID"], "contacts", CONTACTS) == {"Contact ID": "@id", "Company ID": None}
    assert auto_map(["Deal ID"], "deals", DEALS) == {"Deal ID": "@id"}


def test_association_columns():
    headers = ["Associated Company ID", "Associated Deal IDs", "Associated Contact Record IDs", "Association labels"]
    assert auto_map(headers, "contacts", CONTACTS) == {
        "Associated Company ID": "@assoc_primary:companies",  # HubSpot's associatedcompanyid
        "Associated Deal IDs": "@assoc:deals", "Associated Contact Record IDs": "@assoc:contacts",
        "Association labels": "@label"}


def test_custom_objects():
    props = [("batch_code", "Batch code"), ("roasted_on", "Roasted on")]
    headers = ["Roast batch ID", "Batch Code", "roasted on", "Associated Roast Batch IDs"]
    assert auto_map(headers, "roast_batches", props) == {
        "Roast batch ID": "@id", "Batch Code": "batch_code", "roasted on": "roasted_on",
        "Associated Roast Batch IDs": "@assoc:roast_batches"}
    assert auto_map(["Associated Roast Batch IDs"], "contacts", CONTACTS, objects=["roast_batches"]) == {
        "Associated Roast Batch IDs": "@assoc:roast_batches"}


def test_unmapped_and_blank_headers():
    assert auto_map(["", "Favourite colour"], "contacts", CONTACTS) == {"": None, "Favourite colour": None}


def test_several_objects_in_one_file():
    headers = ["First Name", "Email", "Company Name", "Company Domain Name", "Phone Number", "City",
               "Deal Name", "Deal Stage", "Amount", "Association label", "Unknown"]
    mapping = auto_map_many(headers, {"contacts": CONTACTS, "companies": COMPANIES, "deals": DEALS})
    assert mapping == {
        "First Name": ("contacts", "firstname"), "Email": ("contacts", "email"),
        "Company Name": ("companies", "name"),  # names the company, not the contact's text field
        "Company Domain Name": ("companies", "domain"),
        "Phone Number": ("contacts", "phone"), "City": ("contacts", "city"),  # first object listed
        "Deal Name": ("deals", "dealname"), "Deal Stage": ("deals", "dealstage"), "Amount": ("deals", "amount"),
        "Association label": ("contacts", "@label"), "Unknown": None,
    }


def test_several_objects_with_prefixed_shared_headers():
    headers = ["Contact Phone", "Company Phone", "Company City"]
    mapping = auto_map_many(headers, {"contacts": CONTACTS, "companies": COMPANIES})
    assert mapping == {"Contact Phone": ("contacts", "phone"), "Company Phone": ("companies", "phone"),
                       "Company City": ("companies", "city")}


def test_helpers():
    assert header_key(" Country/Region ") == "countryregion"
    assert singular("companies") == "company"
    assert singular("contacts") == "contact"
    assert singular("roast_batches") == "roastbatch"
    assert singular("boxes") == "box"


def test_split_ids():
    assert split_ids("101;102; 103") == [101, 102, 103]
    assert split_ids(" 7 ;;7; 8 ") == [7, 8]
    assert split_ids("1,2") == [1, 2]
    assert split_ids("") == []
    with pytest.raises(ValueError, match="'abc' is not a record ID"):
        split_ids("1;abc")
    with pytest.raises(ValueError):
        split_ids("-1")


def test_split_list():
    assert split_list("Decision maker; Billing contact;;Decision maker") == ["Decision maker", "Billing contact"]
    assert split_list("   ") == []
