"""A throwaway PostgreSQL server for the tests that run on the team database.

`start()` uses the server named by CRM_TUI_TEST_PG_URL (a URL of a database the tests may connect
to and whose user may CREATE DATABASE, e.g. postgresql://me@127.0.0.1:5432/postgres), or else
makes a cluster in a new temporary folder with Debian's server binaries
(/usr/lib/postgresql/*/bin, or initdb on PATH) and starts it on a free loopback port: as the
`postgres` user when the tests run as root (the server refuses root), with fsync off (a test
database is thrown away). Every pytest-xdist worker starts its own. Each test gets a fresh
database copied from a template that already holds the crm-tui schema (CREATE DATABASE ...
TEMPLATE, a few milliseconds), dropped after the test.
"""

from __future__ import annotations

import fcntl
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from urllib.parse import urlsplit, urlunsplit

TEMPLATE = "crm_tui_template"
_counter = itertools.count(1)


class ServerUnavailable(RuntimeError):
    pass


def _bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(initdb)
    raise ServerUnavailable("no PostgreSQL server binaries (apt-get install postgresql)")


FOLDER_PREFIX = "crm-tui-pg-"
OWNER_FILE = "owner.pid"  # locked by the process that started the server in this folder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A running server: `url(name)` of one of its databases, `new_database()`, `stop()`."""

    def __init__(self):
        self.folder: str | None = None
        self.base_url: str | None = None
        self._run_as: list[str] = []
        self._bindir: str | None = None
        self._next = None  # the future of the template copy made ahead (new_database)
        self._owner = None  # the locked owner file of the folder (see _stop_orphans)
        self._executor = None

    # -- start and stop ---------------------------------------------------------------------

    def start(self) -> "Server":
        given = os.environ.get("CRM_TUI_TEST_PG_URL")
        if given:
            self.base_url = given
        else:
            self._start_cluster()
        self._make_template()
        return self

    def _start_cluster(self) -> None:
        self._bindir = _bindir()
        user = None
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise ServerUnavailable("running as root and there is no postgres user to run the server") from None
            self._run_as = ["runuser", "-u", "postgres", "--"]
        self._stop_orphans()
        self.folder = tempfile.mkdtemp(prefix=FOLDER_PREFIX)
        # held for the life of this process (the kernel lets go when it dies, however it dies)
        self._owner = open(os.path.join(self.folder, OWNER_FILE), "w")
        fcntl.flock(self._owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._owner.write(str(os.getpid()))
        self._owner.flush()
        if user is not None:
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        data = os.path.join(self.folder, "data")
        self._run("initdb", "-D", data, "-A", "trust", "-U", "crm", "-E", "UTF8", "--locale=C.UTF-8",
                  "--no-sync", "--no-instructions")
        for _attempt in range(3):
            port = _free_port()
            options = (f"-p {port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
            result = self._run("pg_ctl", "-D", data, "-o", options, "-l", os.path.join(self.folder, "log"),
                               "-w", "-t", "60", "start", check=False)
            if result.returncode == 0:
                self.base_url = f"postgresql://crm@127.0.0.1:{port}/postgres"
                import atexit

                atexit.register(self.stop)  # also when a worker ends without the session's teardown
                return
        log = ""
        try:
            with open(os.path.join(self.folder, "log")) as handle:
                log = handle.read()[-2000:]
        except OSError:
            pass
        raise ServerUnavailable(f"pg_ctl start failed: {result.stderr.strip()} {log}")

    def _stop_orphans(self) -> None:
        """Servers whose test run was killed (no atexit ran) are stopped and their folders removed.
        The process that starts a server holds a lock on its folder's owner file while it lives; a
        folder whose lock can be taken has no owner any more. A folder whose server will not stop
        is left alone."""
        for folder in glob.glob(os.path.join(tempfile.gettempdir(), FOLDER_PREFIX + "*")):
            try:
                handle = open(os.path.join(folder, OWNER_FILE))
            except OSError:
                continue  # not ours to judge (an older run's folder, or one being made right now)
            with handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # its owner lives
                data = os.path.join(folder, "data")
                if os.path.exists(os.path.join(data, "postmaster.pid")):
                    self._run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop", check=False)
                    if os.path.exists(os.path.join(data, "postmaster.pid")):
                        continue
                shutil.rmtree(folder, ignore_errors=True)

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([*self._run_as, os.path.join(self._bindir, tool), *args],
                                capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise ServerUnavailable(f"{tool} failed: {result.stderr.strip() or result.stdout.strip()}")
        return result

    def stop(self) -> None:
        if self.base_url is not None:
            self._drop_spare()
        if self.folder is None:
            return
        data = os.path.join(self.folder, "data")
        try:
            self._run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop", check=False)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
            if self._owner is not None:
                self._owner.close()
                self._owner = None

    # -- databases ----------------------------------------------------------------------------

    def url(self, name: str) -> str:
        parts = urlsplit(self.base_url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def admin(self, sql: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self.base_url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def _make_template(self) -> None:
        from crm_tui.services.core import Crm

        self.template = f"{TEMPLATE}_{os.getpid()}"
        self.admin(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        self.admin(f'CREATE DATABASE "{self.template}"')
        with Crm.open(self.url(self.template), user_name="tester"):
            pass

    def new_database(self, *, empty: bool = False) -> str:
        """A new database: a copy of the template (the schema, seeded) or, if asked, empty.

        Copying the template takes about 0.2 s, most of a short test's time: the next copy is made
        in a helper thread while the current test runs, so a test usually finds its copy ready."""
        if empty:
            return self._create(empty=True)
        ready, self._next = self._next, None
        name = ready.result() if ready is not None else self._create()
        self._next = self._pool().submit(self._create)
        return name

    def _create(self, *, empty: bool = False) -> str:
        name = f"crm_test_{os.getpid()}_{next(_counter)}"
        self.admin(f'CREATE DATABASE "{name}"' + ("" if empty else f' TEMPLATE "{self.template}"'))
        return name

    def _pool(self):
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-template-copy")
        return self._executor

    def _drop_spare(self) -> None:
        """The copy made ahead for a test that never came."""
        spare, self._next = self._next, None
        if spare is not None:
            try:
                self.drop_database(spare.result())
            except Exception:  # the server is going away anyway
                pass
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def drop_database(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
