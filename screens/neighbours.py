"""Address books, mailboxes and calendars from the app (command palette): the same core calls as
`crm-tui vdir sync`, `mail scan` and `calendar import`, run in a worker behind a progress modal,
their summary shown as a notice. Asks for the path first; a path that is not there is said in the
prompt, before anything runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from crm_tui.domain.errors import CrmError, InvalidValue
from crm_tui.domain.sanitize import clean_line


@dataclass(frozen=True)
class Neighbour:
    command: str  # the palette's name
    help: str  # the palette's line under it
    prompt: str  # what the path prompt asks for
    run: Callable  # run(app, path, progress(done, total), cancel) -> (summary lines, problems)
    must_exist: bool = True  # the path must be there before it runs (a vdir folder is made)
    stopped: str = ""  # what escape leaves behind, said when it stops one midway ("" : it cannot stop)


class Stopped(CrmError):
    """Escape pressed: the work stopped between two messages or events; what it wrote stays."""


def _stop_on_cancel(progress, cancel, stopped: str):
    def each(done, total, *_result):
        if cancel.is_set():
            raise Stopped(stopped)
        progress(done, total)
    return each


def _vdir(app, path, progress, cancel):
    from crm_tui.importing.vdir import sync_vdir

    result = sync_vdir(app.crm, path)
    return [result.summary_line()], result.problems


def _mail(app, path, progress, cancel):
    from crm_tui.importing.mail import Mail

    result = Mail(app.crm, app.config.my_addresses).scan(
        path, progress=_stop_on_cancel(progress, cancel, NEIGHBOURS["mail"].stopped))
    return [result.summary()], result.problems


def _calendar(app, path, progress, cancel):
    from crm_tui.importing.ical import import_calendar

    result = import_calendar(app.crm, path, own_addresses=set(app.config.my_addresses),
                             progress=_stop_on_cancel(progress, cancel, NEIGHBOURS["calendar"].stopped))
    return result.summary_lines(), result.problems


def _run(neighbour: Neighbour, app, path: str, progress, cancel):
    try:
        return neighbour.run(app, path, progress, cancel)
    except OSError as exc:  # a file it may not read, a folder gone meanwhile: one line
        raise InvalidValue(f"{clean_line(path)}: {exc.strerror or exc}") from None


NEIGHBOURS = {
    "vdir": Neighbour("Sync an address book folder",
                      "Two-way sync with a vdir of .vcf cards (khard, vdirsyncer), as `crm-tui vdir sync`",
                      "Address book folder (a vdir of .vcf cards; a new one is made)", _vdir, must_exist=False),
    "mail": Neighbour("Scan a mailbox", "Log a Maildir's or mbox's mail on your contacts' timelines, as `crm-tui mail scan`",
                      "Maildir folder or mbox file", _mail,
                      stopped="stopped: the messages logged so far are kept; scan again to go on from there"),
    "calendar": Neighbour("Import a calendar", "Meetings from an .ics file or a khal/vdirsyncer folder, as "
                          "`crm-tui calendar import`", "Calendar: an .ics file or a folder of them", _calendar,
                          stopped="stopped while reading the calendar files: nothing was imported"),
}


def _missing(text: str) -> str | None:
    path = os.path.expanduser(text)
    if not os.path.exists(path):
        return f"{clean_line(text)}: no such file or folder"
    if not os.access(path, os.R_OK):
        return f"{clean_line(text)}: not readable"
    return None


def _no_parent(text: str) -> str | None:
    parent = os.path.dirname(os.path.abspath(os.path.expanduser(text)))
    return None if os.path.isdir(parent) else f"{clean_line(text)}: its folder {clean_line(parent)} does not exist"


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
        app.push_screen(ProgressModal(neighbour.command, lambda progress, cancel: _run(neighbour, app, path, progress, cancel),
                                      cancellable=bool(neighbour.stopped)), finished)

    check = _missing if neighbour.must_exist else _no_parent
    app.push_screen(TextPromptModal(neighbour.prompt, check=check, empty="Type a path"), chosen)
