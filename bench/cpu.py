"""CPU seconds per call, of this process and of a local PostgreSQL server's processes.

On a shared 2-core machine wall-clock ratios move with whatever else runs (RESULTS.md's
statistics ratio went from 2.0× to 2.9× between two runs of the same code an hour apart); the
CPU each side spends does not depend on who else waits for the cores. So §4 reports, beside the
wall-clock medians, the mean CPU a query costs: this process (the hub's Python, or the direct
SQL's driver and dict work; on SQLite the database too, its threads are this process's) and,
for a PostgreSQL server on this machine, its backends (every child of the postmaster named in
the data directory's ``postmaster.pid``, read from ``/proc``). Pooled connections keep their
backends alive across calls, so a backend's counters cover every call it served.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_stat(pid: int, proc: Path = Path("/proc")) -> tuple[int, float] | None:
    """``(parent pid, user + system CPU seconds)`` of ``pid`` from ``/proc/<pid>/stat``, or None
    when it is gone or unreadable. The command name may hold spaces and parentheses: the fields
    after its last ``)`` are counted from there (state, ppid, …, utime is the 12th, stime 13th)."""
    try:
        text = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    try:
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS
    except (IndexError, ValueError):
        return None


class ServerCPU:
    """The CPU seconds used so far by the children of one postmaster (its backends)."""

    def __init__(self, postmaster: int, proc: Path = Path("/proc")) -> None:
        self.postmaster, self.proc = postmaster, proc

    @classmethod
    def of_data_directory(cls, data_directory: str | Path, proc: Path = Path("/proc")) -> ServerCPU | None:
        """The server whose ``postmaster.pid`` is in ``data_directory``, if it runs here."""
        try:
            first = (Path(data_directory) / "postmaster.pid").read_text().split("\n", 1)[0]
            pid = int(first.strip())
        except (OSError, ValueError):
            return None
        return cls(pid, proc) if process_stat(pid, proc) is not None else None

    def seconds(self) -> float:
        """User + system CPU of every current child of the postmaster."""
        total = 0.0
        for entry in self.proc.iterdir():
            if not entry.name.isdigit():
                continue
            stat = process_stat(int(entry.name), self.proc)
            if stat is not None and stat[0] == self.postmaster:
                total += stat[1]
        return total


async def postgres_server(fetch: Callable[[str], Awaitable[list[Any]]]) -> ServerCPU | None:
    """The local server behind a connection (``fetch`` runs one SQL text), if its data
    directory can be read here; None for a server elsewhere or without the right to ask."""
    try:
        rows = await fetch("SELECT current_setting('data_directory')")
    except Exception:  # a diagnostic only: any refusal means "not measured"
        return None
    return ServerCPU.of_data_directory(str(rows[0][0])) if rows else None


async def per_call(
    call: Callable[[], Awaitable[Any]], runs: int, server: ServerCPU | None
) -> tuple[float, float | None]:
    """Mean CPU seconds of ``runs`` calls one after another: this process's, and the server's
    (None without one)."""
    process = database = 0.0
    for _ in range(runs):
        before_db = server.seconds() if server is not None else 0.0
        before = time.process_time()
        await call()
        process += time.process_time() - before
        if server is not None:
            database += server.seconds() - before_db
    return process / runs, (database / runs if server is not None else None)
