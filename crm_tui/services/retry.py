"""The app's writes run once more when they lost a race with another writer.

On the team database two members may write the same rows at the same moment; the loser's whole
operation is rolled back with a serialisation failure, a deadlock or a unique key taken meanwhile
(`Crm.operation` marks that error `retryable`). The command line runs such a command again
(`Crm.retrying`); `retry_lost_races(crm, notice)` gives the app the same: every call a screen makes
on a service (`crm.records.update(...)`, `crm.assoc.add(...)`, ...) that fails so outside any
operation runs once more, and `notice` gets one line saying so. A second loss is raised as it is.
"""

from __future__ import annotations

import functools
from typing import Callable

from ..domain.errors import CrmError

SERVICES = ("records", "assoc", "activities", "merger", "eraser", "journal", "datamodel", "duplicates", "reports")
NOTICE = "another writer changed the same data at the same moment: ran it again on what they saved"


class _RetryOnce:
    """A service whose public methods run once more after losing a race (see the module). A
    service Crm builds on first use (a cached_property) is still built on first use."""

    __slots__ = ("_made", "_make", "_crm", "_notice")

    def __init__(self, make: Callable[[], object], crm, notice: Callable[[str], None]):
        object.__setattr__(self, "_made", None)
        object.__setattr__(self, "_make", make)
        object.__setattr__(self, "_crm", crm)
        object.__setattr__(self, "_notice", notice)

    @property
    def _service(self):
        if self._made is None:
            object.__setattr__(self, "_made", self._make())
        return self._made

    def __getattr__(self, name: str):
        value = getattr(self._service, name)
        if name.startswith("_") or not callable(value):
            return value
        crm, notice = self._crm, self._notice

        @functools.wraps(value)
        def once_more(*args, **kwargs):
            try:
                return value(*args, **kwargs)
            except CrmError as exc:
                # inside an operation the whole operation is what runs again, not this part of it
                if not getattr(exc, "retryable", False) or crm._ops:
                    raise
                notice(NOTICE)
                return value(*args, **kwargs)

        return once_more

    def __setattr__(self, name: str, value) -> None:
        setattr(self._service, name, value)


def retry_lost_races(crm, notice: Callable[[str], None]) -> None:
    """From now on the services of `crm` run a call that lost a race once more (see the module)."""
    for name in SERVICES:
        if isinstance(crm.__dict__.get(name), _RetryOnce):
            continue
        if name in crm.__dict__:  # made already (records, assoc; a cached service used before)
            made = crm.__dict__[name]
            make = functools.partial(lambda service: service, made)
        else:  # a cached_property of Crm: built when the screen first needs it, as without this
            make = functools.partial(getattr(type(crm), name).func, crm)
        crm.__dict__[name] = _RetryOnce(make, crm, notice)
