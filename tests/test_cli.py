"""The command line, end to end through a real database file (the Done-when scenarios of the
foundation and association issues)."""

import json

import pytest

from crm_tui.cli.main import main

ROAST_YAML = """
objects:
  - name: roast_batches
    label: Roast Batch
    plural_label: Roast Batches
    primary_property: batch_name
    properties:
      - {name: batch_name, label: Batch name, type: text, required: true}
      - {name: roast_date, label: Roast date, type: date}
      - {name: quality_score, label: Quality score, type: number}
      - {name: roast_level, label: Roast level, type: select, options: [light, medium, dark]}
properties:
  contacts:
    - {name: favorite_color, label: Favorite color, type: text}
labels:
  - {from: roast_batches, to: contacts, name: Ordered by, inverse: Ordered, limit: 1}
"""


@pytest.fixture
def cli(db_path, capsys):
    def run(*args, code=0):
        result = main(["--db", str(db_path), *args])
        out, err = capsys.readouterr()
        assert result == code, (args, out, err)
        return out if code == 0 else err
    return run


def run_json(cli, *args):
    return json.loads(cli(*args, "--json"))


def test_custom_object_lifecycle_from_the_command_line(cli, tmp_path):
    schema = tmp_path / "roast.yaml"
    schema.write_text(ROAST_YAML)
    assert "created object roast_batches" in cli("schema", "apply", str(schema))
    rid = int(cli("record", "create", "roast_batches", "batch_name=Lot 12", "roast_date=2026-03-04",
                  "quality_score=87").strip())
    assert "Lot 12" in cli("list", "roast_batches")
    cli("record", "update", "roast_batches", str(rid), "quality_score=91", "roast_date=03/05/2026")
    history = run_json(cli, "history", "roast_batches", str(rid))
    score = [h for h in history if h["property"] == "quality_score"]
    assert (score[0]["old_value"], score[0]["new_value"], score[0]["source"]) == ("87", "91", "API")
    cli("record", "delete", "roast_batches", str(rid))
    assert "Lot 12" not in cli("list", "roast_batches")
    assert "Lot 12" in cli("list", "roast_batches", "--deleted")
    cli("record", "restore", "roast_batches", str(rid))
    got = run_json(cli, "record", "get", "roast_batches", str(rid))
    assert got["properties"]["quality_score"] == 91 and got["properties"]["roast_date"] == "2026-03-05"
    assert {"id", "object", "display_name", "properties", "created_at", "updated_at", "deleted", "associations"} <= set(got)
    assert got["deleted"] is False
    # schema lists the new object and its properties
    schema_json = run_json(cli, "schema")
    roast = next(o for o in schema_json["objects"] if o["name"] == "roast_batches")
    assert [p["name"] for p in roast["properties"]][:4] == ["batch_name", "roast_date", "quality_score", "roast_level"]


@pytest.mark.parametrize("args,fragment", [
    (("record", "create", "widgets", "x=1"), "unknown object"),
    (("record", "create", "contacts", "shoe_size=9"), "has no property"),
    (("record", "create", "contacts", "email=nope"), "not an email address"),
    (("record", "update", "contacts", "999", "firstname=x"), "no contact with id 999"),
    (("record", "get", "deals", "5"), "no deal with id 5"),
    (("assoc", "add", "contacts:1", "companies:1"), "no contact with id 1"),
    (("list", "contacts", "--filter", "lifecyclestage=nonsense"), "not an option"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(cli, args, fragment):
    err = cli(*args, code=2)
    assert fragment in err and err.strip().count("\n") == 0 and err.startswith("crm-tui: error:")
    assert run_json(cli, "list", "contacts") == []


def test_association_scenario_from_the_command_line(cli):
    ann = int(cli("record", "create", "contacts", "firstname=Ann", "email=ann@gmail.com").strip())
    acme = int(cli("record", "create", "companies", "name=Acme", "domain=acme.example").strip())
    beta = int(cli("record", "create", "companies", "name=Beta", "domain=beta.example").strip())
    assert "primary company" in cli("assoc", "add", f"contacts:{ann}", f"companies:{acme}")
    cli("assoc", "add", f"contacts:{ann}", f"companies:{beta}")
    cli("assoc", "add", f"contacts:{ann}", f"companies:{beta}", "--primary")
    cli("assoc", "label", f"contacts:{ann}", f"companies:{acme}", "--add", "Advisor")
    err = cli("assoc", "remove", f"contacts:{ann}", f"companies:{beta}", code=2)
    assert "choose the new primary" in err and f"{acme} (Acme)" in err and "--new-primary" in err
    links = run_json(cli, "record", "get", "contacts", str(ann))["associations"]["companies"]
    assert {(l["display_name"], l["primary"], tuple(l["labels"])) for l in links} == {
        ("Acme", False, ("Advisor",)), ("Beta", True, ())}
    cli("record", "delete", "companies", str(beta))
    cli("record", "restore", "companies", str(beta))
    dup = int(cli("record", "create", "contacts", "firstname=Ann", "lastname=Dup", "email=ann.dup@gmail.com").strip())
    cli("assoc", "add", f"contacts:{dup}", f"companies:{acme}")
    assert "merged contact" in cli("record", "merge", "contacts", str(ann), str(dup))
    history = run_json(cli, "assoc", "history", f"contacts:{ann}")
    steps = [(h["action"], h["other_name"], h["label"], h["source"]) for h in reversed(history)]
    assert steps[:2] == [("created", "Acme", None, "API"), ("primary_set", "Acme", None, "API")]
    assert ("primary_removed", "Acme", None, "API") in steps and ("primary_set", "Beta", None, "API") in steps
    assert ("label_added", "Acme", "Advisor", "API") in steps
    assert ("removed", "Beta", None, "Object deletion") in steps
    assert ("created", "Beta", None, "Object restore") in steps
    assert all(h["at"] for h in history)
    one_link = run_json(cli, "assoc", "history", f"contacts:{ann}", "--with", f"companies:{beta}")
    assert one_link[0]["action"] in ("primary_set", "created") and all(h["other_id"] == beta for h in one_link)
    assert "Beta" in cli("assoc", "list", f"contacts:{ann}")


def test_labels_create_and_list(cli):
    assert "limit 1" in cli("labels", "create", "deals", "contacts", "Signer", "--limit", "1")
    labels = run_json(cli, "labels")
    signer = next(l for l in labels if l["name"] == "Signer" and l["from"] == "deals")
    assert (signer["to"], signer["limit"]) == ("contacts", 1)
    assert "deals -> contacts: Signer  (limit 1)" in cli("labels")
    assert any(l["name"] == "Parent company" and l["inverse"] == "Child company" for l in labels)
    assert "already exists" in cli("labels", "create", "deals", "contacts", "Signer", code=2)


def test_an_owner_shows_by_name_and_json_keeps_the_id(cli):
    cli("owners", "add", "Ann Lee", "--email", "ann@x.example")
    cli("record", "create", "companies", "name=Acme", "hubspot_owner_id=Ann Lee")
    assert "Company owner: Ann Lee" in cli("record", "get", "companies", "1")
    owner = run_json(cli, "record", "get", "companies", "1")["properties"]["hubspot_owner_id"]
    assert isinstance(owner, int)


def test_list_filters_sort_and_search(cli):
    for first, last, stage in [("Ann", "Zed", "lead"), ("Bob", "Young", "customer"), ("Cy", "Xu", "customer")]:
        cli("record", "create", "contacts", f"firstname={first}", f"lastname={last}", f"email={first}@mail.example",
            f"lifecyclestage={stage}")
    rows = run_json(cli, "list", "contacts", "--filter", "lifecyclestage=Customer", "--sort", "lastname")
    assert [r["properties"]["lastname"] for r in rows] == ["Xu", "Young"]
    rows = run_json(cli, "list", "contacts", "--sort=-lastname", "--limit", "1")
    assert rows[0]["properties"]["lastname"] == "Zed"
    rows = run_json(cli, "list", "contacts", "--sort", "lastname:desc", "--limit", "1")
    assert rows[0]["properties"]["lastname"] == "Zed"
    assert "contacts:1  Ann Zed" in cli("search", "an")


def test_seed_is_deterministic(tmp_path, capsys):
    outs = []
    for name in ("a.db", "b.db"):
        assert main(["--db", str(tmp_path / name), "seed", "--contacts", "30", "--companies", "5", "--deals", "5", "--seed", "3"]) == 0
        capsys.readouterr()
        assert main(["--db", str(tmp_path / name), "list", "contacts", "--json", "--limit", "30"]) == 0
        rows = json.loads(capsys.readouterr().out)
        outs.append([(r["display_name"], r["properties"]["email"]) for r in rows])
    assert outs[0] == outs[1] and len(outs[0]) == 30


def test_help_does_not_import_textual_or_peewee():
    import subprocess
    import sys

    code = "import sys; from crm_tui.cli.main import build_parser; build_parser(); print('textual' in sys.modules, 'peewee' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False False"


def test_core_never_imports_textual():
    import subprocess
    import sys

    code = ("import sys, pkgutil, importlib, crm_tui\n"
            "skip = {'crm_tui.shell.app', 'crm_tui.shell.theming', 'crm_tui.shell.keymap'}\n"
            "for m in pkgutil.walk_packages(crm_tui.__path__, 'crm_tui.'):\n"
            "    if m.name not in skip: importlib.import_module(m.name)\n"
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
