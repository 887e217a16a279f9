"""Shared fixtures: every test gets its own XDG folders and, when asked, a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_tui.core import Crm

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


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "crm.db"


@pytest.fixture
def crm(db_path):
    with Crm.open(db_path, user_name="tester") as instance:
        yield instance


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """The demo database, built once per session; copy it with `demo_db` before changing it."""
    from crm_tui.demo import build_demo

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
