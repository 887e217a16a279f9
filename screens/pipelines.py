"""The pipeline editor: the pipelines of one object (deals, tickets, or any object given pipelines)
with their stages in order, and keys to add, rename, reorder, archive and delete them.

One table, a row per pipeline followed by a row per stage. Pipeline keys act on the pipeline of
the highlighted row; stage keys on the highlighted stage. Every change goes through
`crm_tui.services.pipelines` (deleting a used stage moves its records with the source User first); the
core's refusals show as one notification line. User text is shown literally (rich Text).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from crm_tui.services import pipelines
from crm_tui.domain import sources
from crm_tui.services.core import user_error_message
from crm_tui.domain.errors import CrmError

LABEL_WIDTH = 24
NAME_WIDTH = 17


def clip(text: str, width: int) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def parse_percent(text: str) -> float | None:
    """'25', '25%' or '2.5' as a fraction 0..1; None when it is not a number from 0 to 100."""
    try:
        value = float(str(text).strip().rstrip("%").strip())
    except ValueError:
        return None
    if not 0 <= value <= 100:
        return None
    return value / 100


class StageTable(DataTable):
    """The pipelines and their stages; row keys are 'p:<pipeline>' and 's:<pipeline>:<stage>'."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="pipelines.cursor_down"),
        Binding("k", "cursor_up", "Up", show=False, id="pipelines.cursor_up"),
        Binding("g", "scroll_top", "Top", show=False, id="pipelines.cursor_top"),
        Binding("G", "scroll_bottom", "Bottom", show=False, id="pipelines.cursor_bottom"),
    ]


class PipelineEditor(Screen):
    HELP_TITLE = "Pipeline editor"
    HELP = ("One row per pipeline, then its stages in order: label, internal name, kind, probability (deals: "
            "the forecast's weighting), "
            "whether it is archived and how many records are in it. Pipeline keys act on the pipeline of the "
            "highlighted row, stage keys on the highlighted stage. An archived stage or pipeline is hidden from "
            "choices; its records keep it. A stage in use is deleted by moving its records to another stage "
            "(each move is recorded in their history with the source User).")
    BINDINGS = [
        Binding("a", "add_stage", "Add stage", id="pipelines.add_stage"),
        Binding("r", "rename_stage", "Rename stage", id="pipelines.rename_stage"),
        Binding("K,ctrl+up", "move_stage(-1)", "Stage up", id="pipelines.stage_up",
                tooltip="Move the stage one place up (earlier in the pipeline)"),
        Binding("J,ctrl+down", "move_stage(1)", "Stage down", id="pipelines.stage_down",
                tooltip="Move the stage one place down (later in the pipeline)"),
        Binding("x", "archive_stage", "Archive stage", id="pipelines.archive_stage",
                tooltip="Archive or unarchive the stage"),
        Binding("d,delete", "delete_stage", "Delete stage", id="pipelines.delete_stage",
                tooltip="Delete the stage (its records move to a stage you choose)"),
        Binding("n", "add_pipeline", "New pipeline", id="pipelines.add_pipeline"),
        Binding("R", "rename_pipeline", "Rename pipeline", id="pipelines.rename_pipeline"),
        Binding("X", "archive_pipeline", "Archive pipeline", id="pipelines.archive_pipeline",
                tooltip="Archive or unarchive the pipeline"),
        Binding("p", "switch_object", "Next object", id="pipelines.switch_object",
                tooltip="Show the pipelines of the next object that has pipelines (deals, tickets, ...)"),
        Binding("b", "open_board", "Board", id="pipelines.board", tooltip="Open the board of this pipeline"),
        Binding("escape,q", "back", "Back", id="pipelines.back"),
    ]
    DEFAULT_CSS = """
    PipelineEditor #pipelines-bar { height: 1; padding: 0 1; color: $text-muted; }
    PipelineEditor StageTable { height: 1fr; border: none; }
    PipelineEditor StageTable:focus { border: none; }
    """

    def __init__(self, object_name: str = "deals"):
        super().__init__()
        self.object_name = object_name
        self.infos: list[pipelines.PipelineInfo] = []
        self.totals: dict[str, dict[str, pipelines.StageTotal]] = {}

    @property
    def crm(self):
        return self.app.crm

    @property
    def table(self) -> StageTable:
        return self.query_one(StageTable)

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="pipelines-bar", markup=False)
        yield StageTable(id="stages", cursor_type="row", zebra_stripes=False)
        yield Footer()

    def on_mount(self) -> None:
        if not pipelines.has_pipelines(self.crm, self.object_name):
            self.object_name = "deals"
        self.load()
        self.table.focus()

    def on_screen_resume(self) -> None:
        if self.is_mounted and self.infos:
            self.load(keep=self.current_key())

    def load(self, keep: str | None = None) -> None:
        """(Re)read the pipelines and their per-stage totals; put the cursor on `keep` when shown."""
        meta = self.crm.registry.get(self.object_name)
        self.sub_title = f"{meta.label} pipelines"
        self.infos = pipelines.list_pipelines(self.crm, self.object_name)
        # one grouped query per pipeline for the record counts
        self.totals = {p.name: pipelines.stage_totals(self.crm, self.object_name, p.name) for p in self.infos}
        table = self.table
        row = table.cursor_row
        table.clear(columns=True)
        table.add_column("Pipeline / stage", key="label", width=LABEL_WIDTH)
        table.add_column("Internal name", key="name", width=NAME_WIDTH)
        table.add_column("Kind", key="kind", width=6)
        if self.weighted:
            table.add_column("Prob", key="probability", width=4)
        table.add_column("Archived", key="archived", width=8)
        table.add_column("Records", key="records", width=7)
        for info in self.infos:
            table.add_row(*self._pipeline_cells(info), key=f"p:{info.name}")
            for stage in info.stages:
                table.add_row(*self._stage_cells(info, stage), key=f"s:{info.name}:{stage.name}")
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        elif table.row_count:
            table.move_cursor(row=max(0, min(row, table.row_count - 1)), animate=False)
        other = self._next_object()
        count = len(self.infos)
        self.query_one("#pipelines-bar", Static).update(
            f"{meta.plural_label}: {count} pipeline{'s' if count != 1 else ''} · p: {other} · ? all keys")

    @property
    def weighted(self) -> bool:
        """Stages have a probability when the object has an amount to weight (deals)."""
        return pipelines.props_of(self.crm, self.object_name)[2] is not None

    def _next_object(self) -> str:
        names = pipelines.pipeline_objects(self.crm)
        return names[(names.index(self.object_name) + 1) % len(names)] if self.object_name in names else names[0]

    def _pipeline_cells(self, info: pipelines.PipelineInfo) -> list:
        count = sum(t.count for t in self.totals.get(info.name, {}).values())
        style = "bold dim" if info.archived else "bold"
        cells = [Text(clip(info.label, LABEL_WIDTH), style=style, no_wrap=True),
                 Text(clip(info.name, NAME_WIDTH), style="dim", no_wrap=True),
                 Text("")]
        if self.weighted:
            cells.append(Text(""))
        cells += [Text("yes" if info.archived else ""), Text(f"{count:,}", justify="right")]
        return cells

    def _stage_cells(self, info: pipelines.PipelineInfo, stage: pipelines.StageInfo) -> list:
        total = self.totals.get(info.name, {}).get(stage.name)
        style = "dim" if stage.archived or info.archived else ""
        cells = [Text("  " + clip(stage.label, LABEL_WIDTH - 2), style=style, no_wrap=True),
                 Text(clip(stage.name, NAME_WIDTH), style="dim", no_wrap=True),
                 Text(stage.kind, style=style)]
        if self.weighted:
            prob = "" if stage.probability is None else f"{stage.probability:.0%}"
            cells.append(Text(prob, justify="right", style=style))
        cells += [Text("yes" if stage.archived else "", style=style),
                  Text(f"{total.count if total else 0:,}", justify="right", style=style)]
        return cells

    # -- the highlighted row ----------------------------------------------------------------

    def current_key(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None

    def current_pipeline(self) -> pipelines.PipelineInfo | None:
        key = self.current_key()
        if key is None:
            return None
        name = key.split(":")[1]
        return next((p for p in self.infos if p.name == name), None)

    def current_stage(self, *, quiet: bool = False) -> tuple[pipelines.PipelineInfo, pipelines.StageInfo] | None:
        key = self.current_key()
        info = self.current_pipeline()
        if key is None or info is None or not key.startswith("s:"):
            if not quiet:
                self.notify("highlight a stage first (the rows under a pipeline)", severity="warning")
            return None
        stage = info.stage(key.split(":", 2)[2])
        return (info, stage) if stage is not None else None

    # -- running a change -------------------------------------------------------------------

    def change(self, do, keep=None, message=None):
        """Run one change of the core and reload; returns its result, or None when the core refused
        (its error shows as one notification line). `keep` (a row key, or a function of the result
        giving one) is the row to highlight after; `message` (text or a function of the result) is
        shown on success."""
        try:
            result = do()
        except Exception as exc:  # noqa: BLE001 - a user error becomes one line, a bug is raised
            if isinstance(exc, CrmError):
                text = str(exc)
            else:
                text = user_error_message(exc, getattr(self.app, "db_path", ""))
                if text is None:
                    raise
            self.notify(" ".join(text.split()), severity="error", markup=False)
            self.load(self.current_key())
            return None
        if callable(message):
            message = message(result)
        if message:
            self.notify(message, markup=False)
        if callable(keep):
            keep = keep(result)
        self.load(keep if keep is not None else self.current_key())
        return result

    def prompt(self, title: str, value: str, then, check=None) -> None:
        from screens.index_modals import TextPromptModal

        self.app.push_screen(TextPromptModal(title, value, check), lambda text: text is not None and then(text))

    def choose(self, title: str, choices: list[tuple[object, str]], then, hint: str = "") -> None:
        from screens.record_modals import ChoiceModal

        self.app.push_screen(ChoiceModal(title, choices, hint), lambda value: value is not None and then(value))

    def confirm(self, question: str, yes: str, then) -> None:
        from screens.modals import ConfirmModal

        self.app.push_screen(ConfirmModal(question, yes=yes), lambda ok: ok and then())

    # -- pipelines --------------------------------------------------------------------------

    def action_add_pipeline(self) -> None:
        meta = self.crm.registry.get(self.object_name)

        def add(label: str) -> None:
            self.change(lambda: pipelines.add_pipeline(self.crm, self.object_name, label),
                        keep=lambda info: f"p:{info.name}", message=lambda info: f"added pipeline {info.label}")

        self.prompt(f"New {meta.label.lower()} pipeline: its name", "", add)

    def action_rename_pipeline(self) -> None:
        info = self.current_pipeline()
        if info is None:
            return
        self.prompt(f"Rename pipeline {info.label}", info.label, lambda label: self.change(
            lambda: pipelines.rename_pipeline(self.crm, self.object_name, info.name, label),
            keep=f"p:{info.name}", message=lambda new: f"renamed pipeline to {new.label}"))

    def action_archive_pipeline(self) -> None:
        info = self.current_pipeline()
        if info is None:
            return
        archive = not info.archived
        self.change(lambda: pipelines.archive_pipeline(self.crm, self.object_name, info.name, archive),
                    message=f"{'archived' if archive else 'unarchived'} pipeline {info.label}")

    # -- stages -----------------------------------------------------------------------------

    def action_add_stage(self) -> None:
        info = self.current_pipeline()
        if info is None:
            return
        current = self.current_stage(quiet=True)
        if current is not None:  # after the highlighted stage
            position = [s.name for s in info.stages].index(current[1].name) + 1
        else:  # before the closing stages
            position = next((i for i, s in enumerate(info.stages) if s.kind in pipelines.CLOSED_KINDS),
                            len(info.stages))
        kinds = pipelines.kinds_of(self.object_name)

        def add(label: str, kind: str, probability: float | None) -> None:
            self.change(lambda: pipelines.add_stage(self.crm, self.object_name, info.name, label, kind=kind,
                                                    probability=probability, position=position),
                        keep=lambda stage: f"s:{info.name}:{stage.name}",
                        message=lambda stage: f"added stage {stage.label} to {info.label}")

        def kind_chosen(label: str, kind: str) -> None:
            if not self.weighted:
                add(label, kind, None)
                return
            default = {"won": "100", "lost": "0"}.get(kind, "10")
            self.prompt(f"Probability of {label}, in percent (0-100)", default,
                        lambda text: add(label, kind, parse_percent(text)),
                        check=lambda text: None if parse_percent(text) is not None else "Type a number from 0 to 100")

        def label_given(label: str) -> None:
            self.choose(f"Kind of stage {label}", [(k, k) for k in kinds], lambda kind: kind_chosen(label, kind),
                        hint="open: still in progress; " + " / ".join(k for k in kinds if k != "open") + ": closed")

        self.prompt(f"New stage in {info.label}: its label", "", label_given)

    def action_rename_stage(self) -> None:
        current = self.current_stage()
        if current is None:
            return
        info, stage = current
        self.prompt(f"Rename stage {stage.label}", stage.label, lambda label: self.change(
            lambda: pipelines.rename_stage(self.crm, self.object_name, info.name, stage.name, label),
            keep=f"s:{info.name}:{stage.name}", message=lambda new: f"renamed stage to {new.label}"))

    def action_move_stage(self, delta: int) -> None:
        current = self.current_stage()
        if current is None:
            return
        info, stage = current
        names = [s.name for s in info.stages]
        index = names.index(stage.name) + delta
        if not 0 <= index < len(names):
            self.notify(f"{stage.label} is already the {'first' if delta < 0 else 'last'} stage", markup=False)
            return
        self.change(lambda: pipelines.move_stage(self.crm, self.object_name, info.name, stage.name, delta),
                    keep=f"s:{info.name}:{stage.name}")

    def action_archive_stage(self) -> None:
        current = self.current_stage()
        if current is None:
            return
        info, stage = current
        archive = not stage.archived
        self.change(lambda: pipelines.archive_stage(self.crm, self.object_name, info.name, stage.name, archive),
                    keep=f"s:{info.name}:{stage.name}",
                    message=f"{'archived' if archive else 'unarchived'} stage {stage.label}")

    def action_delete_stage(self) -> None:
        current = self.current_stage()
        if current is None:
            return
        info, stage = current
        meta = self.crm.registry.get(self.object_name)
        try:
            used = pipelines.stage_usage(self.crm, self.object_name, info.name, stage.name)
        except CrmError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        records = meta.label.lower() if used == 1 else meta.plural_label.lower()

        def delete(move_to: str | None) -> None:
            self.change(lambda: pipelines.delete_stage(self.crm, self.object_name, info.name, stage.name,
                                                       move_to=move_to, source=sources.USER,
                                                       actor=self.crm.user_name),
                        keep=f"s:{info.name}:{move_to}" if move_to else f"p:{info.name}",
                        message=lambda text: text[0].upper() + text[1:])

        if not used:
            self.confirm(f"Delete stage {stage.label} of {info.label}? No {meta.label.lower()} is in it.",
                         "Delete", lambda: delete(None))
            return
        others = [s for s in info.stages if s.id != stage.id and not s.archived]
        if not others:
            self.notify(f"stage {stage.label} is used by {used} {records} and there is no other active stage "
                        "to move them to; add one first", severity="error", markup=False)
            return

        def target_chosen(name: str) -> None:
            target = info.stage(name)
            self.confirm(f"Delete stage {stage.label} of {info.label} and move its {used:,} {records} to "
                         f"{target.label}? Each move is recorded in their history.",
                         "Delete and move", lambda: delete(name))

        self.choose(f"Stage {stage.label} has {used:,} {records}: move them to", [
            (s.name, f"{s.label} ({s.kind})") for s in others], target_chosen,
            hint="enter chooses · escape cancels")

    # -- other ------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        """Read the pipelines again (the app runs this after an undo or redo)."""
        self.load(self.current_key())

    def action_switch_object(self) -> None:
        self.object_name = self._next_object()
        self.load()
        if self.table.row_count:
            self.table.move_cursor(row=0, animate=False)

    def action_open_board(self) -> None:
        info = self.current_pipeline()
        self.app.open_board(self.object_name, info.name if info else None)

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.app.open_object(self.object_name)
