"""config.yaml: defaults, every key, warnings instead of crashes, safe YAML, saving."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crm_tui.storage import paths
from crm_tui.storage.config import AUTOMATION_SWITCHES, SETTING_KEYS, Automations, Config, default_user_name, load_config, save_setting

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLE = PROJECT / "crm_tui" / "config.example.yaml"


@pytest.fixture(autouse=True)
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


def write_config(text: str) -> Path:
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_paths_follow_xdg_at_call_time(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert paths.data_dir() == xdg / "data" / "crm-tui"
    assert paths.config_dir() == xdg / "config" / "crm-tui"
    assert paths.default_db_path() == xdg / "data" / "crm-tui" / "crm.db"
    assert paths.config_file() == xdg / "config" / "crm-tui" / "config.yaml"
    assert paths.user_themes_dir() == xdg / "config" / "crm-tui" / "themes"
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg / "elsewhere"))
    assert paths.default_db_path() == xdg / "elsewhere" / "crm-tui" / "crm.db"


def test_missing_file_gives_defaults_and_no_warnings() -> None:
    config, warnings = load_config()
    assert warnings == []
    assert config == Config()
    assert config.database is None
    assert config.theme == "dark"
    assert config.date_format == "%Y-%m-%d"
    assert config.datetime_format == "%Y-%m-%d %H:%M"
    assert config.default_views == {}
    assert config.automations == Automations()
    assert all(getattr(config.automations, name) for name in AUTOMATION_SWITCHES)
    assert config.engagement_cap == 10_000
    assert config.keymap == {}
    assert config.user_name == default_user_name() != ""


def test_empty_file_gives_defaults() -> None:
    write_config("# nothing set yet\n")
    assert load_config() == (Config(), [])


def test_every_key(xdg: Path) -> None:
    write_config(
        f"""\
        database: {xdg / "work.db"}
        theme: high-contrast
        date_format: "%d/%m/%Y"
        datetime_format: "%d/%m/%Y %H:%M"
        default_views:
          contacts: My contacts
        automations:
          auto_associate_by_domain: false
          lifecycle_opportunity_on_deal: false
          lifecycle_customer_on_won: true
          set_close_date: false
          activity_auto_associate: false
        engagement_cap: 500
        keymap:
          index.new_record: ctrl+n
          table.cursor_down: [j, down]
        user_name: Ada Lovelace
        """
    )
    config, warnings = load_config()
    assert warnings == []
    assert config == Config(
        database=xdg / "work.db",
        theme="high-contrast",
        date_format="%d/%m/%Y",
        datetime_format="%d/%m/%Y %H:%M",
        default_views={"contacts": "My contacts"},
        automations=Automations(
            auto_associate_by_domain=False,
            lifecycle_opportunity_on_deal=False,
            lifecycle_customer_on_won=True,
            set_close_date=False,
            activity_auto_associate=False,
        ),
        engagement_cap=500,
        keymap={"index.new_record": "ctrl+n", "table.cursor_down": "j,down"},
        user_name="Ada Lovelace",
    )


def test_relative_database_is_relative_to_the_config_file() -> None:
    write_config("database: data/crm.db\n")
    config, _ = load_config()
    assert config.database == paths.config_dir() / "data" / "crm.db"


def test_example_file_documents_every_key() -> None:
    # Uncommenting the example's settings must give every key and not one warning.
    text = EXAMPLE.read_text(encoding="utf-8")
    uncommented = "\n".join(
        line[2:] if re.match(r"# ( *[a-z_.]+:| +#)", line) else line
        for line in text.splitlines()
    )
    path = write_config(uncommented)
    assert load_config(path)[1] == []
    top_level = set(re.findall(r"^([a-z_]+):", uncommented, flags=re.MULTILINE))
    assert top_level == set(SETTING_KEYS)
    assert set(AUTOMATION_SWITCHES) <= set(re.findall(r"^  ([a-z_]+):", uncommented, re.M))
    # Shipped as-is, everything is commented out: the example changes nothing.
    assert load_config(EXAMPLE) == (Config(), [])


def test_unknown_keys_are_warned_with_file_and_line() -> None:
    path = write_config(
        """\
        theme: light
        themes: nord
        automations:
          set_close_dates: true
        """
    )
    config, warnings = load_config()
    assert config.theme == "light"
    assert warnings == [
        f"{path}:2: unknown key 'themes' (ignored); did you mean 'theme'?",
        f"{path}:4: unknown automation 'set_close_dates' (ignored); did you mean 'set_close_date'?",
    ]


def test_malformed_yaml_falls_back_with_a_message_naming_the_file_and_line() -> None:
    path = write_config(
        """\
        theme: light
        keymap: [ctrl+n
        user_name: Ada
        """
    )
    config, warnings = load_config()
    assert config == Config()
    assert len(warnings) == 1
    # The line where the unclosed "[" starts, not the end of the file.
    assert warnings[0].startswith(f"{path}:2: not valid YAML (")
    assert warnings[0].endswith("; using defaults")
    assert "\n" not in warnings[0]


def test_wrong_types_fall_back_per_key_with_line() -> None:
    path = write_config(
        """\
        theme: light
        date_format: 12
        engagement_cap: lots
        automations:
          set_close_date: maybe
        default_views: [contacts]
        keymap:
          index.new_record: {ctrl: n}
        user_name: "\\x1b[31mEve"
        """
    )
    config, warnings = load_config()
    assert config.theme == "light"  # good keys still apply
    assert config.date_format == "%Y-%m-%d"
    assert config.engagement_cap == 10_000
    assert config.automations.set_close_date is True
    assert config.default_views == {}
    assert config.keymap == {}
    assert config.user_name == "[31mEve"  # control characters stripped
    lines = [int(warning.split(":")[1]) for warning in warnings]
    assert lines == [2, 3, 5, 6, 8]
    assert all(warning.startswith(f"{path}:") and "\n" not in warning for warning in warnings)
    assert "engagement_cap: expected a whole number above 0, found 'lots'" in warnings[1]


def test_top_level_list_falls_back() -> None:
    path = write_config("- theme\n- light\n")
    config, warnings = load_config()
    assert config == Config()
    assert warnings == [
        f"{path}:1: expected 'key: value' settings at the top level, found a list; using defaults"
    ]


def test_yaml_loader_refuses_python_tags(xdg: Path, capfd: pytest.CaptureFixture[str]) -> None:
    marker = xdg / "pwned"
    write_config(f'!!python/object/apply:os.system ["echo hi; touch {marker}"]\n')
    config, warnings = load_config()
    assert config == Config()
    assert len(warnings) == 1 and "could not determine a constructor" in warnings[0]
    assert not marker.exists()
    assert "hi" not in capfd.readouterr().out

    write_config('theme: !!python/object/apply:os.system ["echo hi"]\n')
    config, warnings = load_config()
    assert config == Config() and "not valid YAML" in warnings[0]
    assert "hi" not in capfd.readouterr().out


def test_no_unsafe_yaml_loading_in_the_code() -> None:
    unsafe = re.compile(
        r"yaml\.(load|load_all|full_load|unsafe_load)\(|(Full|Unsafe)Loader|Loader=yaml\.Loader"
    )
    for folder in ("crm_tui", "screens", "widgets", "themes"):
        for source in (PROJECT / folder).rglob("*.py"):
            assert not unsafe.search(source.read_text(encoding="utf-8")), source


def test_save_setting_round_trip_keeps_the_rest() -> None:
    path = write_config(
        """\
        # my settings
        theme: dark  # changed from the command palette
        keymap:
          index.new_record: ctrl+n
        # dates the way I like them
        date_format: "%d.%m.%Y"
        """
    )
    assert save_setting("theme", "light") == []
    text = path.read_text(encoding="utf-8")
    assert "# my settings" in text and "# changed from the command palette" in text
    assert "# dates the way I like them" in text
    config, warnings = load_config()
    assert warnings == []
    assert config.theme == "light"
    assert config.keymap == {"index.new_record": "ctrl+n"}
    assert config.date_format == "%d.%m.%Y"

    assert save_setting("keymap", {"table.open": "o"}) == []
    assert save_setting("engagement_cap", 42) == []
    config, warnings = load_config()
    assert warnings == []
    assert config.keymap == {"table.open": "o"}
    assert (config.theme, config.engagement_cap, config.date_format) == ("light", 42, "%d.%m.%Y")
    assert "# dates the way I like them" in path.read_text(encoding="utf-8")


def test_save_setting_creates_the_file() -> None:
    assert not paths.config_file().exists()
    assert save_setting("theme", "high-contrast") == []
    assert load_config() == (Config(theme="high-contrast"), [])


def test_save_setting_leaves_a_broken_file_alone() -> None:
    path = write_config("theme: [light\n")
    before = path.read_text(encoding="utf-8")
    warnings = save_setting("theme", "dark")
    assert len(warnings) == 1 and warnings[0].startswith(f"{path}:")
    assert "theme not saved" in warnings[0]
    assert path.read_text(encoding="utf-8") == before


def test_config_and_paths_do_not_import_textual() -> None:
    # They are core modules: the command line and tests use them without the UI.
    code = "import sys, crm_tui.storage.config, crm_tui.storage.paths; print('textual' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, check=True
    )
    assert result.stdout.strip() == "False"


def test_save_setting_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError):
        save_setting("colour", "red")


def test_the_command_line_names_the_configs_user_in_history(xdg: Path) -> None:
    """A team member's `user_name` names their command-line changes too, as it names the app's
    (the command line used the login name)."""
    from crm_tui.cli.main import main
    from crm_tui.services.core import Crm

    write_config("user_name: Ada Lovelace\n")
    db = xdg / "team.db"
    assert main(["--db", str(db), "record", "create", "contacts", "email=ada@x.example", "jobtitle=Analyst"]) == 0
    with Crm.open(db) as crm:
        [change] = [c for c in crm.history.property_history("contacts", 1) if c.property == "jobtitle"]
        assert change.actor == "Ada Lovelace"
