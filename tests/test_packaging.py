"""Build the wheel, install it into a fresh virtual environment outside the repository and run the
command line from there: this catches package data (YAML schema, themes, TCSS) left out of the wheel.

The wheel is built without build isolation (hatchling comes with the test extras) and the new
environment borrows the test environment's dependencies through a .pth file, so no network is needed.
"""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(work / "dist"), str(REPO)], check=True, capture_output=True, text=True)
    wheel = next((work / "dist").glob("crm_tui-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, text=True)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # Dependencies (textual, peewee, ...) from the test environment; the project itself only from the wheel.
    Path(site, "test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return wheel, venv


def run(venv, *args, cwd, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(env_extra or {})
    return subprocess.run([str(venv / "bin" / "crm-tui"), *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_wheel_carries_every_package_and_data_file(installed):
    wheel, _venv = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("crm_tui/schema/objects.yaml", "crm_tui/schema/labels.yaml", "crm_tui/schema/pipelines.yaml",
                     "crm_tui/schema/freemail.txt", "crm_tui/config.example.yaml", "themes/app.tcss", "themes/dark.yaml",
                     "themes/light.yaml", "themes/high-contrast.yaml", "screens/index.py", "widgets/record_table.py"):
        assert required in names, required


def test_installed_command_line_works_outside_the_repo(installed, tmp_path):
    _wheel, venv = installed
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    result = run(venv, "--version", cwd=tmp_path, env_extra=env)
    assert result.returncode == 0 and result.stdout.strip()
    result = run(venv, "record", "create", "contacts", "firstname=Wheel", "email=w@example.org", cwd=tmp_path, env_extra=env)
    assert result.returncode == 0, result.stderr
    result = run(venv, "list", "contacts", cwd=tmp_path, env_extra=env)
    assert "Wheel" in result.stdout
    assert (tmp_path / "data" / "crm-tui" / "crm.db").exists()
    result = run(venv, "schema", "--json", cwd=tmp_path, env_extra=env)
    assert '"roast' not in result.stdout and '"contacts"' in result.stdout


def test_installed_app_starts_with_its_themes(installed, tmp_path):
    _wheel, venv = installed
    script = (
        "import asyncio, sys\n"
        "from crm_tui.shell.app import CrmApp\n"
        "import crm_tui, screens\n"
        "assert 'site-packages' in crm_tui.__file__, crm_tui.__file__\n"
        "async def main():\n"
        "    app = CrmApp(sys.argv[1])\n"
        "    async with app.run_test(size=(80, 24)) as pilot:\n"
        "        await pilot.pause()\n"
        "        print(sorted(n for n in app.available_themes if n in ('dark', 'light', 'high-contrast')))\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    result = subprocess.run([str(venv / "bin" / "python"), "-c", script, str(tmp_path / "app.db")], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "['dark', 'high-contrast', 'light']" in result.stdout
