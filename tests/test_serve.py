"""Browser mode: `crm-tui serve` serves the app on this machine only unless told otherwise, and only
to a browser that holds the token it printed at start; other sites' pages get nothing."""

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

from crm_tui.services.core import Crm
from crm_tui.shell.serve import check_request, serve_command


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


class Served:
    def __init__(self, proc, port: int, token: str, err_lines: list[str]):
        self.proc, self.port, self.token, self.err_lines = proc, port, token, err_lines

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`crm-tui serve` in its own process on a database with two contacts."""
    pytest.importorskip("textual_serve")
    home = tmp_path_factory.mktemp("serve")
    db = home / "crm.db"
    with Crm.open(db) as crm:
        crm.records.create("contacts", {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.org"})
        crm.records.create("contacts", {"firstname": "Grace", "lastname": "Hopper", "email": "grace@example.org"})
    env = dict(os.environ, XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "crm_tui.cli.main", "--db", str(db), "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    token = None
    try:
        deadline = time.monotonic() + 20
        while token is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"\?token=([A-Za-z0-9_-]+)", line)
            token = found.group(1) if found else None
        assert token, f"no URL with a token printed: {lines}"
        while not listening_addresses(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield Served(proc, port, token, lines)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_serve_command_runs_this_app_on_the_same_database(tmp_path):
    command = serve_command(str(tmp_path / "my crm.db"))
    assert "-m crm_tui.cli.main --db" in command and "'" in command  # the path is quoted for the shell


def test_serve_binds_localhost_only_and_prints_a_token_url(served):
    assert listening_addresses(served.port) == {"127.0.0.1"}  # this machine only
    text = "".join(served.err_lines)
    assert "this machine only" in text
    assert f"http://127.0.0.1:{served.port}/?token={served.token}" in text
    assert len(served.token) >= 40  # token_urlsafe(32)
    with urllib.request.urlopen(f"{served.origin}/?token={served.token}", timeout=5) as response:
        body = response.read().decode()
        assert "crm-tui" in body and "textual-terminal" in body
        assert "HttpOnly" in response.headers["Set-Cookie"] and "SameSite=Strict" in response.headers["Set-Cookie"]


async def _status(session, url, headers=None) -> int:
    async with session.get(url, headers=headers or {}, allow_redirects=False) as response:
        return response.status


async def _websocket_refused(session, url, headers) -> int | None:
    """The HTTP status a websocket handshake was refused with (None when it was accepted)."""
    import aiohttp

    try:
        async with session.ws_connect(url, headers=headers) as ws:
            await ws.close()
            return None
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status


async def test_nothing_is_served_without_the_token_or_to_another_origin(served):
    import aiohttp

    base, token = served.origin, served.token
    own = {"Origin": base}
    evil = {"Origin": "http://evil.example"}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:  # unsafe: IP hosts
        # without the token: neither the page, nor its script, nor the websocket
        assert await _status(session, f"{base}/") == 403
        assert await _status(session, f"{base}/?token=wrong{token[5:]}") == 403
        assert await _status(session, f"{base}/static/js/textual.js") == 403
        assert await _status(session, f"{base}/download/anything") == 403
        assert await _websocket_refused(session, f"ws://127.0.0.1:{served.port}/ws?width=80&height=24", own) == 403
        # another site's page, even with the token (leaked or guessed): refused
        assert await _status(session, f"{base}/?token={token}", evil) == 403
        assert await _websocket_refused(session, f"ws://127.0.0.1:{served.port}/ws?token={token}", evil) == 403
        assert await _websocket_refused(session, f"ws://127.0.0.1:{served.port}/ws?token={token}",
                                        {"Origin": "null"}) == 403
        # DNS rebinding: a foreign name resolving to 127.0.0.1 is not this server
        assert await _status(session, f"{base}/?token={token}", {"Host": f"evil.example:{served.port}"}) == 403
        # the rightful page: the token in the URL, or the cookie it set
        assert await _status(session, f"{base}/?token={token}", own) == 200
        assert await _status(session, f"{base}/static/js/textual.js") == 200  # the session's cookie now
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        session.cookie_jar.update_cookies({f"crm_tui_token_{served.port}": token})
        assert await _status(session, f"{base}/static/js/textual.js") == 200


def test_request_rules_without_a_server():
    ok = {"Host": "127.0.0.1:8000"}
    hosts = {"127.0.0.1:8000", "localhost:8000", "[::1]:8000"}
    rule = dict(token="secret-token", port=8000, hosts=hosts)
    assert check_request(ok, {"token": "secret-token"}, {}, **rule) is None
    assert check_request(ok, {}, {"crm_tui_token_8000": "secret-token"}, **rule) is None
    assert check_request(ok, {}, {"crm_tui_token_9000": "secret-token"}, **rule)  # another port's cookie
    assert check_request(ok, {"token": "secret-tokeN"}, {}, **rule)
    assert check_request({**ok, "Origin": "http://127.0.0.1:8000"}, {"token": "secret-token"}, {}, **rule) is None
    assert check_request({**ok, "Origin": "http://127.0.0.1:8001"}, {"token": "secret-token"}, {}, **rule)
    assert check_request({}, {"token": "secret-token"}, {}, **rule)  # no Host at all
    # --public: any name reaches it, the token and same-origin rule still hold
    public = dict(rule, hosts=None)
    assert check_request({"Host": "crm.lan:8000"}, {"token": "secret-token"}, {}, **public) is None
    assert check_request({"Host": "crm.lan:8000"}, {}, {}, **public)
    assert check_request({"Host": "crm.lan:8000", "Origin": "http://evil.example"}, {"token": "secret-token"}, {},
                         **public)


def test_binding_beyond_loopback_needs_public(db_path, capsys):
    from crm_tui.cli.main import main

    assert main(["--db", str(db_path), "serve", "--host", "0.0.0.0", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err.strip()
    assert "--public" in err and "\n" not in err


def test_serve_without_textual_serve_says_how_to_get_it(db_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_textual_serve(name, *args, **kwargs):
        if name.startswith("textual_serve"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_textual_serve)
    from crm_tui.cli.main import main

    assert main(["--db", str(db_path), "serve"]) == 2
    assert "pip install 'crm-tui[serve]'" in capsys.readouterr().err


# -- a real browser ---------------------------------------------------------------------------------

# Installed before the page's own scripts: keeps what the terminal websocket receives, as text, so
# that the test reads what the browser was sent to draw (xterm draws on a canvas).
RECORD_SCREEN = """
(() => {
  window.__screen = "";
  const decoder = new TextDecoder();
  const Native = window.WebSocket;
  window.WebSocket = function (url, protocols) {
    const socket = protocols === undefined ? new Native(url) : new Native(url, protocols);
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") window.__screen += decoder.decode(event.data, {stream: true});
    });
    window.__socket = socket;
    return socket;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})();
"""


def find_chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = "/usr/bin/chromedriver"
    if browser and os.path.exists(driver):
        return browser, driver
    return None


class DevTools:
    """A tiny client of the Chrome DevTools protocol over aiohttp (already there with textual-serve)."""

    def __init__(self, ws):
        self.ws, self.next_id = ws, 0

    async def call(self, method: str, **params):
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self.ws.receive_json(), 60)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def wait_for_text(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = await self.evaluate("window.__screen || ''") or ""
            if text in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen):
                return screen
            await asyncio.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared in the browser; last 500 characters: {screen[-500:]!r}")

    async def press(self, char: str) -> None:
        """Type one character into the focused terminal, as a keyboard does (keydown with its text)."""
        await self.call("Input.dispatchKeyEvent", type="keyDown", text=char, unmodifiedText=char, key=char)
        await self.call("Input.dispatchKeyEvent", type="keyUp", key=char)


async def open_browser(url: str):
    """Headless chromium with a DevTools port; returns (process, DevTools of its page, aiohttp session)."""
    import aiohttp

    found = find_chromium()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and /usr/bin/chromedriver are missing: .ci/run installs them (apt-get)")
        pytest.skip("no chromium here (apt-get install chromium chromium-driver)")
    browser, _driver = found
    profile = tempfile.mkdtemp(prefix="crm-tui-chromium-")
    proc = subprocess.Popen([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--disable-extensions", "--disable-background-networking", "--disable-sync",
                             "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1000,700",
                             "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    endpoint = None
    while endpoint is None and time.monotonic() < deadline:
        line = await asyncio.to_thread(proc.stderr.readline)
        if not line:
            break
        found = re.search(r"DevTools listening on (ws://\S+)", line)
        endpoint = found.group(1) if found else None
    assert endpoint, "chromium did not start its DevTools endpoint"
    http = endpoint.replace("ws://", "http://").split("/devtools/")[0]
    session = aiohttp.ClientSession()
    async with session.get(f"{http}/json/list") as response:
        pages = [t for t in await response.json() if t["type"] == "page"]
    ws = await session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0)
    tools = DevTools(ws)
    await tools.call("Page.enable")
    await tools.call("Page.addScriptToEvaluateOnNewDocument", source=RECORD_SCREEN)
    await tools.call("Page.navigate", url=url)
    return proc, tools, session, profile


async def close_browser(proc, session, profile) -> None:
    await session.close()
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(profile, ignore_errors=True)


async def test_in_a_real_browser_the_token_url_shows_the_contacts_and_takes_keys(served):
    proc, tools, session, profile = await open_browser(f"{served.origin}/?token={served.token}")
    try:
        await tools.wait_for_text("Lovelace")  # the contacts index, drawn in the browser
        await tools.wait_for_text("Hopper")
        await tools.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
        await tools.press("?")  # help lists the index screen's keys
        await tools.wait_for_text("index.bulk_associate")  # the help screen, listing binding ids (its first row)
    finally:
        await close_browser(proc, session, profile)


async def test_in_a_real_browser_without_the_token_nothing_is_served(served):
    proc, tools, session, profile = await open_browser(f"{served.origin}/")
    try:
        await asyncio.sleep(0.5)
        for _ in range(50):
            body = await tools.evaluate("document.body ? document.body.innerText : ''")
            if body:
                break
            await asyncio.sleep(0.1)
        assert "forbidden" in body
        assert not await tools.evaluate("!!document.querySelector('.textual-terminal')")
        assert await tools.evaluate("window.__screen") == ""
    finally:
        await close_browser(proc, session, profile)
