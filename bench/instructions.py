"""Instructions per page under callgrind: the hub's CPU work counted, not timed (issue 13).

On a shared machine CPU seconds per page move ±15 % from run to run, more than most single
levers; the instructions the hub executes for a page do not (repeat runs agree within ~0.3 %).
So each lever of issue 13 was measured here, the peer bench (``python -m bench.postgraphile``)
judging the whole:

- ``python -m bench.instructions`` — ``Hub.execute`` of the portal page in one process, on the
  server's event loop (uvloop), with the server's collector settings;
- ``--loop asyncio`` — on asyncio's own loop (Python: it counts the loop's work too);
- ``--http`` — a whole ``serve`` process (uvicorn, httptools, the middlewares and the view)
  answering sequential requests from this process;
- ``--query`` — another operation (text), run as a known one (compiled plans on).

Instrumentation is switched on only around the measured pages (``callgrind_control``), after
warm-up pages, so start-up, imports and plans made once are not counted. System calls are not
instructions of the process: the kernel's share (sockets, epoll) is outside any count.

Needs valgrind (Debian: ``apt-get install valgrind``), which neither ``make test`` nor ``make
bench`` install or use: this is a development tool. It uses the peer bench's PostgreSQL data
(``--scale 22`` of the demo, the simfoni agency), set up as that bench sets it up.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import data
from bench import postgraphile as peer
from bench.server import LOOPBACK, free_port

WARM_UP = 30
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _valgrind(out: Path) -> list[str]:
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]


def _switch(pid: int, on: bool) -> None:
    state = "on" if on else "off"
    subprocess.run(["callgrind_control", "-i", state, str(pid)], capture_output=True, check=True)


def _collected(log: str) -> int:
    found = _COLLECTED.findall(log)
    if not found:
        raise RuntimeError(f"callgrind reported no count: {log.strip()[-500:]}")
    return int(found[-1])


# --- in one process ----------------------------------------------------------------------------


async def _pages(config: Path, query: str, pages: int) -> None:
    """The child: warm up, settle the heap as a server does, count ``pages`` executions."""
    from hub.engine.config import load_config
    from hub.server import heap
    from hub.server.app import Hub

    hub = Hub(load_config(config))
    await hub.start()
    try:
        for _ in range(WARM_UP):
            result = await hub.execute(query, {}, compiled=True)
        if result.errors:
            raise RuntimeError(f"the query fails: {result.errors[0].message}")
        heap.settle()
        _switch(os.getpid(), True)
        for _ in range(pages):
            await hub.execute(query, {}, compiled=True)
        _switch(os.getpid(), False)
    finally:
        await hub.stop()


def in_process(config: Path, query: str, pages: int, loop: str, work: Path) -> int:
    """Instructions per execution of ``query`` by ``Hub.execute``."""
    command = [
        *_valgrind(work / "callgrind.out"),
        sys.executable, "-m", "bench.instructions", "--child", str(config),
        "--pages", str(pages), "--loop", loop, "--query", query,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the measured process failed: {done.stderr.strip()[-800:]}")
    return _collected(done.stderr) // pages


# --- a server over HTTP ------------------------------------------------------------------------


def over_http(config: Path, query: str, pages: int, work: Path) -> int:
    """Instructions per sequential HTTP request to a one-process ``serve`` under callgrind."""
    port = free_port()
    log = work / "serve.log"
    command = [
        *_valgrind(work / "callgrind.out"),
        sys.executable, "-m", "hub.server.cli", "serve", "--config", str(config),
        "--host", LOOPBACK, "--port", str(port), "--workers", "1", "--log-level", "warning",
    ]  # fmt: skip
    with log.open("w") as sink:
        server = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        body = json.dumps({"query": query})
        connection = _connected(port, server)
        for _ in range(WARM_UP):
            _post(connection, body)
        _switch(server.pid, True)
        for _ in range(pages):
            _post(connection, body)
        _switch(server.pid, False)
        connection.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    return _collected(log.read_text()) // pages


def _connected(port: int, server: subprocess.Popen[bytes]) -> http.client.HTTPConnection:
    deadline = time.monotonic() + 300  # a server under valgrind starts ~50 times slower
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server under callgrind exited")
        try:
            connection = http.client.HTTPConnection(LOOPBACK, port, timeout=120)
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            return connection
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("the server under callgrind did not start")


def _post(connection: http.client.HTTPConnection, body: str) -> None:
    connection.request("POST", "/graphql", body, {"content-type": "application/json"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    if response.status != 200 or answer.get("errors"):
        raise RuntimeError(f"the query fails over HTTP: {str(answer)[:300]}")


# --- command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from hub.server.examples import PORTAL_LIST

    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=20, help="pages counted (default 20)")
    parser.add_argument("--query", default=PORTAL_LIST, help="the operation (default: the portal page)")
    parser.add_argument(
        "--loop", choices=["uvloop", "asyncio"], default="uvloop", help="the event loop in one process"
    )
    parser.add_argument("--http", action="store_true", help="count a serve process over HTTP instead")
    parser.add_argument("--data-dir", type=Path, default=data.DEFAULT_ROOT, help="where generated data lives")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:  # the measured process, started under valgrind by the parent
        run = asyncio.run
        if args.loop == "uvloop":
            import uvloop

            run = uvloop.run
        run(_pages(args.child, args.query, args.pages))
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("bench.instructions needs valgrind (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    dataset = data.ensure_dataset(args.data_dir, peer.Options().seed, peer.DEFAULT_SCALE, say=peer.say)
    pg = data.start_postgres(args.data_dir)
    try:
        url, _rows = peer.ensure_peer_data(pg, dataset)
        with tempfile.TemporaryDirectory(prefix="tppo-instructions-") as folder:
            work = Path(folder)
            config = peer.write_hub_config(work / "hub", url)
            if args.http:
                count = over_http(config, args.query, args.pages, work)
                what = "HTTP request (serve, uvloop)"
            else:
                count = in_process(config, args.query, args.pages, args.loop, work)
                what = f"page ({args.loop})"
    finally:
        data.stop_postgres(pg)
    print(f"{count:,} instructions per {what}, {args.pages} counted after {WARM_UP} warm-up")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
