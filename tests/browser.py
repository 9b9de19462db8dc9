"""A headless Chromium driven over the DevTools protocol, for the real-browser tests.

Debian's ``chromium`` package (``make test`` installs it when missing); never a browser
download. One small synchronous CDP client over a websocket: enough to open a page, wait for
a condition, evaluate JavaScript, watch every network request and take screenshots.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from websockets.sync.client import ClientConnection, connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

#: Flags for a quiet, isolated, offline-friendly browser (no background calls home).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
    "--window-size=1400,1000",
)


class BrowserError(AssertionError):
    """The page did not do what the test waited for (message says what, and where)."""


class Page:
    """One tab: send CDP commands, collect events (requests, console, exceptions)."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.console: list[str] = []
        self.exceptions: list[str] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=60))
            if message.get("id") == message_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            self.failed.append(params.get("errorText", ""))
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.console.append(f"{params.get('type')}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.exceptions.append(details.get("exception", {}).get("description") or details.get("text", ""))
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            self.console.append(f"{entry.get('level')}: {entry.get('text')}")

    def pump(self, seconds: float) -> None:
        """Read events for a while (requests made by timers, late console messages)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self._event(json.loads(self._socket.recv(timeout=left)))
            except TimeoutError:
                return

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited), as JSON."""
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll until ``expression`` is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except BrowserError:  # the page is still navigating (no document.body yet)
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(
                    f"timed out waiting for {expression!r}; console: {self.console[-5:]}; "
                    f"exceptions: {self.exceptions[-3:]}"
                )
            self.pump(0.1)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def off_host(self, origin: str) -> list[str]:
        """Requests that left ``origin`` (data: and blob: URLs are in-page, not network)."""
        host = urlsplit(origin).netloc
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != host
        ]


@contextmanager
def chromium() -> Iterator[Page]:
    """A fresh headless Chromium (own profile directory) with one page, closed afterwards."""
    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed (make test installs Debian's package)")
    with tempfile.TemporaryDirectory(prefix="tppo-chromium-") as profile:
        process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port = _devtools_port(Path(profile), process)
            targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
            page_target = next(t for t in targets if t.get("type") == "page")
            with connect(page_target["webSocketDebuggerUrl"], max_size=64 * 2**20) as socket:
                page = Page(socket)
                for domain in ("Page", "Runtime", "Network", "Log"):
                    page.send(f"{domain}.enable")
                yield page
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop Chromium and every process it started, before its profile directory is removed.

    Chromium's renderer and utility processes outlive the browser process for a moment and
    keep writing to the profile (``Default/``): removing the directory as soon as the browser
    process had exited failed once in CI with "Directory not empty". Chromium runs in its own
    session, so the whole process group is signalled and awaited.
    """
    group = process.pid
    _signal_group(group, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        _signal_group(group, signal.SIGKILL)
        process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _alive_in_group(group):
        if time.monotonic() > deadline:
            _signal_group(group, signal.SIGKILL)
            deadline = time.monotonic() + 10
        time.sleep(0.05)


def _signal_group(group: int, signum: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(group, signum)


def _alive_in_group(group: int) -> bool:
    """Whether a process of ``group`` still runs (zombies, which write nothing, do not count).

    Read from /proc because a signal 0 also reaches zombies that nobody has reaped yet.
    """
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while being read
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state not in ("Z", "X"):
            return True
    return False


def _devtools_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    """Chromium writes the port it chose to DevToolsActivePort in its profile directory."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with status {process.returncode}")
        if marker.exists():
            lines = marker.read_text().splitlines()
            if lines and lines[0].isdigit():
                return int(lines[0])
        time.sleep(0.05)
    raise RuntimeError("chromium did not open its DevTools port")
