"""The hub over HTTP for the benchmark: uvicorn on a loopback port, in a child process.

A child process, not a thread: on a 2-core machine a server thread would share the GIL with
the load generator, and the benchmark would measure the client as much as the hub. The child
builds the same configuration as the in-process hub (:func:`bench.data.hub_config`) and serves
:func:`hub.server.app.create_app` with uvicorn's defaults minus the access log (logging every request
is a deployment choice, not the hub's cost).

Run by :class:`HubServer`; ``python -m bench.server --dataset DIR --backend sqlite --port N``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class HubServer:
    """A hub served by uvicorn in a child process on 127.0.0.1 (a context manager)."""

    def __init__(self, dataset_dir: Path, backend: str, postgres_url: str | None = None) -> None:
        self.dataset_dir = dataset_dir
        self.backend = backend
        self.postgres_url = postgres_url
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}/graphql"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> None:
        """Spawn the server and wait until it answers ``/readyz``."""
        self.spawn()
        self.wait_ready(timeout)

    def spawn(self) -> None:
        """Start the child process without waiting (start several servers in parallel)."""
        args = [
            sys.executable,
            "-m",
            "bench.server",
            "--dataset",
            str(self.dataset_dir),
            "--backend",
            self.backend,
            "--port",
            str(self.port),
        ]
        if self.postgres_url:
            args += ["--postgres-url", self.postgres_url]
        root = Path(__file__).resolve().parent.parent
        path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        self._proc = subprocess.Popen(args, cwd=root, env=env, stdin=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 120.0) -> None:
        assert self._proc is not None, "spawn() first"
        deadline = time.monotonic() + timeout
        ready = f"http://{LOOPBACK}:{self.port}/readyz"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the hub server exited with code {self._proc.returncode}")
            try:
                if httpx.get(ready, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the hub server did not become ready in time")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=20)
        self._proc = None

    def __enter__(self) -> HubServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    import logging

    import uvicorn

    from bench.data import Dataset, hub_config
    from hub.server.app import create_app
    from hub.server.transport import PROTOCOL

    parser = argparse.ArgumentParser(prog="bench.server")
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--backend", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--postgres-url")
    args = parser.parse_args(argv)
    dataset = Dataset(args.dataset, 0, 0.0, {}, None, None, None)
    app = create_app(hub_config(dataset, args.backend, args.postgres_url))
    logging.basicConfig(level=logging.ERROR)
    uvicorn.run(
        app, host=LOOPBACK, port=args.port, log_level="error", access_log=False, lifespan="on", http=PROTOCOL
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
