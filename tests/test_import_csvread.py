"""Streaming CSV reading: encodings, delimiters, line ends, messy headers, line numbers."""

import json
import tracemalloc
from pathlib import Path

import pytest

from crm_tui.importing.csvread import CsvError, detect_delimiter, open_csv

SPECTRUM = Path(__file__).resolve().parents[2] / "shared" / "data" / "csv-spectrum"


def write(tmp_path, content, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def rows_of(source):
    return [row for _line, row in source]


# ---------------------------------------------------------------- csv-spectrum (skips without ../shared)

def spectrum_cases():
    if not SPECTRUM.is_dir():
        return []
    return sorted(p.stem for p in (SPECTRUM / "csvs").glob("*.csv"))


@pytest.mark.skipif(not SPECTRUM.is_dir(), reason="../shared/data/csv-spectrum is absent")
@pytest.mark.parametrize("name", spectrum_cases())
def test_csv_spectrum(name):
    expected = json.loads((SPECTRUM / "json" / f"{name}.json").read_text(encoding="utf-8"))
    source = open_csv(SPECTRUM / "csvs" / f"{name}.csv")
    # Values come out stripped and with line ends normalised to LF (the repository copies of the
    # *_crlf files may even have lost their CRs).
    normalised = [{k: v.replace("\r\n", "\n").strip() for k, v in row.items()} for row in expected]
    assert rows_of(source) == normalised
    assert source.headers == list(expected[0])
    assert source.warnings == []


# ---------------------------------------------------------------- encodings

def test_utf8_with_bom(tmp_path):
    source = open_csv(write(tmp_path, "\ufeffName,City\nZoë,Zürich\n"))
    assert source.encoding == "utf-8-sig"
    assert source.headers == ["Name", "City"]
    assert rows_of(source) == [{"Name": "Zoë", "City": "Zürich"}]
    assert source.warnings == []


def test_utf8_without_bom(tmp_path):
    source = open_csv(write(tmp_path, "Name\nŁódź 東京\n"))
    assert source.encoding == "utf-8"
    assert rows_of(source) == [{"Name": "Łódź 東京"}]


def test_bad_utf8_late_in_the_file_falls_back_to_windows_1252(tmp_path):
    # The only non-ASCII bytes sit 400 KB in, beyond any sample: detection must read the whole file.
    body = "Name,Note\n" + "plain,row\n" * 40_000
    path = write(tmp_path, body.encode("ascii") + "Café,€5 – “quoted”\n".encode("cp1252"))
    source = open_csv(path)
    assert source.encoding == "cp1252"
    assert "Windows-1252" in source.warnings[0]
    last = list(source)[-1][1]
    assert last == {"Name": "Café", "Note": "€5 – “quoted”"}


def test_bytes_undefined_in_windows_1252_fall_back_to_latin1(tmp_path):
    path = write(tmp_path, b"Name\nCaf\xe9 \x81\n")
    source = open_csv(path)
    assert source.encoding == "latin-1"
    assert "Latin-1" in source.warnings[0]
    assert rows_of(source) == [{"Name": "Café"}]  # \x81 is a C1 control: cleaned away


def test_utf16_with_bom_from_excel_unicode_text(tmp_path):
    path = write(tmp_path, "Name\tEmail\r\nZoë\tzoe@example.com\r\n".encode("utf-16"))
    source = open_csv(path)
    assert source.encoding == "utf-16"
    assert source.delimiter == "\t"
    assert rows_of(source) == [{"Name": "Zoë", "Email": "zoe@example.com"}]


def test_utf16_without_bom(tmp_path):
    path = write(tmp_path, "Name,Email\r\nAnn,ann@example.com\r\n".encode("utf-16-le"))
    source = open_csv(path)
    assert source.encoding == "utf-16-le"
    assert rows_of(source) == [{"Name": "Ann", "Email": "ann@example.com"}]


def test_chosen_encoding_is_used_and_a_bom_still_skipped(tmp_path):
    assert rows_of(open_csv(write(tmp_path, "Name\nCafé\n", encoding="latin-1"), encoding="latin-1")) == [
        {"Name": "Café"}]
    source = open_csv(write(tmp_path, "\ufeffName\nAnn\n", name="bom.csv"), encoding="utf-8")
    assert source.headers == ["Name"]


# ---------------------------------------------------------------- delimiters and line ends

@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_is_detected(tmp_path, delimiter):
    text = delimiter.join(["Name", "Amount", "Note"]) + "\n"
    amount = '"1,5"' if delimiter == "," else "1,5"
    text += delimiter.join(["Ann", amount, '"a; b, c"']) + "\n"
    text += delimiter.join(["Bob", "2", "plain"]) + "\n"
    source = open_csv(write(tmp_path, text))
    assert source.delimiter == delimiter
    assert rows_of(source)[0] == {"Name": "Ann", "Amount": "1,5", "Note": "a; b, c"}


def test_semicolon_file_with_decimal_commas(tmp_path):
    source = open_csv(write(tmp_path, "Name;Amount\nAnn;1,5\nBob;2,75\nCid;3,25\n"))
    assert source.delimiter == ";"


def test_single_column_file_defaults_to_comma(tmp_path):
    source = open_csv(write(tmp_path, "Email\na@example.com\nb@example.com\n"))
    assert source.delimiter == ","
    assert source.headers == ["Email"]


def test_detect_delimiter_fallback():
    assert detect_delimiter("") == ","
    assert detect_delimiter("a;b;c") == ";"
    assert detect_delimiter("a\tb") == "\t"


def test_chosen_delimiter_wins(tmp_path):
    source = open_csv(write(tmp_path, "a,b;c\n1,2;3\n"), delimiter=";")
    assert source.headers == ["a,b", "c"]
    with pytest.raises(ValueError):
        open_csv(write(tmp_path, "a\n"), delimiter=";;")


def test_excel_sep_line(tmp_path):
    source = open_csv(write(tmp_path, "sep=;\r\nName;City\r\nAnn;Paris\r\n"))
    assert source.delimiter == ";"
    assert source.headers == ["Name", "City"]
    assert list(source) == [(3, {"Name": "Ann", "City": "Paris"})]


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_ends_and_quoted_newlines(tmp_path, eol):
    text = eol.join(["Name,Note", 'Ann,"two', 'lines"', "Bob,one", 'Cid,"x ""q"" y"', ""])
    source = open_csv(write(tmp_path, text))
    assert list(source) == [
        (2, {"Name": "Ann", "Note": "two\nlines"}),
        (4, {"Name": "Bob", "Note": "one"}),
        (5, {"Name": "Cid", "Note": 'x "q" y'}),
    ]


def test_row_numbers_skip_blank_lines_and_count_multiline_records(tmp_path):
    text = '\n\nName,Note\n\nAnn,"a\nb\nc"\n,\nBob,x\n'
    source = open_csv(write(tmp_path, text))
    assert source.header_line == 3
    assert list(source) == [(5, {"Name": "Ann", "Note": "a\nb\nc"}), (9, {"Name": "Bob", "Note": "x"})]


def test_file_without_final_newline(tmp_path):
    assert rows_of(open_csv(write(tmp_path, "a,b\n1,2"))) == [{"a": "1", "b": "2"}]


# ---------------------------------------------------------------- headers

def test_duplicate_headers_are_made_unique(tmp_path):
    source = open_csv(write(tmp_path, "Email,Name,Email,email,Email (2)\n1,2,3,4,5\n"))
    assert source.headers == ["Email", "Name", "Email (2)", "email (3)", "Email (2) (2)"]
    assert rows_of(source) == [{"Email": "1", "Name": "2", "Email (2)": "3", "email (3)": "4", "Email (2) (2)": "5"}]
    assert any("'Email (2)'" in warning for warning in source.warnings)


def test_headers_with_quotes_and_stray_spaces(tmp_path):
    text = ' First Name , "Last ""Family"" Name", "Email" ,\'Phone\',  Job\tTitle  \n Ann , Lee ,a@b.io, 1 ,  CEO \n'
    source = open_csv(write(tmp_path, text))
    assert source.headers == ["First Name", 'Last "Family" Name', "Email", "Phone", "Job Title"]
    assert rows_of(source) == [
        {"First Name": "Ann", 'Last "Family" Name': "Lee", "Email": "a@b.io", "Phone": "1", "Job Title": "CEO"}]


def test_empty_trailing_columns_are_dropped(tmp_path):
    source = open_csv(write(tmp_path, "Name,Email,,,\nAnn,a@b.io,,,\nBob,b@b.io,,\n"))
    assert source.headers == ["Name", "Email"]
    assert rows_of(source) == [{"Name": "Ann", "Email": "a@b.io"}, {"Name": "Bob", "Email": "b@b.io"}]
    assert source.warnings == []


def test_headerless_column_with_values_is_kept_under_a_made_up_name(tmp_path):
    source = open_csv(write(tmp_path, "Name,,Email\nAnn,note,a@b.io\n"))
    assert source.headers == ["Name", "Column 2", "Email"]
    assert rows_of(source) == [{"Name": "Ann", "Column 2": "note", "Email": "a@b.io"}]


def test_value_in_a_dropped_column_late_in_the_file_is_reported(tmp_path):
    body = "Name,\n" + "x,\n" * 1500 + "late,surprise\n"
    source = open_csv(write(tmp_path, body))
    assert source.headers == ["Name"]
    rows = list(source)
    assert rows[-1] == (1502, {"Name": "late"})
    assert source.warnings == ["Column 2 has no header and was ignored, but line 1502 has a value in it."]
    list(source)  # iterating again does not repeat the warning
    assert len(source.warnings) == 1


def test_short_and_long_rows(tmp_path):
    source = open_csv(write(tmp_path, "a,b,c\n1\n1,2,3,4,\n1,2,3,,\n"))
    assert rows_of(source) == [{"a": "1", "b": "", "c": ""}, {"a": "1", "b": "2", "c": "3"},
                               {"a": "1", "b": "2", "c": "3"}]
    assert source.warnings == [
        "1 row(s) have more cells than there are headers (first on line 3); the extra cells were ignored."]


def test_empty_file(tmp_path):
    source = open_csv(write(tmp_path, ""))
    assert source.headers == []
    assert list(source) == []
    assert source.warnings == ["The file has no header row."]


def test_header_only(tmp_path):
    source = open_csv(write(tmp_path, "Name,Email\r\n"))
    assert source.headers == ["Name", "Email"]
    assert list(source) == []


# ---------------------------------------------------------------- cell contents

def test_values_are_stripped_and_cleaned(tmp_path):
    text = "Name,Note\n  Ann  ,\"\x1b[31mred\x1b[0m\x07 text\"\nBo\x00b,\"tab\there\"\n"
    source = open_csv(write(tmp_path, text))
    assert rows_of(source) == [{"Name": "Ann", "Note": "red text"}, {"Name": "Bob", "Note": "tab\there"}]


def test_unclosed_quote_in_a_big_cell_names_the_line(tmp_path):
    text = 'Name,Note\nAnn,"never closed\n' + ("x" * 1000 + "\n") * 200
    source = open_csv(write(tmp_path, text))
    with pytest.raises(CsvError, match="line"):
        list(source)


def test_sample_and_repeated_iteration(tmp_path):
    path = write(tmp_path, "n\n" + "".join(f"{i}\n" for i in range(100)))
    source = open_csv(path)
    assert source.sample(3) == [(2, {"n": "0"}), (3, {"n": "1"}), (4, {"n": "2"})]
    assert len(list(source)) == 100
    assert len(list(source)) == 100
    assert source.size_bytes == path.stat().st_size


def test_memory_stays_flat_on_a_big_file(tmp_path):
    # 60,000 rows (4 MB): reading them all holds well under a megabyte and a half, whatever the size.
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("id,first name,last name,email,amount\n")
        row = "{0},Firstname{0},Lastname{0},person{0}@example.com,{0}.50\n"
        f.writelines(row.format(i) for i in range(60_000))
    tracemalloc.start()
    try:
        source = open_csv(path)
        count = 0
        for line, row in source:
            count += 1
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 60_000 and line == 60_001 and row["email"] == "person59999@example.com"
    assert peak < 1_500_000 < path.stat().st_size / 2


# ---------------------------------------------------------------- rows quoted whole

def test_rows_quoted_whole_are_read_as_their_columns(tmp_path):
    """An exporter that writes some rows as ONE quoted field holding the whole row (its quotes
    doubled): the inner fields are the row, and the summary says how many rows were read that way."""
    source = open_csv(write(tmp_path, (
        "First,Last,Company,Title\n"
        "Ann,Lee,Acme,CEO\n"
        '"Bob,Roe,""Café Roma, Maximilienstr. 33"",Waiter"\n'
        '"Cy,Poe, ""Kind Lending, LLC"",Founder",\n'  # a space before a quoted cell, a trailing empty cell
        '"Di,Fox,Initech,"\n'  # the last column empty
    )))
    assert rows_of(source) == [
        {"First": "Ann", "Last": "Lee", "Company": "Acme", "Title": "CEO"},
        {"First": "Bob", "Last": "Roe", "Company": "Café Roma, Maximilienstr. 33", "Title": "Waiter"},
        {"First": "Cy", "Last": "Poe", "Company": "Kind Lending, LLC", "Title": "Founder"},
        {"First": "Di", "Last": "Fox", "Company": "Initech", "Title": ""},
    ]
    assert source.warnings == ["3 rows were quoted whole (each row one quoted field); read as their columns."]
    assert [cells for _line, cells in source.lists()][1] == ["Bob", "Roe", "Café Roma, Maximilienstr. 33", "Waiter"]
    assert source.sample(2)[1][1]["Company"] == "Café Roma, Maximilienstr. 33"  # the preview reads the same


def test_a_single_value_with_commas_stays_one_value(tmp_path):
    """A row whose one cell is a legitimate value is never split: a one-column file, a note whose
    commas do not give the header's number of columns, a cell that is not in the first column."""
    one_column = open_csv(write(tmp_path, 'Note\n"a, b, c"\n"x,y"\n', name="one.csv"))
    two_columns = open_csv(write(tmp_path, 'Name,Email\n"Lee, Ann",\n', name="two.csv"))
    assert rows_of(two_columns) == [{"Name": "Lee, Ann", "Email": ""}]
    assert rows_of(one_column) == [{"Note": "a, b, c"}, {"Note": "x,y"}]
    assert one_column.warnings == []
    source = open_csv(write(tmp_path, (
        "Name,Email,Phone,Notes\n"
        '"Smith, John",,,\n'  # two cells inside, four columns: one value
        '"Smith, John, Jr, Esq",,,\n'  # four cells inside, but written as prose (a space after each comma)
        '"a, b, c, d, e",,,\n'  # five non-empty cells inside: no row has them
        ',,,"one, two, three, four"\n'  # a note in the last column
        '"x,""unclosed,y,z"\n'  # not one well-formed record inside
    ), name="four.csv"))
    assert [row["Name"] for row in rows_of(source)] == ["Smith, John", "Smith, John, Jr, Esq", "a, b, c, d, e", "",
                                                      'x,"unclosed,y,z']
    assert rows_of(source)[3]["Notes"] == "one, two, three, four"
    assert not any("quoted whole" in w for w in source.warnings)


def test_a_header_and_a_headerless_first_row_quoted_whole(tmp_path):
    source = open_csv(write(tmp_path, '"Name,Email,City"\nAnn,ann@x.org,Oslo\n"Bob,bob@x.org,""Bergen, NO"""\n'))
    assert source.headers == ["Name", "Email", "City"]
    assert rows_of(source)[1] == {"Name": "Bob", "Email": "bob@x.org", "City": "Bergen, NO"}
    linkedin = open_csv(write(tmp_path, '"Ann,Lee,,""Acme, Inc"",CEO,11 Jun 2021"\nBob,Roe,,Initech,CTO,12 Jun 2021\n',
                              name="connections.csv"))
    assert linkedin.headers[:2] == ["First Name", "Last Name"]
    assert [(r["First Name"], r["Company"]) for r in rows_of(linkedin)] == [("Ann", "Acme, Inc"), ("Bob", "Initech")]
    assert "1 row was quoted whole (each row one quoted field); read as its columns." in linkedin.warnings


def test_a_small_files_rows_are_counted_as_the_import_reads_them(tmp_path):
    """The wizard's row count of a small file: a cell holding line breaks is one row (the line
    count said 9 rows for Google's 5 contacts with multi-line notes)."""
    from crm_tui.importing import importer
    from crm_tui.services.core import Crm

    path = tmp_path / "notes.csv"
    path.write_text('Name,Notes\nAnn,"line one\nline two\nline three"\nBob,short\n', encoding="utf-8")
    with Crm.open(tmp_path / "crm.db") as crm:
        spec = importer.plan_import(crm, path)
        assert importer.estimate_rows(str(path), spec) == 2
