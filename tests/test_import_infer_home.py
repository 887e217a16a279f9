"""One home per job of the import: infer.py names and types new properties (HubSpot exports
included), values.py parses dates (HubSpot's short US dates included)."""

from __future__ import annotations

import pytest

from crm_tui.importing import bundle, hubspot, infer
from crm_tui.domain import values


def test_short_dates_give_what_the_full_date_parsers_give():
    cells = [f"{m}/{d}/{y}{t}" for m in (0, 1, 2, 9, 12, 13) for d in (0, 1, 28, 29, 30, 31, 32)
             for y in ("24", "68", "69", "70", "00", "99") for t in ("", " 0:00", " 9:05", " 23:59", " 24:00", " 12:60")]
    cells += ["5/7/2024", "2024-05-07", "5-7-24", " 5/7/24", "5/7/24 10:26 PM"]
    checked = 0
    for cell in cells:
        for dayfirst in (False, True):
            for with_time, full in ((False, values.parse_date), (True, values.parse_datetime)):
                short = values.parse_short_date(cell, dayfirst=dayfirst, with_time=with_time)
                if short is None:
                    continue
                assert short == full(cell, dayfirst=dayfirst), (cell, dayfirst, with_time)
                checked += 1
    assert checked > 500
    assert values.parse_date("1/2/69") == "1969-01-02" and values.parse_short_date("1/2/69") == "1969-01-02"
    assert values.parse_short_date("1/2/68") == "2068-01-02"  # one two-digit-year rule (strptime's %y)


def test_property_names_never_take_a_reserved_name():
    assert infer.property_name("ID", []) == "id_2"
    assert infer.property_name("Create date", ["create_date"]) == "create_date_2"
    assert infer.property_name("Deleted", []) == "deleted_2"


def _plan_of(crm, tmp_path, header: str, cells: list[str]):
    path = tmp_path / "contacts.csv"
    path.write_text(f"Record ID,First Name,Create Date,{header}\r\n" + "".join(
        f"{70 + i},Ann{i},3/17/24 22:13,{cell}\r\n" for i, cell in enumerate(cells)), encoding="utf-8")
    plan = bundle.plan_path(crm, path)
    try:
        return {p.label: (p.name, p.type) for p in plan.new_properties}
    finally:
        plan.close()


@pytest.mark.parametrize("header,cells,expected", [
    ("Отчество", ["Ивановна", "Петровна"], ("otchestvo", "text")),  # transliterated as infer does
    ("2nd score", ["12", "N/A", "7.5"], ("column_2nd_score", "number")),  # HubSpot's empty words left out
    ("Renewal", ["3/17/24", "null", "12/1/25"], ("renewal", "date")),
    ("Renewal at", ["3/17/24 9:00", "12/1/25 17:30"], ("renewal_at", "datetime")),
    ("Opted in", ["true", "false"], ("opted_in", "boolean")),
    ("Locker code", ["12", "10001"], ("locker_code", "text")),  # digits, never a number
])
def test_a_hubspot_export_names_and_types_new_columns_as_any_other_file(crm, tmp_path, header, cells, expected):
    got = _plan_of(crm, tmp_path, header, cells)
    assert got[header] == expected
    assert not hasattr(hubspot, "us_date") and not hasattr(hubspot, "_guess_type") \
        and not hasattr(hubspot, "_property_name")


def test_properties_made_in_one_go_are_checked_as_one_at_a_time(crm):
    from crm_tui.domain.errors import InvalidValue

    made = crm.registry.add_properties("contacts", [{"name": "shoe_size", "type": "number", "indexed": False},
                                                    {"name": "met_on", "label": "Met on", "type": "date"}])
    assert [(p.name, p.type) for p in made] == [("shoe_size", "number"), ("met_on", "date")]
    crm.records.create("contacts", {"email": "a@b.org", "shoe_size": "42", "met_on": "2024-03-05"})
    for bad in ([{"name": "email"}], [{"name": "x1"}, {"name": "x1"}], [{"name": "Bad Name"}],
                [{"name": "ok_one"}, {"name": "odd", "type": "nonsense"}]):
        with pytest.raises(InvalidValue):
            with crm.db.atomic():
                crm.registry.add_properties("contacts", bad)
        crm.registry.reload()
        assert "ok_one" not in crm.registry.get("contacts").properties
