"""A wide HubSpot export is checked a column at a time (importing/columns.py, bundle's
_parse_columns): the same records, the same cells skipped and reported, the same rows refused as
checking it row by row."""

from __future__ import annotations

import csv

import pytest

from crm_tui.services.core import Crm
from crm_tui.domain.errors import InvalidValue
from crm_tui.importing import bundle, columns, hubspot, importer
from crm_tui.domain.sanitize import clean_line

HEADERS = ["Record ID", "First Name", "Last Name", "Email", "Contact owner", "Create Date", "Lifecycle Stage",
           "Associated Company IDs", "Custom Text", "Custom Score", "Custom Day", "Custom Note"]


def _cells(i: int) -> list[str]:
    """Row i: mostly good cells, and every few rows something a shortcut must not take."""
    text = [f"value {i}", "", "tab\there", "bell\x07 rings", "  spaced  ", "null", "N/A", "=1+2"][i % 8]
    score = ["12", "", "007", "1234567890123456789", "12.5", "lots", "N/A", "٣", "1,200"][i % 9]
    day = ["3/17/24", "", "13/45/24", "2024-02-30", "null", "#N/A", "5/7/24 10:26", "12/31/99", "bad"][i % 9]
    owner = ["Ana Souza", "", "Sir New", "null"][i % 4]
    email = f"p{i}@example.org" if i % 11 else "not an email"
    return [str(900 + i) if i % 13 else "", f"Ann{i}", f"Lee{i}" if i % 17 else "", email, owner,
            f"{i % 12 + 1}/{i % 28 + 1}/24 {i % 24}:{i % 60:02d}", "Lead" if i % 7 else "Nonsense stage",
            str(5000 + i % 3) if i % 5 else ("5000;5001" if i % 10 else ""), text, score, day,
            "line one\nline two" if i % 6 == 0 else ""]


def _write(path, rows: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADERS)
        for i in range(rows):
            w.writerow(_cells(i))
        w.writerow([""] * len(HEADERS))  # a blank row
        w.writerow(["", "", "", "", "", "", "", "", "", "", "", ""])


def _companies(path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Record ID", "Company name", "Create Date"])
        for c in range(3):
            w.writerow([str(5000 + c), f"Company {c}", "3/17/24 22:13"])


def _import(db_path, companies, contacts, by_columns: bool, monkeypatch):
    used = []
    real = bundle._FileImporter._columns_plan

    def plan(self):
        got = real(self) if by_columns else None
        used.append(got is not None)
        return got

    with monkeypatch.context() as m:
        m.setattr(bundle._FileImporter, "_columns_plan", plan)
        with Crm.open(db_path, user_name="tester") as crm:
            spec = importer.plan_import(crm, str(companies))
            spec.error_dir = str(db_path.parent)
            importer.run_import(crm, spec)
            spec = importer.plan_import(crm, str(contacts))
            spec.error_dir = str(db_path.parent)
            result = importer.run_import(crm, spec)
            records = crm.db.execute_sql(
                "SELECT * FROM obj_contacts ORDER BY id").fetchall()
            names = [d[0] for d in crm.db.execute_sql("SELECT * FROM obj_contacts LIMIT 0").description]
            stamps = {i for i, n in enumerate(names) if n in ("lastmodifieddate", "created_op")}
            records = [tuple(v for i, v in enumerate(row) if i not in stamps) for row in records]
            links = crm.db.execute_sql("SELECT from_object, from_id, to_object, to_id, is_primary FROM association "
                                       "ORDER BY 1, 2, 3, 4").fetchall()
            ext = crm.db.execute_sql("SELECT object, record_id, external_id FROM external_id ORDER BY 1, 2").fetchall()
    errors = []
    if result.error_file:
        with open(result.error_file, encoding="utf-8-sig", newline="") as f:
            errors = list(csv.reader(f))
    return used[-1], result, records, links, ext, errors


@pytest.mark.parametrize("rows", [7, 180])  # one chunk; several chunks and batches of rows read 50 at a time
def test_a_column_at_a_time_imports_what_row_by_row_imports(tmp_path, monkeypatch, rows):
    companies, contacts = tmp_path / "companies.csv", tmp_path / "contacts.csv"
    _companies(companies)
    _write(contacts, rows)
    monkeypatch.setattr(hubspot, "BATCH_CELLS", 12 * 60)  # 60-row batches: chunks cross batch ends
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    used_a, a, *got_a = _import(tmp_path / "a" / "crm.db", companies, contacts, True, monkeypatch)
    used_b, b, *got_b = _import(tmp_path / "b" / "crm.db", companies, contacts, False, monkeypatch)
    assert used_a and not used_b  # the first went a column at a time, the second row by row
    records_a, links_a, ext_a, errors_a = got_a
    records_b, links_b, ext_b, errors_b = got_b
    assert records_a == records_b
    assert links_a == links_b and ext_a == ext_b
    assert errors_a == errors_b and len(errors_a) > 3  # the same cells skipped, the same rows refused
    for attr in ("rows", "created", "updated", "unchanged", "linked", "failed", "skipped_cells", "link_problems"):
        assert getattr(a, attr) == getattr(b, attr), attr
    assert a.skipped_cells > 0  # bad cells were skipped and reported, their rows kept
    assert sum(a.created.values()) > rows // 2


def test_column_checks_give_what_the_converter_gives_cell_by_cell():
    """Each shortcut (printable text, plain digits, remembered dates) against the converter it
    stands for, on good and bad cells, over two chunks (the memo filled by the first)."""
    from types import SimpleNamespace

    def text_conv(raw):
        if raw.isprintable():
            return raw.strip() or None
        out = clean_line(raw).strip()
        if not out:
            raise InvalidValue("empty after removing control characters")
        return out

    cells = ["a", "", "b\tc", "\x07", "007", "12", "1234567890123456", "3/17/24", "13/45/24", "null", "N/A", "٣",
             "5/7/24 10:26", "-5", "1e3"]
    for kind in ("text", "number", "date", "datetime", "boolean"):
        conv = text_conv if kind == "text" else hubspot.typed_converter(
            lambda raw: (_ for _ in ()).throw(InvalidValue(f"bad {raw!r}")), SimpleNamespace(type=kind))
        check = columns.column_check(kind, conv)
        for chunk in (cells, cells[::-1], ["12", "", "7"], ["3/17/24", "", "3/17/24"], ["plain", "", "text"]):
            values, refused, gaps = check(tuple(chunk))
            for i, cell in enumerate(chunk):
                if not cell:
                    continue
                try:
                    expected = conv(cell)
                except InvalidValue:
                    assert i in refused, (kind, cell)
                    continue
                assert i not in refused and values[i] == expected, (kind, cell)
                if expected is None:
                    assert gaps, (kind, cell)
