"""vCard reading (2.1, 3.0, 4.0 and real exports) and vCard 4.0 writing."""

import random
from pathlib import Path

import pytest

from crm_tui.importing.vcard import CONTACT_FIELDS, parse_vcards, read_vcards, write_vcard4

VCARDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "vcards"


def crlf(text):
    return text.replace("\n", "\r\n").encode("utf-8")


def only(data):
    result = parse_vcards(data)
    assert len(result.contacts) == 1, result.problems
    return result.contacts[0]


# ---------------------------------------------------------------- own fixtures

VCARD_21_QP = crlf("""BEGIN:VCARD
VERSION:2.1
N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen;;Dr.;
FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Dr. J=C3=BCrgen M=C3=BCller
ORG;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:B=E4ckerei Schmidt;Vertrieb
TITLE:Chef
TEL;WORK;VOICE:+49 30 1234567
TEL;CELL;PREF:+49 171 7654321
EMAIL;INTERNET:juergen@example.de
EMAIL;PREF;INTERNET:j.mueller@example.DE
ADR;WORK;PREF:;;Hauptstra=C3=9Fe 1;Berlin;;10115;Deutschland
NOTE;ENCODING=QUOTED-PRINTABLE:Erste Zeile=0D=0AZweite Zeile mit einem sehr langen Text, der =
umgebrochen wurde=0D=0A=
Dritte Zeile
PHOTO;ENCODING=BASE64;TYPE=JPEG:
/9j/4AAQSkZJRgABAQEAYABgAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0a
HBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/2wBDAQkJCQwLDBgNDRgyIRwhMjIyMjIy

END:VCARD
""")


def test_vcard_21_quoted_printable():
    contact = only(VCARD_21_QP)
    assert contact["firstname"] == "Jürgen"
    assert contact["lastname"] == "Müller"
    assert contact["company"] == "Bäckerei Schmidt"  # ISO-8859-1 bytes in QP
    assert contact["jobtitle"] == "Chef"
    assert contact["phone"] == "+49 171 7654321"  # PREF wins over file order
    assert contact["phones"] == ["+49 171 7654321", "+49 30 1234567"]
    assert contact["email"] == "j.mueller@example.DE"
    assert contact["emails"] == ["j.mueller@example.DE", "juergen@example.de"]
    assert contact["city"] == "Berlin" and contact["country"] == "Deutschland"
    assert contact["note"] == (
        "Erste Zeile\nZweite Zeile mit einem sehr langen Text, der umgebrochen wurde\nDritte Zeile")
    assert set(contact) == set(CONTACT_FIELDS)


VCARD_30 = crlf("""BEGIN:VCARD
VERSION:3.0
N:O'Brien;Siobhán;;;
FN:Siobhán O'Brien
ORG:Acme\\, Inc.;Sales
TITLE:Head of Sales\\; EMEA
item1.EMAIL;type=INTERNET;type=pref:siobhan@acme.ie
item1.X-ABLabel:_$!<Work>!$_
EMAIL;TYPE=INTERNET,HOME:shiv@example.com
TEL;TYPE=WORK,VOICE:+353 1 234 5678
item2.ADR;type=WORK:;;1 Grand Canal Sq;Dublin;;D02;Ireland
item3.URL:http\\://acme.ie
NOTE:Met at the fair.\\nLikes tea\\, not coffee.\\\\o/
 Folded continuation.
END:VCARD
""")


def test_vcard_30_escapes_groups_and_folding():
    contact = only(VCARD_30)
    assert (contact["firstname"], contact["lastname"]) == ("Siobhán", "O'Brien")
    assert contact["company"] == "Acme, Inc."
    assert contact["jobtitle"] == "Head of Sales; EMEA"
    assert contact["emails"] == ["siobhan@acme.ie", "shiv@example.com"]
    assert contact["city"] == "Dublin" and contact["country"] == "Ireland"
    assert contact["note"] == "Met at the fair.\nLikes tea, not coffee.\\o/Folded continuation."


VCARD_40 = crlf("""BEGIN:VCARD
VERSION:4.0
FN:Simon Perreault
N:Perreault;Simon;;;ing. jr,M.Sc.
ORG;TYPE=work:Viagenie
ADR;TYPE=work:;Suite D2-630;2875 Laurier;
 Quebec;QC;G1V 2M2;Canada
TEL;VALUE=uri;TYPE="work,voice";PREF=2:tel:+1-418-656-9254;ext=102
TEL;VALUE=uri;TYPE="work,cell,voice,video,text";PREF=1:tel:+1-418-262-6501
EMAIL;TYPE=work:simon.perreault@viagenie.ca
EMAIL;PREF=1:mailto:simon@example.org
END:VCARD
""")


def test_vcard_40_pref_numbers_and_uris():
    contact = only(VCARD_40)
    assert (contact["firstname"], contact["lastname"]) == ("Simon", "Perreault")
    assert contact["company"] == "Viagenie"
    assert contact["city"] == "Quebec" and contact["country"] == "Canada"
    assert contact["phone"] == "+1-418-262-6501"
    assert contact["phones"] == ["+1-418-262-6501", "+1-418-656-9254 ext. 102"]
    assert contact["email"] == "simon@example.org"


def test_cr_cr_lf_line_ends_as_in_iphone_exports():
    data = (b"BEGIN:VCARD\r\r\nVERSION:3.0\r\r\nN:Doe;John;;;\r\r\nFN:John Doe\r\r\n"
            b"EMAIL;type=INTERNET;type=pref:john@example.com\r\r\nNOTE:folded \r\r\n line\r\r\nEND:VCARD\r\r\n"
            b"BEGIN:VCARD\r\r\nVERSION:3.0\r\r\nFN:Jane Roe\r\r\nEND:VCARD\r\r\n")
    result = parse_vcards(data)
    assert result.problems == []
    assert [(c["firstname"], c["lastname"], c["email"]) for c in result.contacts] == [
        ("John", "Doe", "john@example.com"), ("Jane", "Roe", "")]
    assert result.contacts[0]["note"] == "folded line"


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n", b"\r\r\n"])
def test_any_line_end_and_chunk_boundaries(eol, monkeypatch):
    import crm_tui.importing.vcard as vcard
    monkeypatch.setattr(vcard, "_CHUNK", 7)  # line ends split across reads
    lines = [b"BEGIN:VCARD", b"VERSION:3.0", b"FN:Ann Lee", b"TEL:555 0100", b"END:VCARD"] * 3
    result = parse_vcards(eol.join(lines) + eol)
    assert [c["phone"] for c in result.contacts] == ["555 0100"] * 3
    assert result.problems == []


def test_several_cards_bom_and_case_insensitive_markers():
    data = "\ufeffbegin:vcard\nversion:3.0\nfn:A One\nend:vcard\nBEGIN:vCard\nVERSION:3.0\nFN:B Two\nEND:vCard\n"
    result = parse_vcards(data)
    assert [c["firstname"] for c in result.contacts] == ["A", "B"]


def test_name_from_fn_when_n_is_missing():
    contact = only("BEGIN:VCARD\nVERSION:3.0\nFN:Mary Ann Smith\nEND:VCARD\n")
    assert (contact["firstname"], contact["lastname"]) == ("Mary Ann", "Smith")
    contact = only("BEGIN:VCARD\nVERSION:3.0\nFN:Cher\nEND:VCARD\n")
    assert (contact["firstname"], contact["lastname"]) == ("Cher", "")


def test_utf16_file():
    contact = only("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zoë Ünal\r\nEND:VCARD\r\n".encode("utf-16"))
    assert contact["lastname"] == "Ünal"


def test_windows_1252_bytes_without_charset():
    contact = only(b"BEGIN:VCARD\r\nVERSION:2.1\r\nN:Mu\xf1oz;Jos\xe9\r\nEND:VCARD\r\n")
    assert (contact["firstname"], contact["lastname"]) == ("José", "Muñoz")


def test_control_characters_are_removed():
    contact = only("BEGIN:VCARD\nVERSION:3.0\nN:\x1b[31mEvil\x1b[0m;Bob\x07\nEND:VCARD\n")
    assert (contact["firstname"], contact["lastname"]) == ("Bob", "Evil")


def test_nested_agent_card_is_skipped():
    data = ("BEGIN:VCARD\nVERSION:2.1\nN:Boss;Big\nAGENT:\nBEGIN:VCARD\nVERSION:2.1\nN:Helper;Little\n"
            "EMAIL:helper@example.com\nEND:VCARD\nEMAIL:boss@example.com\nEND:VCARD\n")
    contact = only(data)
    assert (contact["firstname"], contact["emails"]) == ("Big", ["boss@example.com"])
    inline = ("BEGIN:VCARD\nVERSION:3.0\nN:Boss;Big\nAGENT:BEGIN:VCARD\\nFN:Susan\\nEMAIL:s@example.com\\n"
              "END:VCARD\\n\nEMAIL:boss@example.com\nEND:VCARD\nBEGIN:VCARD\nFN:Next One\nEND:VCARD\n")
    result = parse_vcards(inline)
    assert [(c["firstname"], c["emails"]) for c in result.contacts] == [
        ("Big", ["boss@example.com"]), ("Next", [])]


# ---------------------------------------------------------------- odd input: skipped and reported

def test_odd_input_is_reported_not_raised():
    data = ("garbage before\nEND:VCARD\nBEGIN:VCARD\nVERSION:3.0\n::no name\nFN:Ok Person\nEND:VCARD\n"
            "BEGIN:VCARD\nVERSION:3.0\nX-EMPTY:1\nEND:VCARD\nBEGIN:VCARD\nFN:Cut Short\n")
    result = parse_vcards(data)
    assert [c["firstname"] for c in result.contacts] == ["Ok", "Cut"]
    problems = "\n".join(result.problems)
    assert "line 2: END:VCARD without BEGIN:VCARD" in problems
    assert "line 5: not a vCard property" in problems
    assert "line 8: the card has no name, email, phone or company; skipped" in problems
    assert "line 12: the card has no END:VCARD" in problems
    assert "1 line(s) outside any BEGIN:VCARD/END:VCARD were ignored (first on line 1)" in problems


def test_not_a_vcard_at_all():
    assert parse_vcards(b"").problems == ["no vCard found (no BEGIN:VCARD line)"]
    assert parse_vcards(b"\x89PNG\r\n\x1a\n\x00\x00").contacts == []


def test_random_bytes_never_crash():
    rng = random.Random(20260225)
    pieces = [b"BEGIN:VCARD\r\n", b"END:VCARD\r\n", b"N:", b";", b"=", b"=\r\n", b"\r", b"\n", b" ", b"\\",
              b"ENCODING=QUOTED-PRINTABLE:", b"CHARSET=nonsense:", b"EMAIL;PREF=x:", b"\xff\xfe", b"\x00",
              b"ADR:;;;", b"TEL:", b"item1.", b"\"", b"AGENT:BEGIN:VCARD", b"=C3", b"\xc3"]
    for _ in range(300):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 60)))
        result = parse_vcards(data)
        for contact in result.contacts:
            assert set(contact) == set(CONTACT_FIELDS)


# ---------------------------------------------------------------- real address books (skip without ../shared)

def real_files():
    return sorted(p.name for p in VCARDS.glob("*.vcf")) if VCARDS.is_dir() else []


@pytest.mark.skipif(not VCARDS.is_dir(), reason="../shared/data/vcards is absent")
@pytest.mark.parametrize("name", real_files())
def test_real_exports_parse(name):
    result = read_vcards(VCARDS / name)
    assert result.contacts, result.problems
    assert result.problems == []
    for contact in result.contacts:
        assert set(contact) == set(CONTACT_FIELDS)
        assert all("\r" not in value for value in contact.values() if isinstance(value, str))
    # and what was read can be written and read back
    again = parse_vcards(write_vcard4(result.contacts)).contacts
    assert [(c["firstname"], c["lastname"], c["emails"]) for c in again] == [
        (c["firstname"], c["lastname"], c["emails"]) for c in result.contacts]


@pytest.mark.skipif(not VCARDS.is_dir(), reason="../shared/data/vcards is absent")
def test_real_exports_content():
    iphone = read_vcards(VCARDS / "John_Doe_IPHONE.vcf").contacts[0]
    assert (iphone["firstname"], iphone["lastname"], iphone["email"]) == ("John", "Doe", "john.doe@ibm.com")
    assert (iphone["company"], iphone["jobtitle"], iphone["city"]) == ("IBM", "Money Counter", "New York")
    outlook = read_vcards(VCARDS / "outlook-2003.vcf").contacts[0]
    assert outlook["company"] == "Company, The"
    assert outlook["note"] == "This is the note field!!\nSecond line\n\nThird line is empty"
    android = read_vcards(VCARDS / "John_Doe_ANDROID.vcf").contacts
    assert len(android) == 6 and android[2]["lastname"] == "Ñ Ñ Ñ Ñ"
    rfc = read_vcards(VCARDS / "rfc2426-example.vcf").contacts
    assert [c["lastname"] for c in rfc] == ["Dawson", "Howes"]
    assert rfc[1]["city"] == "Mountain View"


# ---------------------------------------------------------------- writing vCard 4.0

def test_write_vcard4_escapes_and_structure():
    text = write_vcard4([{
        "firstname": "Ann", "lastname": "Lee, Jr.", "email": "ann@example.com", "emails": ["ANN@example.com", "a2@x.io"],
        "phone": "+1 555 0100", "jobtitle": "CTO; founder", "company": "Acme; Inc", "city": "Paris",
        "country": "France", "note": "line 1\nline 2 \\ backslash", "website": "https://acme.example",
    }])
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert lines[:3] == ["BEGIN:VCARD", "VERSION:4.0", "PRODID:-//crm-tui//EN"]
    assert "FN:Ann Lee\\, Jr." in lines
    assert "N:Lee\\, Jr.;Ann;;;" in lines
    assert "EMAIL;PREF=1:ann@example.com" in lines and "EMAIL:a2@x.io" in lines
    assert "TEL:+1 555 0100" in lines
    assert "TITLE:CTO\\; founder" in lines
    assert "ORG:Acme\\; Inc" in lines
    assert "ADR:;;;Paris;;;France" in lines
    assert "URL:https://acme.example" in lines
    assert "NOTE:line 1\\nline 2 \\\\ backslash" in lines
    assert lines[-2:] == ["END:VCARD", ""]


def test_write_vcard4_folds_at_75_octets_without_splitting_characters():
    note = "é" * 100 + "x" * 100 + "😀" * 30
    text = write_vcard4([{"firstname": "Long", "note": note}])
    for line in text.split("\r\n"):
        assert len(line.encode("utf-8")) <= 75
    assert only(text.encode("utf-8"))["note"] == note


def test_write_then_read_round_trip():
    contacts = [
        {"firstname": "Zoë", "lastname": "D'Arcy", "email": "zoe@example.com", "emails": ["zoe@example.com"],
         "phone": "+44 20 7946 0958", "phones": ["+44 20 7946 0958", "07700 900123"], "jobtitle": "Buyer, Senior",
         "company": "Tea; Coffee & Co", "city": "London", "country": "UK", "note": "a,b;c\\d\nnext line"},
        {"firstname": "", "lastname": "", "company": "Only A Company"},
    ]
    back = parse_vcards(write_vcard4(contacts))
    assert back.problems == []
    first, second = back.contacts
    for key in ("firstname", "lastname", "email", "emails", "phone", "phones", "jobtitle", "company", "city",
                "country", "note"):
        assert first[key] == contacts[0][key], key
    assert second["company"] == "Only A Company"
    assert "FN:Only A Company" in write_vcard4(contacts[1:])


def test_write_skips_missing_values_and_strips_controls():
    text = write_vcard4([{"firstname": "Bob\x1b[2J", "lastname": None, "email": None, "emails": None}])
    assert "FN:Bob\r\n" in text and "N:;Bob;;;\r\n" in text
    assert "EMAIL" not in text and "\x1b" not in text
    assert write_vcard4([]) == ""


def test_a_card_with_a_photo_of_megabytes_reads_its_fields():
    """A PHOTO folded over ~40,000 lines (2 MB, base64) is joined once, not line by line (each
    join used to copy the whole line so far: 9 s for a 5 MB photo); the card's fields come through."""
    import base64

    photo = base64.b64encode(bytes(range(256)) * 8192).decode()  # 2 MiB of bytes
    folded = "\r\n ".join(photo[i:i + 74] for i in range(0, len(photo), 74))
    card = ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Big Photo\r\nN:Photo;Big;;;\r\nEMAIL:big@photo.example\r\n"
            f"PHOTO;ENCODING=b;TYPE=JPEG:{folded}\r\nTEL:+1 555 0100\r\nEND:VCARD\r\n")
    read = parse_vcards(card)
    [contact] = read.contacts
    assert contact["email"] == "big@photo.example" and contact["firstname"] == "Big"
    assert contact["phone"] == "+1 555 0100"
