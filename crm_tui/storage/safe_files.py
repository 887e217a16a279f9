"""Every file crm-tui writes (exports, vCards, backups, import error files, the config file) goes
through here, so that a careless or hostile path costs nothing:

- the live database and its `-wal`, `-shm` and `-journal` files are refused, compared by resolved
  path and by inode (a symlink or a hard link to the database is the database);
- an existing file is replaced only when the caller was asked to (`--force`);
- a missing folder, a folder given as the file, a file given as the folder, or a device, pipe or
  socket given as the file (`-o /dev/null --force` must not replace the device) is one clear line;
- the file is written under a temporary name beside the target, created readable by its owner only
  (0600), and moved into place when complete: never half a file under the chosen name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..domain.errors import InvalidValue
from ..domain.sanitize import clean_line

DATABASE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def database_files(db_path: str | os.PathLike) -> list[Path]:
    """The database file and the files SQLite keeps beside it."""
    base = os.fspath(Path(db_path).expanduser())
    return [Path(base + suffix) for suffix in DATABASE_SUFFIXES]


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):  # a symlink loop: compare what exists
        pass
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def is_database_file(path: str | os.PathLike, protect: Iterable[str | os.PathLike | None]) -> bool:
    """Is `path` one of the protected databases or one of their journal files?"""
    target = Path(path).expanduser()
    for db_path in protect:
        if db_path is None:
            continue
        if any(_same_file(target, candidate) for candidate in database_files(db_path)):
            return True
    return False


def check_target(path: str | os.PathLike, *, protect: Iterable[str | os.PathLike | None] = (),
                 overwrite: bool = False, what: str = "output file") -> Path:
    """The checked target path, or InvalidValue naming what is wrong with it."""
    text = os.fspath(path)
    if not text.strip():
        raise InvalidValue(f"the {what} needs a name")
    if "\x00" in text:
        raise InvalidValue(f"{text!r}: a file name cannot contain a NUL character")
    target = Path(text).expanduser()
    if is_database_file(target, protect):
        raise InvalidValue(f"{target}: that is the database (or one of its journal files); choose another {what}")
    if target.is_dir():
        raise InvalidValue(f"{target}: is a folder; name a file inside it")
    if target.exists() and not target.is_file():  # renaming over /dev/null would replace the device itself
        raise InvalidValue(f"{target}: is not a regular file (a device, pipe or socket); name a file")
    folder = target.parent
    if not folder.exists():
        raise InvalidValue(f"{target}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise InvalidValue(f"{target}: {folder} is not a folder")
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise InvalidValue(f"{target}: already exists; add --force to replace it")
    return target


def confirm_replace(path: str | os.PathLike | None, force: bool, protect: Iterable[str | os.PathLike | None] = ()) -> bool:
    """The command line's `--force`: given, or asked for at a terminal when the file exists.
    Without a terminal nothing is asked, and safe_files refuses to replace the file."""
    if force or path is None:
        return force

    target = Path(path).expanduser()
    if not target.is_file() or not (sys.stdin.isatty() and sys.stderr.isatty()) or is_database_file(target, protect):
        return False  # nothing to ask (a database is refused whatever the answer)

    print(f"{clean_line(str(target))} exists. Replace it? [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, KeyboardInterrupt):
        return False
    return answer.strip().lower() in ("y", "yes")


def check_folder(path: str | os.PathLike, *, what: str = "folder", create: bool = True) -> Path:
    """A folder to write into: created (0700) when missing, refused when it is a file."""
    text = os.fspath(path)
    if not text.strip() or "\x00" in text:
        raise InvalidValue(f"{text!r}: not a usable {what} name")
    folder = Path(text).expanduser()
    if folder.exists() and not folder.is_dir():
        raise InvalidValue(f"{folder}: is a file, not a {what}")
    if not folder.exists():
        if not create:
            raise InvalidValue(f"{folder}: no such {what}")
        try:
            folder.mkdir(parents=True, mode=0o700)
        except OSError as exc:
            raise InvalidValue(f"{folder}: cannot create the {what}: {exc.strerror or exc}") from None
    return folder


def new_temporary(target: Path) -> Path:
    """An empty private (0600) file beside `target`, to be published with `publish`."""
    try:
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise InvalidValue(f"{target}: cannot write in {target.parent}: {exc.strerror or exc}") from None
    os.close(handle)
    os.chmod(name, 0o600)
    return Path(name)


def publish(temporary: Path, target: Path, *, overwrite: bool) -> None:
    """Move a complete temporary file into place; without `overwrite`, never over an existing file
    (even one that appeared while we were writing)."""
    if overwrite:
        os.replace(temporary, target)
        return
    try:
        os.link(temporary, target)  # fails if the target exists: no window for a race
    except FileExistsError:
        raise InvalidValue(f"{target}: already exists; add --force to replace it") from None
    except OSError:  # a file system without hard links: check, then rename
        if target.exists() or target.is_symlink():
            raise InvalidValue(f"{target}: already exists; add --force to replace it") from None
        os.replace(temporary, target)
        return
    os.unlink(temporary)


class Writing:
    """What `writing()` yields: the open stream, and `discard()` to drop the file (a cancel)."""

    def __init__(self, stream, path: Path):
        self.stream = stream
        self.path = path
        self.discarded = False

    def discard(self) -> None:
        self.discarded = True


@contextlib.contextmanager
def writing(path: str | os.PathLike, *, protect: Iterable[str | os.PathLike | None] = (), overwrite: bool = False,
            binary: bool = False, encoding: str = "utf-8", newline: str | None = None,
            what: str = "output file") -> Iterator[Writing]:
    """Write a file safely (see the module's docstring): `with writing(p, protect=[db]) as w: w.stream.write(...)`."""
    protect = list(protect)
    target = check_target(path, protect=protect, overwrite=overwrite, what=what)
    temporary = new_temporary(target)
    try:
        with open(temporary, "wb" if binary else "w", **({} if binary else {"encoding": encoding, "newline": newline})) as stream:
            handle = Writing(stream, target)
            yield handle
        if handle.discarded:
            temporary.unlink(missing_ok=True)
            return
        if is_database_file(target, protect):  # the name was pointed at the database meanwhile
            raise InvalidValue(f"{target}: that is the database (or one of its journal files); choose another {what}")
        publish(temporary, target, overwrite=overwrite)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str, *, protect: Iterable[str | os.PathLike | None] = (),
               overwrite: bool = False, what: str = "file") -> Path:
    with writing(path, protect=protect, overwrite=overwrite, what=what) as w:
        w.stream.write(text)
    return w.path
