"""bench/cpu.py: CPU per call from /proc, parsed as the kernel writes it (no timing asserted)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from bench import cpu

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(proc: Path, pid: int, name: str, ppid: int, utime: int, stime: int) -> None:
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
    fields = ["S", str(ppid), "1", "1", "0", "-1", "4194304", "10", "0", "0", "0", str(utime), str(stime)]
    (proc / str(pid)).mkdir(parents=True)
    (proc / str(pid) / "stat").write_text(f"{pid} ({name}) {' '.join(fields)} 0 0 20 0 1 0\n")


def test_a_command_name_with_spaces_and_parentheses_is_skipped_whole(tmp_path: Path) -> None:
    _stat(tmp_path, 7, "postgres: tppo db (x) idle", 3, 250, 50)
    assert cpu.process_stat(7, tmp_path) == (3, 300 / TICKS)
    assert cpu.process_stat(8, tmp_path) is None  # gone


def test_server_cpu_sums_the_postmasters_children_only(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    _stat(proc, 100, "postgres", 1, 9_000, 9_000)  # the postmaster itself: not a backend
    _stat(proc, 101, "postgres: backend", 100, 30, 10)
    _stat(proc, 102, "postgres: walwriter", 100, 5, 5)
    _stat(proc, 200, "python", 1, 700, 0)  # another process
    (proc / "self").mkdir()
    data = tmp_path / "data"
    data.mkdir()
    (data / "postmaster.pid").write_text("100\n/data\n")
    server = cpu.ServerCPU.of_data_directory(data, proc)
    assert server is not None and server.postmaster == 100
    assert server.seconds() == 50 / TICKS
    (data / "postmaster.pid").write_text("999\n")  # a stale file: no such process here
    assert cpu.ServerCPU.of_data_directory(data, proc) is None
    assert cpu.ServerCPU.of_data_directory(tmp_path / "elsewhere", proc) is None


def test_per_call_measures_this_process_and_reads_the_server_around_each_call(tmp_path: Path) -> None:
    readings = iter([1.0, 1.5, 2.0, 2.25])

    class Server(cpu.ServerCPU):
        def seconds(self) -> float:
            return next(readings)

    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        sum(range(20_000))  # some CPU of this process

    process, database = asyncio.run(cpu.per_call(call, 2, Server(1, tmp_path)))
    assert calls == 2 and database == (0.5 + 0.25) / 2 and process >= 0
    assert asyncio.run(cpu.per_call(call, 1, None))[1] is None
