"""crm_tui/domain/types.py: one class per property type (parse, store, display, export, filter operators),
and the modules that used to switch on the type name now ask the type."""

import re
from pathlib import Path

import pytest

from crm_tui.services.core import Crm
from crm_tui.services.paging import display_value
from crm_tui.services.query import ops_for
from crm_tui.domain.types import PROPERTY_TYPES, TYPES, ValueProblem, property_type

ROOT = Path(__file__).resolve().parent.parent

# The places that switched on the type name before the registry; each now asks the type.
NO_TYPE_SWITCHES = ("crm_tui/services/records.py", "crm_tui/services/history.py", "crm_tui/services/query.py", "crm_tui/services/paging.py",
                    "crm_tui/cli/commands.py", "crm_tui/services/maintenance.py", "crm_tui/storage/engine.py",
                    "crm_tui/importing/exporter.py", "widgets/property_form.py")
SWITCH = re.compile(r"""\b(?:prop|p)\.type\s*(?:==|!=|in|not in)\s*[("']|\b(?:kind|ptype)\s*(?:==|in)\s*\(?["'](?:text|number|select)""")


@pytest.mark.parametrize("path", NO_TYPE_SWITCHES)
def test_no_module_switches_on_the_type_name(path):
    text = (ROOT / path).read_text(encoding="utf-8")
    assert not [line for line in text.splitlines() if SWITCH.search(line)]


def test_every_type_has_its_own_class():
    assert set(TYPES) == set(PROPERTY_TYPES)
    assert len({type(t) for t in PROPERTY_TYPES.values()}) == len(TYPES)
    for name in TYPES:
        assert property_type(name).name == name


def test_an_unknown_type_shows_as_text_and_refuses_writes():
    unknown = property_type("hologram")
    assert unknown.sql_type == "TEXT" and unknown.display(None, "x", None) == "x"
    with pytest.raises(ValueProblem, match="unknown property type"):
        unknown.parse(type("P", (), {"type": "hologram"})(), "x")


def test_history_text_round_trips_through_each_type():
    cases = {"number": 12.0, "currency": 1200.5, "boolean": 1, "user": 3, "text": "Ada", "date": "2026-03-01",
             "datetime": "2026-03-01T09:00:00.000000Z"}
    for name, value in cases.items():
        kind = property_type(name)
        assert kind.from_text(kind.to_text(value)) == value
    assert property_type("number").to_text(12.0) == "12"


@pytest.fixture
def crm(tmp_path):
    with Crm.open(tmp_path / "t.db") as crm:
        yield crm


def test_values_go_in_and_come_out_through_the_type(crm):
    deals, contacts = crm.registry.get("deals"), crm.registry.get("contacts")
    amount, stage = deals.properties["amount"], contacts.properties["lifecyclestage"]
    owner = contacts.properties["hubspot_owner_id"]
    assert crm.records.coerce_value(deals, amount, "1,200.456") == 1200.46
    assert display_value(crm, amount, 1200.46) == "1,200.46"
    assert crm.records.coerce_value(contacts, stage, stage.options[0].label) == stage.options[0].name
    assert display_value(crm, stage, stage.options[0].name) == stage.options[0].label
    me = crm.records.coerce_value(contacts, owner, "me")
    assert display_value(crm, owner, me) == crm.owner_name(me)
    assert ops_for(amount) == property_type("currency").ops and "between" in ops_for(amount)
    assert "contains" in ops_for(contacts.properties["email"])
    with pytest.raises(Exception, match="is not an option"):
        crm.records.coerce_value(contacts, stage, "nonsense")
