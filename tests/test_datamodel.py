"""The data model edited after the fact: labels renamed and deleted, objects relabelled, properties
relabelled, regrouped and deleted; renames undo, doctor stays healthy."""

from __future__ import annotations

import pytest

from crm_tui.cli.main import main
from crm_tui.services.core import Crm
from crm_tui.domain.errors import CrmError, InvalidValue
from crm_tui.services.integrity import check_history_matches_state


def labels_of(crm, ref):
    return {i.id: i.labels for g in crm.assoc.groups(ref, per_group=None) for i in g.items}


def test_a_label_is_renamed_undone_and_deleted_and_links_stay(demo_db):
    with Crm.open(demo_db) as crm:
        crm.assoc.add(("contacts", 1), ("companies", 2), labels=["Advisor"])
        crm.datamodel.rename_label("contacts", "companies", "Advisor", "Mentor")
        assert "Mentor" in labels_of(crm, ("contacts", 1))[2]
        assert check_history_matches_state(crm.registry) == []
        crm.journal.undo(crm.journal.list(limit=1)[0].id)
        assert "Advisor" in labels_of(crm, ("contacts", 1))[2]
        assert check_history_matches_state(crm.registry) == []
        crm.journal.redo()
        message = crm.datamodel.delete_label("contacts", "companies", "Mentor")
        assert "1 link(s) keep existing" in message
        assert 2 in labels_of(crm, ("contacts", 1)) and labels_of(crm, ("contacts", 1))[2] == []
        assert check_history_matches_state(crm.registry) == []
        with pytest.raises(CrmError, match="gone for good"):
            crm.journal.undo(crm.journal.list(limit=1)[0].id)


def test_companies_show_as_accounts_after_a_relabel(demo_db, capsys):
    assert main(["--db", str(demo_db), "schema", "relabel", "companies", "Account", "--plural", "Accounts"]) == 0
    capsys.readouterr()
    assert main(["--db", str(demo_db), "list", "companies", "--limit", "1"]) == 0
    assert "accounts)" in capsys.readouterr().out
    with Crm.open(demo_db) as crm:
        assert crm.registry.get("companies").plural_label == "Accounts"


def test_properties_relabel_regroup_and_custom_ones_delete_with_their_values(demo_db, tmp_path, capsys):
    with Crm.open(demo_db) as crm:
        crm.datamodel.update_property("contacts", "jobtitle", label="Role", group="Work")
        prop = crm.registry.get("contacts").properties["jobtitle"]
        assert (prop.label, prop.group) == ("Role", "Work")
        with pytest.raises(InvalidValue, match="standard property"):
            crm.datamodel.delete_property("contacts", "jobtitle")
    schema = tmp_path / "nick.yaml"
    schema.write_text("properties:\n  contacts:\n    - {name: nickname, label: Nickname, type: text}\n")
    assert main(["--db", str(demo_db), "schema", "apply", str(schema)]) == 0
    assert main(["--db", str(demo_db), "record", "update", "contacts", "1", "nickname=Jo"]) == 0
    assert main(["--db", str(demo_db), "schema", "delete-property", "contacts", "nickname"]) == 1  # asks; no terminal
    assert main(["--db", str(demo_db), "schema", "delete-property", "contacts", "nickname", "--yes"]) == 0
    capsys.readouterr()
    with Crm.open(demo_db) as crm:
        assert "nickname" not in crm.registry.get("contacts").properties
        assert "nickname" not in crm.records.get("contacts", 1).properties
    assert main(["--db", str(demo_db), "doctor"]) == 0
