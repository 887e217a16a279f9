"""`crm-tui serve`: the same app in a web browser, through textual-serve (an optional extra).

A browser session drives the whole CRM, so every connection (the page, its scripts, the websocket
that carries the keys, downloads) is checked before textual-serve sees it:

- a token (`secrets.token_urlsafe`, new at every start) must come with it: in the URL printed at
  start (`?token=...`), or in the cookie the page sets when opened with it (HttpOnly, SameSite=Strict,
  named after the port); without it the answer is 403 and nothing else;
- the Host header must name this server (on loopback: 127.0.0.1, localhost or [::1] with our port),
  which defeats DNS rebinding;
- an Origin header, when the browser sends one (always for a websocket), must be this server's own
  origin: a page of any other site open in the same browser can neither read nor drive the CRM;
- binding anything but loopback needs `--public`, and says what that means.
"""

from __future__ import annotations

import secrets
import shlex
import sys
import socket

from ..domain.errors import CrmError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
COOKIE = "crm_tui_token_{port}"


def serve_command(db_path: str) -> str:
    """The command textual-serve runs for each browser session."""
    return f"{shlex.quote(sys.executable)} -m crm_tui.cli.main --db {shlex.quote(str(db_path))}"


def _host_names(host: str, port: int, public: bool) -> set[str] | None:
    """The Host header values this server answers to; None means any (a public server is reached
    by names it cannot know; the token still guards it)."""
    if public:
        return None
    names = {"127.0.0.1", "localhost", "[::1]"}
    if host not in LOOPBACK:
        names.add(host)
    out = {f"{name}:{port}" for name in names}
    if port == 80:
        out |= names
    return out


def check_request(headers, query, cookies, *, token: str, port: int, hosts: set[str] | None) -> str | None:
    """Why this request is refused, or None when it may go through. Plain values in, so that the
    rule is tested without a server."""
    host = headers.get("Host", "")
    if not host or (hosts is not None and host.lower() not in hosts):
        return "unknown Host"
    origin = headers.get("Origin")
    if origin is not None and origin.lower() not in (f"http://{host.lower()}", f"https://{host.lower()}"):
        return "foreign Origin"
    given = query.get("token") or cookies.get(COOKIE.format(port=port)) or ""
    if not secrets.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode()):
        return "no token (open the URL crm-tui serve printed, with its ?token=)"
    return None


def make_server(db_path: str, host: str, port: int, token: str, public: bool = False):
    """The textual-serve Server with the checks above in front of every route."""
    try:
        from textual_serve.server import Server  # lazy: the optional serve extra
    except ImportError:
        raise CrmError("browser mode needs textual-serve: pip install 'crm-tui[serve]'") from None
    import aiohttp_jinja2  # lazy: the optional serve extra
    from aiohttp import web  # lazy: the optional serve extra

    hosts = _host_names(host, port, public)
    cookie = COOKIE.format(port=port)

    @web.middleware
    async def guard(request, handler):
        refused = check_request(request.headers, request.query, request.cookies, token=token, port=port, hosts=hosts)
        if refused is not None:
            return web.Response(status=403, text=f"forbidden: {refused}\n")
        response = await handler(request)
        if isinstance(response, web.Response) and not response.prepared:
            if request.query.get("token"):
                response.set_cookie(cookie, token, httponly=True, samesite="Strict", path="/")
            response.headers.setdefault("Referrer-Policy", "no-referrer")  # the token stays out of Referer
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    class GuardedServer(Server):
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(guard)
            return app

        async def handle_index(self, request):
            # The page's own URLs are built from the Host it was asked by (already checked), not
            # from the bind address: a server bound to 0.0.0.0 must not send the browser there.
            base = f"{request.scheme}://{request.host}"
            router = request.app.router
            font_size = request.query.get("fontsize", "16")
            context = {
                "font_size": int(font_size) if font_size.isdigit() else 16,
                "app_websocket_url": ("wss:" if base.startswith("https") else "ws:")
                + base.split(":", 1)[1] + str(router["websocket"].url_for()),
                "config": {"static": {"url": base + str(router["static"].url_for(filename="/")).rstrip("/") + "/"}},
                "application": {"name": self.title},
            }
            return aiohttp_jinja2.render_template("app_index.html", request, context)

        async def on_startup(self, app) -> None:  # textual-serve's banner would print the URL without the token
            pass

    return GuardedServer(serve_command(db_path), host=host, port=port, title="crm-tui")


def serve(db_path: str, host: str = "127.0.0.1", port: int = 8000, public: bool = False) -> int:
    if host not in LOOPBACK and not public:
        raise CrmError(f"--host {host} would let other machines reach your CRM: add --public to mean it "
                       "(a token is still needed), or leave --host out for this machine only")
    token = secrets.token_urlsafe(32)
    server = make_server(db_path, host, port, token, public)
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = socket.gethostname()
    if host in LOOPBACK:
        print(f"serving on this machine only: open http://{shown}:{port}/?token={token}", file=sys.stderr)
    else:
        print(f"warning: serving on {host} (--public): anyone who can reach this address and has the token "
              f"can use your CRM, over plain HTTP", file=sys.stderr)
        print(f"open http://{shown}:{port}/?token={token}", file=sys.stderr)
    print("the token changes at every start; press ctrl+c to stop", file=sys.stderr, flush=True)
    server.serve()
    return 0
