"""Errors the core raises. Each carries one line a user can act on."""


class CrmError(Exception):
    """Base class: `str(error)` is one clear line naming what is wrong."""

    exit_code = 2


class NotFound(CrmError):
    pass


class InvalidValue(CrmError):
    pass


class LimitExceeded(CrmError):
    pass


class PrimaryRequired(CrmError):
    """Removing a primary company needs the caller to name the new primary (or none)."""

    def __init__(self, message: str, candidates: list[tuple[int, str]]):
        super().__init__(message)
        self.candidates = candidates


class DatabaseProblem(CrmError):
    """The database file cannot be used: not SQLite, newer version, locked, read-only, full."""
