"""Property-based: random sequences of association operations never break an invariant.

Invariants after every step: links are bidirectional (edges, labels, primary flag), a record with
companies has exactly one primary, limits hold, and replaying the history gives the current links.
Undo and redo (of the newest operation or of one further back) are steps like any other.
"""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from crm_tui.services import integrity
from crm_tui.domain import sources
from crm_tui.services.core import Crm
from crm_tui.domain.errors import CrmError

CONTACTS, COMPANIES, DEALS = 4, 3, 2
LABELS = {("contacts", "companies"): ["Advisor", "Employer", "Billing contact"],
          ("contacts", "contacts"): ["Manager", "Colleague"],
          ("companies", "companies"): ["Parent company"],
          ("deals", "contacts"): ["Decision maker", "Champion"],
          ("deals", "companies"): []}

refs = st.one_of(
    st.tuples(st.just("contacts"), st.integers(1, CONTACTS)),
    st.tuples(st.just("companies"), st.integers(1, COMPANIES)),
    st.tuples(st.just("deals"), st.integers(1, DEALS)),
)


class AssociationMachine(RuleBasedStateMachine):
    pg_server = None  # the PostgreSQL variant below sets a test server

    def __init__(self):
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        self.pg_name = None
        if self.pg_server is not None:
            self.pg_name = self.pg_server.new_database()
            self.crm = Crm.open(self.pg_server.url(self.pg_name), user_name="fuzz")
        else:
            self.crm = Crm.open(Path(self.dir.name) / "crm.db", user_name="fuzz")
        self.crm.set_setting("auto_associate_by_domain", False)
        for i in range(CONTACTS):
            self.crm.records.create("contacts", {"email": f"c{i}@x.example"})
        for i in range(COMPANIES):
            self.crm.records.create("companies", {"name": f"Co {i}", "domain": f"co{i}.example"})
        for i in range(DEALS):
            self.crm.records.create("deals", {"dealname": f"Deal {i}"})
        self.crm.assoc.set_pair_limit("deals", "companies", 2)
        self.imports = []
        self.states = {}

    def teardown(self):
        self.crm.close()
        self.dir.cleanup()
        if self.pg_name is not None:
            self.pg_server.drop_database(self.pg_name)

    def attempt(self, fn, *args, **kwargs):
        try:
            fn(*args, **kwargs)
        except CrmError:
            pass  # refusals are fine; the invariants must still hold

    @rule(a=refs, b=refs, data=st.data(), primary=st.booleans())
    def add(self, a, b, data, primary):
        names = LABELS.get((a[0], b[0]), [])
        labels = data.draw(st.lists(st.sampled_from(names), max_size=2)) if names else []
        self.attempt(self.crm.assoc.add, a, b, labels=labels, primary=primary, source=sources.USER)

    @rule(a=refs, b=refs, new_primary=st.one_of(st.none(), st.integers(1, COMPANIES)))
    def remove(self, a, b, new_primary):
        self.attempt(self.crm.assoc.remove, a, b, new_primary=new_primary)

    @rule(a=refs, company=st.integers(1, COMPANIES))
    def set_primary(self, a, company):
        self.attempt(self.crm.assoc.set_primary, a, company)

    @rule(a=refs, company=st.integers(1, COMPANIES), new_primary=st.one_of(st.none(), st.integers(1, COMPANIES)))
    def remove_primary(self, a, company, new_primary):
        self.attempt(self.crm.assoc.remove_primary, a, company, new_primary=new_primary)

    @rule(a=refs, b=refs, data=st.data())
    def label(self, a, b, data):
        names = LABELS.get((a[0], b[0]), [])
        if names:
            name = data.draw(st.sampled_from(names))
            if data.draw(st.booleans()):
                self.attempt(self.crm.assoc.add_label, a, b, name)
            else:
                self.attempt(self.crm.assoc.remove_label, a, b, name)

    @rule(ref=refs)
    def delete(self, ref):
        self.attempt(self.crm.records.delete, ref[0], ref[1])

    @rule(ref=refs)
    def restore(self, ref):
        self.attempt(self.crm.records.restore, ref[0], ref[1])

    @rule(obj=st.sampled_from(["contacts", "companies"]), keep=st.integers(1, 3), other=st.integers(1, 3))
    def merge(self, obj, keep, other):
        self.attempt(self.crm.merger.merge, obj, keep, other)

    @rule(email_n=st.integers(0, 6), title=st.sampled_from(["CEO", "Buyer", "=1+1", "[bold]x"]))
    def create_contact(self, email_n, title):
        self.attempt(self.crm.records.create, "contacts", {"email": f"n{email_n}@x.example", "jobtitle": title})

    @rule(ref=refs, title=st.sampled_from(["CTO", "", "Founder"]))
    def update(self, ref, title):
        values = {"contacts": {"jobtitle": title}, "companies": {"city": title}, "deals": {"amount": len(title)}}[ref[0]]
        self.attempt(self.crm.records.update, ref[0], ref[1], values)

    @rule(rows=st.lists(st.tuples(st.integers(0, 6), st.integers(1, COMPANIES), st.booleans()), min_size=1, max_size=4))
    def import_contacts(self, rows):
        from crm_tui.importing.importer import plan_import, run_import

        path = Path(self.dir.name) / f"import-{len(self.imports)}.csv"
        lines = ["Email,Job Title,Associated Company IDs"]
        lines += [f"n{n}@x.example,Imported,{company if link else ''}" for n, company, link in rows]
        path.write_text("\n".join(lines) + "\n")
        spec = plan_import(self.crm, str(path), ["contacts"])
        result = run_import(self.crm, spec)
        self.imports.append(result.import_id)

    @rule()
    def undo_last_import(self):
        from crm_tui.importing.undo import undo_import

        if self.imports:
            self.attempt(undo_import, self.crm, self.imports.pop(), backup=False)

    def snapshot(self):
        """Links (with primary flag and labels) and every record's values and whether it is deleted."""
        edges = set()
        labels = {}
        for assoc, label in self.crm.db.execute_sql("SELECT association_id, label_id FROM association_label").fetchall():
            labels.setdefault(assoc, set()).add(label)
        for eid, fo, fi, to, ti, prim in self.crm.db.execute_sql(
                "SELECT id, from_object, from_id, to_object, to_id, is_primary FROM association").fetchall():
            edges.add((fo, fi, to, ti, bool(prim), frozenset(labels.get(eid, ()))))
        records = {}
        for name in ("contacts", "companies", "deals", "notes"):
            meta = self.crm.registry.get(name)
            cursor = self.crm.db.execute_sql(f'SELECT * FROM "{meta.table}"')
            cols = [d[0] for d in cursor.description]
            for row in cursor.fetchall():
                values = dict(zip(cols, row))
                deleted = values.pop("deleted_at") is not None
                for skip in ("lastmodifieddate", "created_op"):
                    values.pop(skip)
                records[(name, values["id"])] = (deleted, tuple(sorted(values.items())))
        return edges, records

    def newest_top(self) -> int:
        return self.crm.db.execute_sql("SELECT COALESCE(MAX(id), 0) FROM operation WHERE parent IS NULL").fetchone()[0]

    @rule(obj=st.sampled_from(["contacts", "companies"]), ids=st.lists(st.integers(1, 4), min_size=1, max_size=3),
          delete=st.booleans())
    def bulk_change(self, obj, ids, delete):
        from crm_tui.services import bulk

        if delete:
            bulk.bulk_delete(self.crm, obj, ids, source=sources.USER, batch_size=2)
        else:
            field = "jobtitle" if obj == "contacts" else "city"
            bulk.bulk_update(self.crm, obj, ids, {field: "Bulk"}, source=sources.USER, batch_size=2)

    @rule(ref=refs)
    def log_note(self, ref):
        self.attempt(self.crm.activities.log, ref, "notes", {"hs_note_body": "note"}, source=sources.USER)

    @rule(newest=st.booleans(), back=st.integers(0, 6))
    def undo(self, newest, back):
        """Undo the newest operation, or one further back. A refused undo writes nothing; an undo of
        the newest operation brings back exactly the state before it."""
        models = self.crm.models
        Operation, PropertyChange, AssociationChange = models.Operation, models.PropertyChange, models.AssociationChange

        def written():
            return (Operation.select().count(), PropertyChange.select().count(), AssociationChange.select().count())

        before = written()
        newest_op = Operation.get_or_none(Operation.id == self.newest_top())
        target = None
        if newest:
            target = self.crm.journal._newest_own(sources.USER)
        else:
            ops = [o for o in self.crm.journal.list(limit=10, include_undone=False) if o.undoable]
            target = Operation.get_by_id(ops[min(back, len(ops) - 1)].id) if ops else None
        if target is None:
            return
        try:
            self.crm.journal.undo(target.id, source=sources.USER)
        except CrmError:
            assert written() == before, "a refused undo wrote something"
            return
        if newest_op is not None and target.id == newest_op.id and target.kind != "import" and target.id - 1 in self.states:
            edges, records = self.snapshot()
            want_edges, want_records = self.states[target.id - 1]
            assert edges == want_edges
            for key, value in records.items():
                if key in want_records:
                    assert value == want_records[key], (key, value, want_records[key])
                else:
                    assert value[0], f"{key} did not exist before the undone operation and is not deleted"

    @rule()
    def redo(self):
        self.attempt(self.crm.journal.redo, source=sources.USER)

    @invariant()
    def remember_state(self):
        # the state as it was when the newest top-level operation was the newest: keyed by the next
        # operation id, so that an undo of that next one can be compared with it
        newest = self.crm.db.execute_sql("SELECT COALESCE(MAX(id), 0) FROM operation").fetchone()[0]
        self.states[newest] = self.snapshot()

    @invariant()
    def invariants_hold(self):
        problems = integrity.check_all(self.crm.registry) + integrity.check_property_history(self.crm)
        assert problems == [], problems


AssociationMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestAssociationInvariants = AssociationMachine.TestCase


def test_association_invariants_on_postgresql(pg_server):
    """The same state machine on the team database (fewer examples: each is a new database)."""
    from hypothesis.stateful import run_state_machine_as_test

    class OnPostgresql(AssociationMachine):
        pass

    OnPostgresql.pg_server = pg_server
    run_state_machine_as_test(OnPostgresql, settings=settings(
        max_examples=6, stateful_step_count=30, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
