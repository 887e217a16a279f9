"""`crm-tui serve`: the same app in a web browser, through textual-serve (an optional extra)."""

from __future__ import annotations

import shlex
import sys

from .errors import CrmError


def serve_command(db_path: str) -> str:
    """The command textual-serve runs for each browser session."""
    return f"{shlex.quote(sys.executable)} -m crm_tui.cli --db {shlex.quote(str(db_path))}"


def serve(db_path: str, host: str = "127.0.0.1", port: int = 8000) -> int:
    try:
        from textual_serve.server import Server
    except ImportError:
        raise CrmError("browser mode needs textual-serve: pip install 'crm-tui[serve]'") from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {host}: anyone who can reach this address can use your CRM", file=sys.stderr)
    else:
        print(f"serving on http://{host}:{port} (this machine only; --host to change)", file=sys.stderr)
    Server(serve_command(db_path), host=host, port=port, title="crm-tui").serve()
    return 0
