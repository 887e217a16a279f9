"""Browser mode: `crm-tui serve` serves the app on this machine only, unless told otherwise."""

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from crm_tui.serve import serve_command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port`, read from /proc (no traffic sent)."""
    path = "/proc/net/tcp"
    try:
        lines = open(path).read().splitlines()[1:]
    except OSError:
        pytest.skip("no /proc/net/tcp on this system")
    found = set()
    for line in lines:
        local, state = line.split()[1], line.split()[3]
        address, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_serve_command_runs_this_app_on_the_same_database(tmp_path):
    command = serve_command(str(tmp_path / "my crm.db"))
    assert "-m crm_tui.cli --db" in command and "'" in command  # the path is quoted for the shell


def test_serve_binds_localhost_and_answers(db_path):
    pytest.importorskip("textual_serve")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "crm_tui.cli", "--db", str(db_path), "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        body = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    body = response.read().decode()
                    break
            except OSError:
                time.sleep(0.1)
        assert body is not None and "crm-tui" in body
        assert listening_addresses(port) == {"127.0.0.1"}  # this machine only
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert "this machine only" in err


def test_serve_without_textual_serve_says_how_to_get_it(db_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_textual_serve(name, *args, **kwargs):
        if name.startswith("textual_serve"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_textual_serve)
    from crm_tui.cli import main

    assert main(["--db", str(db_path), "serve"]) == 2
    assert "pip install 'crm-tui[serve]'" in capsys.readouterr().err
