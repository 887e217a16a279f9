"""Address books, mailboxes and calendars from the app (command palette): the same core calls as
`crm-tui vdir sync`, `mail scan` and `calendar import`, run in a worker behind a progress modal,
their summary shown as a notice. Asks for the path first; a path that is not there is said in the
prompt, before anything runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from crm_tui.domain.sanitize import clean_line


@dataclass(frozen=True)
class Neighbour:
    command: str  # the palette's name
    help: str  # the palette's line under it
    prompt: str  # what the path prompt asks for
    run: Callable  # run(app, path, progress(done, total), cancel) -> (summary lines, problems)


def _vdir(app, path, progress, cancel):
    from crm_tui.importing.vdir import sync_vdir

    result = sync_vdir(app.crm, path)
    return [result.summary_line()], result.problems


def _mail(app, path, progress, cancel):
    from crm_tui.importing.mail import Mail

    def each(done, total, _result):
        progress(done, total)

    result = Mail(app.crm, app.config.my_addresses).scan(path, progress=each)
    return [result.summary()], result.problems


def _calendar(app, path, progress, cancel):
    from crm_tui.importing.ical import import_calendar

    result = import_calendar(app.crm, path, own_addresses=set(app.config.my_addresses), progress=progress)
    return result.summary_lines(), result.problems


NEIGHBOURS = {
    "vdir": Neighbour("Sync an address book folder",
                      "Two-way sync with a vdir of .vcf cards (khard, vdirsyncer), as `crm-tui vdir sync`",
                      "Address book folder (a vdir of .vcf cards)", _vdir),
    "mail": Neighbour("Scan a mailbox", "Log a Maildir's or mbox's mail on your contacts' timelines, as `crm-tui mail scan`",
                      "Maildir folder or mbox file", _mail),
    "calendar": Neighbour("Import a calendar", "Meetings from an .ics file or a khal/vdirsyncer folder, as "
                          "`crm-tui calendar import`", "Calendar: an .ics file or a folder of them", _calendar),
}


def _missing(text: str) -> str | None:
    path = os.path.expanduser(text)
    return None if os.path.exists(path) else f"{clean_line(text)}: no such file or folder"


def start(app, kind: str) -> None:
    """Ask for the path, run the neighbour's sync or import with progress, say what it did."""
    from screens.index_modals import TextPromptModal
    from screens.progress import ProgressModal

    neighbour = NEIGHBOURS[kind]

    def finished(result) -> None:
        if result is None:
            return  # the failure was said by the progress modal
        lines, problems = result
        text = " ".join(clean_line(line) for line in lines)
        if problems:
            text += f" ({len(problems)} problem(s); the first: {clean_line(problems[0])})"
        app.notify(text, severity="warning" if problems else "information", markup=False, timeout=10)
        refresh = getattr(app.screen, "action_refresh", None)
        if refresh is not None:
            app.call_later(refresh)

    def chosen(text: str | None) -> None:
        if not text:
            return
        path = os.path.expanduser(text)
        app.push_screen(ProgressModal(neighbour.command, lambda progress, cancel: neighbour.run(app, path, progress, cancel)),
                        finished)

    app.push_screen(TextPromptModal(neighbour.prompt, check=_missing, empty="Type a path"), chosen)
