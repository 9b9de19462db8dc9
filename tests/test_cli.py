"""The ``tppo-hub`` command line: clear one-line errors (exit 2), help and defaults, ``--version``,
``apikey`` without ``--id``, ``--config DIR``, the serve banner only once listening, and the
``link`` output (progress only when asked, the summary once, counts from the index).

Expected values come from outside the code under test: the installed package metadata, SHA-256
computed here, direct SQL on the store, a socket the test itself holds.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from hub.access.auth import load_auth
from hub.engine.config import load_config, parse_config
from hub.engine.sources import SourceRegistry
from hub.server.cli import build_parser, main

CLI = [sys.executable, "-m", "hub.server.cli"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _sources_toml(demo_dir: Path) -> str:
    """The demo's sources with absolute URLs, so a configuration elsewhere serves the same data."""
    lines = []
    for source in load_config(demo_dir / "hub.toml").sources:
        path = (demo_dir / source.url.removeprefix("sqlite:///")).resolve()
        lines += [
            "[[sources]]",
            f'name = "{source.name}"',
            f'mapping = "{source.mapping}"',
            f'url = "sqlite:///{path}"',
            "",
        ]
    return "\n".join(lines)


# --- --version, help, defaults -----------------------------------------------------------------


def test_version_is_the_installed_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"tppo-hub {version('tppo-hub')}"


def _parsers(
    parser: argparse.ArgumentParser, path: str = "tppo-hub"
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _parsers(sub, f"{path} {name}")
    return found


def test_every_option_of_every_command_has_help() -> None:
    parsers = _parsers(build_parser())
    assert len(parsers) > 10  # the walk reached the sub-commands
    missing = [
        f"{path} {action.dest}"
        for path, parser in parsers
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["serve", "--help"], ["(default: 8000)", "(default: 127.0.0.1)", "(default: info)"]),
        (["token", "--help"], ["(default: 1h)"]),
        (["adapter", "check", "--help"], ["(default: 200)", "(default: 30.0)"]),
        (["adapter", "list", "--help"], ["(default: hub.toml)"]),
    ],
)
def test_help_shows_defaults(capsys: pytest.CaptureFixture[str], argv: list[str], shown: list[str]) -> None:
    with pytest.raises(SystemExit):
        main(argv)
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for default in shown:
        assert default in text


# --- apikey ----------------------------------------------------------------------------------


def test_apikey_without_id_prints_a_working_entry(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["apikey", "--role", "analyst"]) == 0
    out = capsys.readouterr().out
    key = re.search(r"^\s+(\S+)$", out, re.MULTILINE)
    assert key is not None
    entry = tomllib.loads(out[out.index("[[auth.api_keys]]") :])["auth"]["api_keys"][0]
    assert entry["id"].startswith("analyst-") and len(entry["id"]) > len("analyst-")
    assert entry["sha256"] == hashlib.sha256(key.group(1).encode()).hexdigest()
    settings = load_auth(parse_config({"auth": {"api_keys": [entry]}}, tmp_path))
    assert [(k.id, k.role) for k in settings.api_keys] == [(entry["id"], "analyst")]
    # Two keys made without --id do not collide.
    assert main(["apikey", "--role", "analyst"]) == 0
    second = tomllib.loads(capsys.readouterr().out.split("\n\n", 2)[2])["auth"]["api_keys"][0]
    assert second["id"] != entry["id"]


# --- --config DIR ----------------------------------------------------------------------------


def test_config_may_be_a_directory_holding_hub_toml(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "hub.toml").write_text('[hub]\nstore = "sqlite:///store.sqlite"\n', encoding="utf-8")
    assert main(["adapter", "list", "--config", str(tmp_path)]) == 0
    assert capsys.readouterr().err == ""
    assert (tmp_path / "store.sqlite").exists()  # the file inside the directory was used


def test_config_directory_without_hub_toml_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["audit", "verify", "--config", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"tppo-hub: --config {tmp_path}: a directory without a hub.toml"


def test_missing_config_file_is_one_clear_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["link", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


# --- source URLs -----------------------------------------------------------------------------

MAPPING = str(Path(__file__).resolve().parents[1] / "adapters" / "mappings" / "polri.toml")


def test_adapter_check_url_without_scheme_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adapter", "check", MAPPING, "--url", "polri.sqlite"]) == 2
    err = capsys.readouterr().err
    assert "has no scheme" in err and "Traceback" not in err


def test_mysql_is_refused_as_unsupported_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    # MySQL/MariaDB is not a supported source: no server of it runs in the suite.
    assert main(["adapter", "check", MAPPING, "--url", "mysql://reader:s3cret-pw@db.go.id/kemlu"]) == 2
    err = capsys.readouterr().err
    assert "unsupported database backend 'mysql' (sqlite, postgresql)" in err
    assert "s3cret-pw" not in err


def test_serve_with_a_url_without_scheme_exits_2_before_listening(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "hub.toml").write_text(
        '[[sources]]\nname = "polri"\nmapping = "polri"\nurl = "polri.sqlite"\n', encoding="utf-8"
    )
    assert main(["serve", "--config", str(tmp_path), "--port", str(_free_port())]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tppo-hub: source polri: the database URL has no scheme")
    assert "GraphiQL" not in err


# --- missing database file: its path in the log ------------------------------------------------


async def test_missing_database_file_is_logged_with_its_path(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    config = parse_config(
        {
            "hub": {"store": f"sqlite:///{tmp_path / 'store.sqlite'}"},
            "sources": [
                {"name": "polri", "mapping": "polri", "url": "sqlite:///data/polri.sqlite", "required": False}
            ],
        },
        tmp_path,
    )
    registry = SourceRegistry(config)
    with caplog.at_level(logging.WARNING, logger="tppo_hub"):
        await registry.open()
    await registry.close()
    expected = str((tmp_path / "data" / "polri.sqlite").resolve())
    assert any(expected in record.getMessage() for record in caplog.records), caplog.text


# --- serve: port in use, and the banner only once listening -------------------------------------


def test_port_in_use_is_a_clear_error_and_no_banner(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "hub.toml").write_text(
        f'[hub]\nstore = "sqlite:///{tmp_path / "s.sqlite"}"\n', encoding="utf-8"
    )
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert main(["serve", "--config", str(tmp_path), "--port", str(port), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert "GraphiQL" not in err


@pytest.mark.parametrize("workers", ["1", "2"])
def test_banner_is_printed_once_the_hub_listens(tmp_path: Path, workers: str) -> None:
    (tmp_path / "hub.toml").write_text(
        f'[hub]\nstore = "sqlite:///{tmp_path / "s.sqlite"}"\n', encoding="utf-8"
    )
    port = _free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--config", str(tmp_path), "--port", str(port), "--workers", workers],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "GraphiQL at" in line:
                break
        else:
            pytest.fail(f"no banner; exit {process.wait()}")
        assert line.strip() == f"TPPO hub: GraphiQL at http://127.0.0.1:{port}/graphql"
        # Listening when the banner is out: the first connection is accepted (a worker of a
        # multi-process hub may still be starting, so its answer may take a moment).
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()


# --- link: output -----------------------------------------------------------------------------


def _multi_record_persons(store: Path) -> int:
    with sqlite3.connect(store) as conn:
        return int(
            conn.execute(
                "SELECT count(*) FROM (SELECT person_id FROM linkage_record"
                " GROUP BY person_id HAVING count(*) > 1)"
            ).fetchone()[0]
        )


def test_link_prints_its_summary_once_with_counts_from_the_index(demo_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    (tmp_path / "hub.toml").write_text(
        f'[hub]\nstore = "sqlite:///{store}"\n\n' + _sources_toml(demo_dir), encoding="utf-8"
    )
    runs = []
    for extra in ([], [], ["--progress"]):
        done = subprocess.run(
            [*CLI, "link", "--config", str(tmp_path), *extra], capture_output=True, text=True, check=True
        )
        runs.append(done)
    several = _multi_record_persons(store)
    assert several > 0
    for n, done in enumerate(runs):
        summaries = [line for line in (done.stdout + done.stderr).splitlines() if "linkage (" in line]
        assert len(summaries) == 1, done.stdout + done.stderr
        assert summaries[0] == done.stdout.strip()
        mode = "full" if n == 0 else "incremental"
        assert summaries[0].startswith(f"linkage ({mode}):")
        assert f"({several:,} with several records)" in summaries[0]
    # Progress only when asked (standard error is not a terminal here).
    assert "read " not in runs[0].stderr and "read " not in runs[1].stderr
    assert "read polri:" in runs[2].stderr
    assert ", 0 linked now," in runs[1].stdout


# --- tracing = "otlp" -------------------------------------------------------------------------


def test_otlp_exporter_missing_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.engine import tracing
    from hub.engine.config import ConfigError

    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(ConfigError, match=r"tppo-hub\[otel\]"):
        tracing.configure(exporter="otlp")


def test_otlp_exporter_is_installed_by_the_otel_extra() -> None:
    # In a subprocess: a tracer provider can be set only once per process.
    code = "from hub.engine import tracing; tracing.configure(exporter='otlp'); print(tracing.enabled())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"
