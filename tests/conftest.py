"""Shared fixtures: every test gets its own XDG folders and, when asked, a real SQLite file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crm_tui.services.core import Crm

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """Never read or write the real user's config or data."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("CRM_TUI_DB", raising=False)
    monkeypatch.setenv("CRM_TUI_BUSY_TIMEOUT_MS", "300")
    monkeypatch.delenv("NO_COLOR", raising=False)
    yield


# -- backends: SQLite always; PostgreSQL for the suites marked `pytest.mark.backends(...)` -------------

def pytest_configure(config):
    config.addinivalue_line("markers", "backends(*names): run the module's `crm` tests on each backend "
                            "(sqlite, postgresql)")


def pytest_generate_tests(metafunc):
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is not None and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", marker.args, indirect=True)


@pytest.fixture
def backend(request) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server for this test process (tests/pg_server.py). Without one, the tests that
    need it skip, except under CI=true, where they fail."""
    from tests.pg_server import Server, ServerUnavailable

    server = Server()
    try:
        server.start()
    except (ServerUnavailable, OSError, ImportError) as exc:
        server.stop()
        message = f"no PostgreSQL server for the tests: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server):
    """The URL of a fresh crm-tui database on the test server (schema made, user "tester")."""
    name = pg_server.new_database()
    yield pg_server.url(name)
    pg_server.drop_database(name)


@pytest.fixture
def db_path(request, backend, tmp_path):
    """Where the test's database is: a file, or on the postgresql backend a URL."""
    if backend == "postgresql":
        return request.getfixturevalue("pg_url")
    return tmp_path / "crm.db"


@pytest.fixture
def crm(db_path):
    with Crm.open(db_path, user_name="tester") as instance:
        yield instance


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """The demo database, built once per session; copy it with `demo_db` before changing it."""
    from crm_tui.services.demo import build_demo

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    return build_demo(path)


@pytest.fixture
def demo_db(demo_template, tmp_path) -> Path:
    import shutil

    target = tmp_path / "demo.db"
    shutil.copyfile(demo_template, target)
    return target


def needs_shared_data(*parts: str) -> Path:
    """The path of a file under ../shared/data, or skip the test when it is absent (a fresh clone)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path
