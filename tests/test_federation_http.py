"""Against a real server process: the graphql-http audit, Apollo Federation composition and gateway.

The Node tools (npm packages graphql-http, @apollo/composition, @apollo/gateway, @apollo/server)
are installed by ``make test`` into tests/js (``npm ci``); the hub runs as ``tppo-hub serve``
on a free loopback port.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.prerequisites import require

JS = Path(__file__).resolve().parent / "js"
NODE = shutil.which("node")


@pytest.fixture(scope="module", autouse=True)
def _node_tools() -> None:
    """Node and the npm tools are prerequisites: missing, they fail the run (tests/prerequisites.py)."""
    require("node", NODE is not None, "node is not on PATH (Debian: apt-get install nodejs npm)")
    require(
        "node",
        (JS / "node_modules" / "graphql-http").exists(),
        "the npm tools are not installed in tests/js (make js-deps runs npm ci)",
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(demo_dir: Path) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub.server.cli",
            "serve",
            "--config",
            str(demo_dir / "hub.toml"),
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        # Readiness, not speed: the hub is awaited until it answers /readyz or exits; the cap only
        # stops a hung start (a loaded machine takes tens of seconds to import and open sources).
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError(f"hub did not start (exit code {process.poll()})")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def node(script: str, *args: str, stdin: str | None = None) -> Any:
    done = subprocess.run(
        [NODE or "node", str(JS / script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_graphql_http_audit_passes_every_must_and_should(server_url: str) -> None:
    results = node("audit.mjs", server_url)
    assert len(results) > 50
    failing = [(r["name"], r["reason"]) for r in results if r["status"] != "ok"]
    assert failing == []


def test_subgraph_composes_with_apollo_composition(server_url: str) -> None:
    sdl = httpx.post(server_url, json={"query": "{ _service { sdl } }"}).json()["data"]["_service"]["sdl"]
    composed = node("compose.mjs", server_url, stdin=sdl)
    assert "errors" not in composed, composed
    assert "join__type" in composed["supergraph"] and "Case" in composed["supergraph"]


def test_an_idle_keep_alive_connection_outlives_a_client_pause(server_url: str) -> None:
    """The server keeps an idle keep-alive connection open longer than clients and proxies keep
    theirs (hub/server/cli.py ``KEEP_ALIVE_SECONDS``): with uvicorn's default of 5 s, the
    gateway below sent its query into a socket the hub was closing ("socket hang up")."""
    from urllib.parse import urlsplit

    from hub.server.cli import KEEP_ALIVE_SECONDS

    assert KEEP_ALIVE_SECONDS >= 60
    address = urlsplit(server_url)
    body = b'{"query":"{ __typename }"}'
    request = (
        f"POST {address.path} HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(request)
        assert _response(conn).startswith(b"HTTP/1.1 200")
        time.sleep(6.5)  # past uvicorn's default idle timeout
        conn.setblocking(False)
        try:
            closed = conn.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            closed = False  # nothing to read and not closed: still open
        assert not closed
        conn.setblocking(True)
        conn.sendall(request)
        assert _response(conn).startswith(b"HTTP/1.1 200")


def _response(conn: socket.socket) -> bytes:
    """One whole HTTP/1.1 response (headers and a Content-Length body) from ``conn``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, "connection closed"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    headers = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
    length = int({k.strip().lower(): v for k, v in headers.items()}[b"content-length"])
    while len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, "connection closed"
        body += chunk
    return head + b"\r\n\r\n" + body


def test_queries_answer_through_a_real_federation_gateway(server_url: str) -> None:
    query = "{ cases(first: 3) { edges { node { id sourceKey agency { code name } victims { sex } } } } }"
    direct = httpx.post(server_url, json={"query": query}).json()
    through = node("gateway.mjs", server_url, query)
    assert through["errors"] == []
    assert through["data"] == direct["data"]


def test_several_workers_share_one_store(demo_dir: Path, tmp_path: Path) -> None:
    """uvicorn with 2 worker processes: both start (store tables created once), both answer."""
    config = tmp_path / "hub.toml"
    config.write_text(
        (demo_dir / "hub.toml").read_text().replace('url = "sqlite:///', f'url = "sqlite:///{demo_dir}/')
    )
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub.server.cli",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        answers = []
        # Start-up is two full imports and five sources opened per worker: seconds on a quiet
        # machine, minutes on a saturated one. The bound only stops a hung server; an exited
        # one fails at once with its log.
        deadline = time.monotonic() + 300
        while len(answers) < 12 and time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "serve.log").read_text(errors="replace")[-2000:]
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/graphql",
                    json={"query": "{ cases(first: 1) { totalCount } }"},
                    timeout=5,
                )
                answers.append(response.json()["data"]["cases"]["totalCount"])
            except (httpx.HTTPError, KeyError, ValueError):
                time.sleep(0.3)
        assert len(answers) == 12 and len(set(answers)) == 1 and answers[0] > 0
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
