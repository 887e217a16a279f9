#!/usr/bin/env python3
"""Move crm_tui's flat modules into layer sub-packages, and rewrite every reference to them.

    python tools/relayer.py --check       # say what would move; list modules the table does not know
    python tools/relayer.py               # move (git mv) and rewrite; refuses on a dirty tree
    python tools/relayer.py --contracts   # only rewrite the import-linter contracts in pyproject.toml

Deterministic and re-runnable on a newer main: the MAPPING table below says where each module
goes; a module under crm_tui/ that is neither in MAPPING nor in KEEP is reported, never guessed,
and nothing is changed until the table names it. Modules already at their new place are left
alone, so running it twice changes nothing the second time.

What is rewritten, in every .py file under crm_tui/, screens/, widgets/, tests/, benchmarks/ and
tools/ (this file excepted), and in pyproject.toml and .ci/run:
- `from X import a, b` and `from .X import a` (absolute and relative; a statement whose names
  are modules that go to different packages is split into one statement per package; relative
  imports stay relative, computed from the file's new place);
- `import crm_tui.x` and any dotted name `crm_tui.x.y` in code or strings (monkeypatch targets,
  importlib names, entry points such as `crm_tui.cli:main`);
- file paths `crm_tui/x.py` in strings and comments.
Then the import-linter contracts in pyproject.toml are written from LAYERS.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "crm_tui"

# Layer packages inside crm_tui/, top to bottom, each with its one job (the package docstring).
LAYERS = [
    ("cli", "The command line: the `crm-tui` entry point, typed arguments, one function per "
            "subcommand. Changes made here carry the source API. Starts the app shell."),
    ("shell", "The Textual app shell: the App class, keymap, theming and browser mode (serve). "
              "With screens/ and widgets/, the only code that imports Textual."),
    # screens/ and widgets/ (top-level packages) sit here
    ("importing", "Import and export: reading CSV and vCard files, mapping columns, recognising "
                  "HubSpot exports, running an import in batches and undoing it, writing exports."),
    ("services", "The operations: the Crm object (one transaction and one operation per change), "
                 "records, associations, activities, history, merge, undo, rules, pipelines, "
                 "owners, search, paging, views, bulk changes, integrity checks, schema files, "
                 "seeding and maintenance."),
    ("storage", "Where data lives: the database file (open, pragmas, schema versions, migrations, "
                "backups), the Peewee models, the object engine that builds a model per object, the "
                "SQLite dialect, the config file, paths and safe file writing."),
    ("domain", "Values and rules that need no database: property types (one class per type: "
               "parse, store, display, export, filter operators), value parsers, text cleaning, "
               "errors and change sources."),
]
UI_PACKAGES = ("screens", "widgets")  # top-level packages between the shell and the importing layer

# old module -> new module (dotted names). Keep sorted by new package.
MAPPING = {
    # domain
    "crm_tui.errors": "crm_tui.domain.errors",
    "crm_tui.importing.values": "crm_tui.domain.values",
    "crm_tui.sanitize": "crm_tui.domain.sanitize",
    "crm_tui.sources": "crm_tui.domain.sources",
    "crm_tui.types": "crm_tui.domain.types",
    # storage
    "crm_tui.config": "crm_tui.storage.config",
    "crm_tui.db": "crm_tui.storage.db",
    "crm_tui.dialect": "crm_tui.storage.dialect",
    "crm_tui.dialect_pg": "crm_tui.storage.dialect_pg",
    "crm_tui.live": "crm_tui.storage.live",
    "crm_tui.engine": "crm_tui.storage.engine",
    "crm_tui.models": "crm_tui.storage.models",
    "crm_tui.paths": "crm_tui.storage.paths",
    "crm_tui.constraints": "crm_tui.storage.constraints",
    "crm_tui.safe_files": "crm_tui.storage.safe_files",
    # services
    "crm_tui.activities": "crm_tui.services.activities",
    "crm_tui.associations": "crm_tui.services.associations",
    "crm_tui.bulk": "crm_tui.services.bulk",
    "crm_tui.core": "crm_tui.services.core",
    "crm_tui.copying": "crm_tui.services.copying",
    "crm_tui.datamodel": "crm_tui.services.datamodel",
    "crm_tui.demo": "crm_tui.services.demo",
    "crm_tui.duplicates": "crm_tui.services.duplicates",
    "crm_tui.erase": "crm_tui.services.erase",
    "crm_tui.history": "crm_tui.services.history",
    "crm_tui.integrity": "crm_tui.services.integrity",
    "crm_tui.journal": "crm_tui.services.journal",
    "crm_tui.maintenance": "crm_tui.services.maintenance",
    "crm_tui.merge": "crm_tui.services.merge",
    "crm_tui.meta_journal": "crm_tui.services.meta_journal",
    "crm_tui.owners": "crm_tui.services.owners",
    "crm_tui.paging": "crm_tui.services.paging",
    "crm_tui.pipelines": "crm_tui.services.pipelines",
    "crm_tui.query": "crm_tui.services.query",
    "crm_tui.recommend": "crm_tui.services.recommend",
    "crm_tui.records": "crm_tui.services.records",
    "crm_tui.reports": "crm_tui.services.reports",
    "crm_tui.rules": "crm_tui.services.rules",
    "crm_tui.schema_apply": "crm_tui.services.schema_apply",
    "crm_tui.search": "crm_tui.services.search",
    "crm_tui.seed": "crm_tui.services.seed",
    "crm_tui.views": "crm_tui.services.views",
    "crm_tui.workflows": "crm_tui.services.workflows",
    # importing (import and export) stays crm_tui/importing/, less its command line and values
    # cli
    "crm_tui.cli": "crm_tui.cli.main",
    "crm_tui.cli_args": "crm_tui.cli.args",
    "crm_tui.cli_duplicates": "crm_tui.cli.duplicates",
    "crm_tui.cli_reports": "crm_tui.cli.reports",
    "crm_tui.cli_workflows": "crm_tui.cli.workflows",
    "crm_tui.cli_mail": "crm_tui.cli.mail",
    "crm_tui.cli_admin": "crm_tui.cli.admin",
    "crm_tui.cli_journal": "crm_tui.cli.journal",
    "crm_tui.cli_calendars": "crm_tui.cli.calendars",
    "crm_tui.commands": "crm_tui.cli.commands",
    "crm_tui.importing.cli_commands": "crm_tui.cli.imports",
    # shell
    "crm_tui.app": "crm_tui.shell.app",
    "crm_tui.keymap": "crm_tui.shell.keymap",
    "crm_tui.serve": "crm_tui.shell.serve",
    "crm_tui.theming": "crm_tui.shell.theming",
}

# Modules that stay where they are (packages, data, and the import/export modules).
KEEP = {
    "crm_tui", "crm_tui.schema", "crm_tui.importing",
    "crm_tui.importing.bundle", "crm_tui.importing.columns", "crm_tui.importing.csvread",
    "crm_tui.importing.csvwrite", "crm_tui.importing.exporter", "crm_tui.importing.hubspot",
    "crm_tui.importing.importer", "crm_tui.importing.infer", "crm_tui.importing.mapping",
    "crm_tui.importing.parse_ahead", "crm_tui.importing.vcard", "crm_tui.importing.ical",
    "crm_tui.importing.spec", "crm_tui.importing.plan", "crm_tui.importing.undo",
    "crm_tui.importing.vdir", "crm_tui.cli.vdir",
    "crm_tui.importing.mail", "crm_tui.cli.mail", "crm_tui.cli.tasks", "crm_tui.services.tasks",
    "crm_tui.services.retry",  # merged into main without them (test_relayer)
}

# Imports against the layers that are known and not yet removed: (importer, imported, why).
# Names are the new ones. Each is a piece of work; lint-imports fails on any other.
KNOWN_UPWARD = [
    ("crm_tui.services.journal", "crm_tui.importing.undo",
     "undo of an import (undo_import, owner_alive) lives with the imports' journal in importing/undo.py"),
]

# Import cycles inside a layer package that are known and not yet removed (new names), with why.
KNOWN_CYCLES = [
    ("crm_tui.importing.importer", "crm_tui.importing.bundle",
     "the importer runs a bundle and undoes its extras: the importer still does several jobs"),
    ("crm_tui.services.meta_journal", "crm_tui.services.pipelines",
     "undoing a pipeline change needs the pipeline defaults; pipelines journal their changes"),
]

TEXT_FILES = ("pyproject.toml", ".ci/run")
NOT_REWRITTEN = {"tools/relayer.py", "tests/test_relayer.py"}  # their old names are examples
CODE_DIRS = ("crm_tui", "screens", "widgets", "tests", "benchmarks", "tools")


# -- discovering modules ---------------------------------------------------------------------

def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def module_path(name: str, is_package: bool = False) -> Path:
    base = ROOT.joinpath(*name.split("."))
    return base / "__init__.py" if is_package else base.with_suffix(".py")


def current_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))}


def plan() -> tuple[dict[str, str], list[str]]:
    """(moves still to do: old -> new, modules the tables do not know)."""
    modules = current_modules()
    new_names = set(MAPPING.values()) | {f"{PACKAGE}.{layer}" for layer, _ in LAYERS}
    moves, unknown = {}, []
    for name, path in modules.items():
        if name in MAPPING and path.name != "__init__.py":  # (crm_tui.cli the module, not the package)
            moves[name] = MAPPING[name]
        elif name not in KEEP and name not in new_names:
            unknown.append(name)
    # a module whose old name is gone and new name exists has moved already: nothing to do
    return moves, unknown


# -- rewriting references ------------------------------------------------------------------------

def package_of(module: str, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


def resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    base = package_of(module, is_package).split(".")
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def relative(from_package: str, target: str) -> tuple[int, str]:
    """(level, module) for `from <level dots><module> import ...` in from_package."""
    a, b = from_package.split("."), target.split(".")
    common = 0
    while common < min(len(a), len(b)) and a[common] == b[common]:
        common += 1
    return len(a) - common + 1, ".".join(b[common:])


def new_name(old: str, mapping: dict[str, str]) -> str:
    """The new dotted name of a module or of something inside one (longest known prefix)."""
    parts = old.split(".")
    for cut in range(len(parts), 0, -1):
        head = ".".join(parts[:cut])
        if head in mapping:
            return ".".join([mapping[head]] + parts[cut:])
    return old


DOTTED = re.compile(r"(?<![\w.])crm_tui(?:\.\w+)+")
PATHS = re.compile(r"(?<![\w/])crm_tui(?:/\w+)+\.py\b")
# `from crm_tui import cli` written inside a string (code run in a subprocess by a test)
TEXT_IMPORT = re.compile(r"\bfrom (crm_tui(?:\.\w+)*) import (\w+(?: as \w+)?(?:, *\w+(?: as \w+)?)*)")
NAMES_OR_IMPORTS = re.compile(f"{TEXT_IMPORT.pattern}|{DOTTED.pattern}")


def rewrite_text(text: str, mapping: dict[str, str], known: set[str] | None = None) -> str:
    """Dotted names, `from crm_tui... import ...` and file paths of moved modules, anywhere in a
    text (one pass each, so nothing is rewritten twice)."""
    known = set(mapping) | set(mapping.values()) if known is None else known

    def dotted(match: re.Match) -> str:
        if match.group(1):
            names = [(n.split(" as ")[0].strip(), n.split(" as ")[1].strip() if " as " in n else None)
                     for n in match.group(2).split(",")]
            groups, changed = _from_import(match.group(1), names, mapping, known)
            if not changed:
                return match.group(0)
            return "; ".join(f"from {base} import {', '.join(items)}" for base, items in groups.items())
        return new_name(match.group(0), mapping)

    def path(match: re.Match) -> str:
        name = match.group(0)[:-3].replace("/", ".")
        moved = new_name(name, mapping)
        return match.group(0) if moved == name else moved.replace(".", "/") + ".py"

    return PATHS.sub(path, NAMES_OR_IMPORTS.sub(dotted, text))


def _from_import(base_old: str, names: list[tuple[str, str | None]], mapping: dict[str, str],
                 known: set[str]) -> tuple[dict[str, list[str]], bool]:
    """`from base_old import names` -> ({new base: ["name as alias", ...]}, changed). A name that
    is a module goes with that module (it may leave its package); callers keep their names."""
    groups: dict[str, list[str]] = {}
    changed = False
    for alias_name, alias_as in names:
        full = f"{base_old}.{alias_name}"
        if full in known or full in mapping:
            base, _, name = new_name(full, mapping).rpartition(".")
        else:
            base, name = new_name(base_old, mapping), alias_name
        changed |= base != base_old or name != alias_name
        asname = alias_as or (alias_name if name != alias_name else None)
        groups.setdefault(base, []).append(name + (f" as {asname}" if asname else ""))
    return groups, changed


def rewrite_import(node: ast.stmt, old_module: str, new_module: str, is_package: bool,
                   mapping: dict[str, str], known: set[str]) -> list[str] | None:
    """The replacement lines of one import statement, or None to leave it as it is."""
    if isinstance(node, ast.Import):
        names = []
        changed = False
        for alias in node.names:
            moved = new_name(alias.name, mapping)
            changed |= moved != alias.name
            names.append(moved + (f" as {alias.asname}" if alias.asname else ""))
        return [f"import {', '.join(names)}"] if changed else None
    base_old = resolve(old_module, is_package, node.level, node.module)
    if not base_old.split(".")[0] == PACKAGE:
        return None
    new_package = package_of(new_module, is_package)
    groups, changed = _from_import(base_old, [(a.name, a.asname) for a in node.names], mapping, known)
    changed |= new_module != old_module and node.level > 0
    if not changed:
        return None
    lines = []
    for base, names in groups.items():
        if node.level > 0:
            level, rest = relative(new_package, base)
            where = "." * level + rest
        else:
            where = base
        lines.append(f"from {where} import {', '.join(names)}")
    return lines


def rewrite_python(path: Path, old_module: str | None, new_module: str | None,
                   mapping: dict[str, str], known: set[str]) -> str:
    return rewrite_source(path.read_text(encoding="utf-8"), path.name == "__init__.py", old_module, new_module,
                          mapping, known)


def rewrite_source(source: str, is_package: bool, old_module: str | None, new_module: str | None,
                   mapping: dict[str, str], known: set[str]) -> str:
    """One Python file's text with its imports and dotted names rewritten. `old_module` and
    `new_module` are the file's own names (None outside crm_tui/: its relative imports stay)."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def at(lineno: int, col: int) -> int:
        return offsets[lineno - 1] + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8"))

    edits = []  # (start, end, text)
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if old_module is None and isinstance(node, ast.ImportFrom) and node.level > 0:
            continue  # a relative import outside crm_tui (tests, screens) names its own package
        new_lines = rewrite_import(node, old_module or "", new_module or "", is_package, mapping, known)
        if new_lines is None:
            continue
        indent = " " * node.col_offset
        start, end = at(node.lineno, node.col_offset), at(node.end_lineno, node.end_col_offset)
        comments = _comments(source[start:end])  # comments inside a parenthesised import are kept
        text = ("\n" + indent).join(new_lines) + (f"  # {comments}" if comments else "")
        edits.append((start, end, text))
    out, last = [], 0
    for start, end, text in sorted(edits):
        out.append(rewrite_text(source[last:start], mapping, known))
        out.append(text)
        last = end
    out.append(rewrite_text(source[last:], mapping, known))
    return "".join(out)


def _comments(statement: str) -> str:
    found = [tok.string.lstrip("#").strip() for tok in tokenize.generate_tokens(io.StringIO(statement).readline)
             if tok.type == tokenize.COMMENT]
    return "; ".join(c for c in found if c)


# -- contracts ----------------------------------------------------------------------------------

def contracts(mapping: dict[str, str], moved: bool) -> str:
    """The [tool.importlinter] section: layers, Textual only on top, no cycles."""
    def members(layer: str) -> list[str]:
        if moved:
            return [f"{PACKAGE}.{layer}"]
        olds = sorted(old for old, new in mapping.items() if new.split(".")[1] == layer)
        if layer == "importing":
            olds = sorted(m for m in KEEP if m.startswith(f"{PACKAGE}.importing."))
        return olds

    def as_new(name: str) -> str:
        return name if moved else {new: old for old, new in mapping.items()}.get(name, name)

    def toml_list(items: list[str], indent: str = "    ") -> str:
        return "[\n" + "".join(f'{indent}"{i}",\n' for i in items) + "]"

    order = [layer for layer, _ in LAYERS]
    top, below = order[:2], order[2:]
    layer_lines = [" : ".join(members(layer)) for layer in top] + list(UI_PACKAGES) + \
        [" : ".join(members(layer)) for layer in below]
    core = [m for layer in ("importing", "services", "storage", "domain") for m in members(layer)]
    ignores = [f"{as_new(a)} -> {as_new(b)}" for a, b, _why in KNOWN_UPWARD]
    why = "".join(f"# {as_new(a)} -> {as_new(b)}: {w}\n" for a, b, w in KNOWN_UPWARD)
    cycles = [f"{as_new(a)} -> {as_new(b)}" for a, b, _why in KNOWN_CYCLES]
    cycles_why = "".join(f"# {as_new(a)} -> {as_new(b)}: {w}\n" for a, b, w in KNOWN_CYCLES)
    text = f"""[tool.importlinter]
# Written by tools/relayer.py from its LAYERS table: edit the table, not this section.
root_packages = ["{PACKAGE}", "screens", "widgets"]
include_external_packages = true

[[tool.importlinter.contracts]]
name = "Layers, top to bottom: cli, shell, screens, widgets, importing, services, storage, domain"
type = "layers"
layers = {toml_list(layer_lines)}
{why}ignore_imports = {toml_list(ignores)}

[[tool.importlinter.contracts]]
name = "Textual only in the app shell, screens and widgets: the core never imports it"
type = "forbidden"
source_modules = {toml_list(core)}
forbidden_modules = ["textual", "textual_serve", "rich"]

[[tool.importlinter.contracts]]
name = "The command line imports Textual only through the app shell it starts"
type = "forbidden"
source_modules = {toml_list(members("cli"))}
forbidden_modules = ["textual", "rich"]
allow_indirect_imports = true

[[tool.importlinter.contracts]]
name = "The core never imports the command line, the app shell, screens or widgets"
type = "forbidden"
source_modules = {toml_list(core)}
forbidden_modules = {toml_list(members("cli") + members("shell") + list(UI_PACKAGES))}
"""
    if moved:
        text += f"""
[[tool.importlinter.contracts]]
name = "No import cycles between the layer packages, nor between the modules of one"
type = "acyclic_siblings"
ancestors = ["{PACKAGE}"]
{cycles_why}ignore_imports = {toml_list(ignores + cycles)}
"""
    return text


def write_contracts(mapping: dict[str, str], moved: bool) -> None:
    path = ROOT / "pyproject.toml"
    text = path.read_text(encoding="utf-8")
    section = contracts(mapping, moved)
    start = text.find("[tool.importlinter]")
    if start == -1:
        text = text.rstrip() + "\n\n" + section
    else:
        end = text.find("\n[tool.", start + 1)
        while end != -1 and text.startswith("\n[tool.importlinter", end):
            end = text.find("\n[tool.", end + 1)
        text = text[:start] + section + (text[end + 1:] if end != -1 else "")
    path.write_text(text.rstrip() + "\n", encoding="utf-8")


# -- running ------------------------------------------------------------------------------------

def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="say what would move; change nothing")
    parser.add_argument("--contracts", action="store_true", help="only write the import-linter contracts")
    args = parser.parse_args(argv)

    moves, unknown = plan()
    done = not moves and all(new in current_modules() for new in MAPPING.values())
    if args.contracts:
        write_contracts(MAPPING, moved=done)
        print(f"contracts written for the {'new' if done else 'current'} layout")
        return 0
    for old, new in sorted(moves.items()):
        print(f"move {old} -> {new}")
    for name in unknown:
        print(f"UNKNOWN {name}: add it to MAPPING (or KEEP) in tools/relayer.py", file=sys.stderr)
    missing = sorted(old for old in MAPPING if old not in moves and MAPPING[old] not in current_modules())
    for name in missing:
        print(f"note: {name} is in MAPPING but not in the tree (removed or renamed on main?)", file=sys.stderr)
    if unknown:
        print(f"{len(unknown)} module(s) not in the tables: nothing changed", file=sys.stderr)
        return 2
    if args.check:
        return 0
    if not moves:
        print("nothing to move")
        write_contracts(MAPPING, moved=True)
        return 0
    if git("status", "--porcelain", "--untracked-files=no").strip():
        print("the work tree has uncommitted changes: commit them first", file=sys.stderr)
        return 2

    modules = current_modules()
    known = set(modules) | set(MAPPING.values())
    # 1. rewrite every file in place, each relative to its own old and new name
    files = sorted({p for d in CODE_DIRS if (ROOT / d).exists() for p in (ROOT / d).rglob("*.py")
                    if ".venv" not in p.parts and p.relative_to(ROOT).as_posix() not in NOT_REWRITTEN})
    for path in files:
        old = module_name(path) if path.relative_to(ROOT).parts[0] == PACKAGE else None
        new = moves.get(old, old) if old else None
        text = rewrite_python(path, old, new, moves, known)
        if text != path.read_text(encoding="utf-8"):
            path.write_text(text, encoding="utf-8")
    for name in TEXT_FILES:
        path = ROOT / name
        if path.exists():
            text = path.read_text(encoding="utf-8")
            new_text = rewrite_text(text, moves)
            if new_text != text:
                path.write_text(new_text, encoding="utf-8")
    # 2. the layer packages, each with its job as the docstring
    for layer, job in LAYERS:
        init = ROOT / PACKAGE / layer / "__init__.py"
        if not init.exists():
            init.parent.mkdir(exist_ok=True)
            init.write_text(f'"""{_wrap(job)}"""\n', encoding="utf-8")
            git("add", str(init.relative_to(ROOT)))
    # 3. the moves themselves (content already rewritten, so git sees renames)
    for old, new in sorted(moves.items()):
        git("mv", str(modules[old].relative_to(ROOT)), str(module_path(new).relative_to(ROOT)))
    write_contracts(MAPPING, moved=True)
    print(f"moved {len(moves)} modules; now run: lint-imports, ruff check, pytest")
    return 0


def _wrap(text: str, width: int = 96) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
