"""Benchmark: launching the app, to the first frame of the contacts index, vs a bare Textual app.

    python benchmarks/bench_app.py DB_PATH [--quick]

`run(db_path, quick)` returns [{"name": "app_first_paint", "value": ms, "unit": "ms",
"baseline": ms, "ratio": value / baseline, "target": 1.5}].

Both programs are launched the same way: a new Python process in a pseudo-terminal of 120x40
(`crm-tui --db DB_PATH`, and `python benchmarks/bare_app.py`: Header, Static, Footer), with a fresh
config directory, and the bytecode of every module cached as an installed package has it. The
time runs from the launch until the terminal has received the first frame
that shows what the user came for: for the app, the contacts index with its record count
("1,000,000 records") and its first row; for the bare app, its Static's text. Nothing in the app
is instrumented: the figure is what a terminal sees. Runs alternate with the baseline and the
figure is the median, as these shared machines are noisy.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import fcntl
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WIDTH, HEIGHT = 120, 40
TIMEOUT = 60.0


def index_markers(db_path: Path) -> list[bytes]:
    """What the first index frame must show: the record count and the first row's first cell."""
    from crm_tui.services.core import Crm
    from crm_tui.services.paging import ViewPager, ViewSpec
    from crm_tui.services.views import Views

    with Crm.open(db_path) as crm:
        view = Views(crm).default("contacts")
        pager = ViewPager(crm, ViewSpec("contacts", view.columns, view.filters, view.sort))
        count = pager.count()
        rows = pager.fetch(0, 1)
    markers = [f"{count:,} record".encode()]
    if rows:
        cells = [str(c) for c in rows[0][1] if c not in (None, "")]
        if cells:
            markers.append(cells[0][:10].encode())
    return markers


def launch(command: list[str], markers: list[bytes], env: dict) -> float:
    """ms from the launch until every marker has been written to the terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
                            close_fds=True)
    os.close(slave)
    seen = b""
    try:
        deadline = start + TIMEOUT
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError(f"{command[0]}: no frame with {markers} within {TIMEOUT:.0f} s")
            ready, _, _ = select.select([master], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                raise RuntimeError(f"{command[0]} ended before its first frame: {seen[-400:]!r}")
            seen += chunk
            if all(m in seen for m in markers):
                return (time.perf_counter() - start) * 1000
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        os.close(master)


def measure(db_path: Path, repeats: int) -> tuple[list[float], list[float]]:
    exe = Path(sys.executable).with_name("crm-tui")
    app_cmd = ([str(exe)] if exe.exists() else [sys.executable, "-m", "crm_tui.cli.main"]) + ["--db", str(db_path)]
    bare_cmd = [sys.executable, str(ROOT / "benchmarks" / "bare_app.py")]
    markers = index_markers(db_path)
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEXTUAL", "CRM_TUI"))}
        env.update(TERM="xterm-256color", COLORTERM="truecolor", XDG_CONFIG_HOME=str(Path(home) / "config"),
                   XDG_DATA_HOME=str(Path(home) / "data"), PYTHONPATH=str(ROOT))
        env.pop("NO_COLOR", None)
        # As installed (pip compiles every module when it installs), not recompiling the app's own
        # modules from source on every launch: the warm-up launches below write their bytecode.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        launch(bare_cmd, [b"bare app ready"], env)  # warm-up: the file cache for both
        launch(app_cmd, markers, env)
        app_times, bare_times = [], []
        for _ in range(repeats):
            bare_times.append(launch(bare_cmd, [b"bare app ready"], env))
            app_times.append(launch(app_cmd, markers, env))
    return app_times, bare_times


def run(db_path, quick: bool) -> list[dict]:
    app_times, bare_times = measure(Path(db_path), 3 if quick else 9)
    value, baseline = statistics.median(app_times), statistics.median(bare_times)
    return [{"name": "app_first_paint", "value": round(value, 1), "unit": "ms", "baseline": round(baseline, 1),
             "ratio": round(value / baseline, 3) if baseline else None, "target": 1.5,
             "note": "launch to the first frame of the contacts index vs a bare Textual app, in a pty"}]


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit("usage: python benchmarks/bench_app.py DB_PATH [--quick]")
    app_times, bare_times = measure(Path(args[0]), 3 if "--quick" in sys.argv else 9)
    print("app ", [round(t) for t in app_times])
    print("bare", [round(t) for t in bare_times])
    a, b = statistics.median(app_times), statistics.median(bare_times)
    print(f"app_first_paint {a:.1f} ms, bare {b:.1f} ms, ratio {a / b:.2f}")
