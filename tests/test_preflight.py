"""``tppo-hub serve --check``: the go-live checklist of docs/operations.md.

Every check is shown passing on a production-like configuration (the demo's SQLite sources,
a secret from the environment, a store of its own), and failing for the reason it exists:
an invalid file, demo mode, a missing secret, a missing source file, a connection that is not
read-only, a store that cannot be written, a tampered audit chain. The failures are caused
here (environment, files, SQL on the store), not taken from the code under test.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from hub.access.audit import AuditLog
from hub.access.auth import load_auth
from hub.access.policy import PersonalRead, Principal
from hub.engine.config import load_config
from hub.server import preflight
from hub.server.cli import build_parser, main
from hub.storage.store import Store

SECRET_ENV = "TPPO_PREFLIGHT_TEST_SECRET"


def _write_config(demo_dir: Path, where: Path, *, hub: str = "", store: str | None = None) -> Path:
    sources = []
    for source in load_config(demo_dir / "hub.toml").sources:
        path = (demo_dir / source.url.removeprefix("sqlite:///")).resolve()
        sources.append(
            f'[[sources]]\nname = "{source.name}"\nmapping = "{source.mapping}"\nurl = "sqlite:///{path}"\n'
        )
    store = store or f"sqlite:///{where / 'store.sqlite'}"
    text = f'[hub]\nstore = "{store}"\n{hub}\n[auth]\nsecret_env = "{SECRET_ENV}"\n\n' + "\n".join(sources)
    (where / "hub.toml").write_text(text, encoding="utf-8")
    return where / "hub.toml"


def _check(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, dict[str, str]]:
    code = main(["serve", "--check", "--config", str(config)])
    lines = capsys.readouterr().out.splitlines()
    results = {}
    for line in lines:
        status, rest = line.split(" ", 1)
        name, detail = rest.strip().split(": ", 1)
        results[name] = f"{status}: {detail}"
    return code, results


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "x" * 40)


def test_all_checks_pass_on_a_production_like_configuration(
    capsys: pytest.CaptureFixture[str], demo_dir: Path, tmp_path: Path, secret: None
) -> None:
    code, results = _check(capsys, _write_config(demo_dir, tmp_path))
    names = {s.name for s in load_config(demo_dir / "hub.toml").sources}
    assert set(results) == {"configuration", "secrets", "store", "audit chain"} | {
        f"source {n}" for n in names
    }
    assert all(r.startswith("OK") for r in results.values()), results
    assert code == 0
    for name in names:
        assert "read-only (PRAGMA query_only = 1, opened mode=ro)" in results[f"source {name}"]
    assert results["audit chain"] == "OK: intact, 0 entries"


def test_invalid_configuration_fails_first(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "hub.toml").write_text("[htpp]\nport = 1\n", encoding="utf-8")
    code, results = _check(capsys, tmp_path)
    assert code == 1
    assert list(results) == ["configuration"] and results["configuration"].startswith("FAIL")


def test_demo_mode_and_missing_secret_fail(
    capsys: pytest.CaptureFixture[str], demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    code, results = _check(capsys, _write_config(demo_dir, tmp_path))
    assert code == 1
    assert results["secrets"].startswith("FAIL") and f"{SECRET_ENV} is not set" in results["secrets"]
    monkeypatch.setenv(SECRET_ENV, "x" * 40)
    code, results = _check(capsys, _write_config(demo_dir, tmp_path, hub="demo = true"))
    assert code == 1
    assert results["secrets"].startswith("FAIL: [hub].demo is on")


def test_missing_source_file_fails_with_its_path(
    capsys: pytest.CaptureFixture[str], demo_dir: Path, tmp_path: Path, secret: None
) -> None:
    config = _write_config(demo_dir, tmp_path)
    missing = tmp_path / "gone" / "polri.sqlite"
    text = config.read_text(encoding="utf-8")
    polri = str((demo_dir / "polri.sqlite").resolve())
    assert polri in text
    config.write_text(text.replace(polri, str(missing)), encoding="utf-8")
    code, results = _check(capsys, config)
    assert code == 1
    assert results["source polri"] == f"FAIL: SQLite database not found: {missing}"
    assert results["source kemlu"].startswith("OK")


def test_a_writable_source_connection_fails(
    capsys: pytest.CaptureFixture[str],
    demo_dir: Path,
    tmp_path: Path,
    secret: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def writable(options: object, base_dir: Path | None = None) -> object:
        path = options.url.removeprefix("sqlite:///")  # type: ignore[attr-defined]
        return create_async_engine(f"sqlite+aiosqlite:///{path}")

    monkeypatch.setattr(preflight, "create_readonly_engine", writable)
    code, results = _check(capsys, _write_config(demo_dir, tmp_path))
    assert code == 1
    assert results["source polri"] == "FAIL: the connection is NOT read-only (PRAGMA = 0)"


def test_store_that_cannot_be_written_fails(
    capsys: pytest.CaptureFixture[str], demo_dir: Path, tmp_path: Path, secret: None
) -> None:
    (tmp_path / "a-file").write_text("not a directory", encoding="utf-8")
    config = _write_config(demo_dir, tmp_path, store=f"sqlite:///{tmp_path / 'a-file' / 'store.sqlite'}")
    code, results = _check(capsys, config)
    assert code == 1
    assert results["store"].startswith("FAIL")
    assert results["audit chain"] == "FAIL: not checked: the store cannot be opened"


async def _three_audit_entries(path: Path) -> None:
    store = Store(f"sqlite:///{path}")
    await store.open()
    audit = AuditLog(store)
    await audit.open()
    reader = Principal(subject="dina", role="coordinator", agency="KEMENPPPA", purpose="investigation")
    for n in range(3):
        await audit.append(reader, "query Q { x }", [PersonalRead(f"polri:{n}", "name", ("x",))])
    await store.close()


def test_tampered_audit_chain_fails(
    capsys: pytest.CaptureFixture[str], demo_dir: Path, tmp_path: Path, secret: None
) -> None:
    config = _write_config(demo_dir, tmp_path)
    asyncio.run(_three_audit_entries(tmp_path / "store.sqlite"))
    code, results = _check(capsys, config)
    assert code == 0 and results["audit chain"] == "OK: intact, 3 entries"
    with sqlite3.connect(tmp_path / "store.sqlite") as conn:
        conn.execute("UPDATE audit_log SET subject = 'someone-else' WHERE id = 2")
    code, results = _check(capsys, config)
    assert code == 1
    assert results["audit chain"].startswith("FAIL: BROKEN")


# --- docs/operations.md stays true ----------------------------------------------------------------

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "operations.md"


def test_the_guide_production_config_is_valid(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = GUIDE.read_text(encoding="utf-8")
    block = re.search(r"```toml\n(# /etc/tppo-hub/hub.toml.*?)```", text, re.S)
    assert block is not None
    (tmp_path / "hub.toml").write_text(block.group(1), encoding="utf-8")
    config = load_config(tmp_path / "hub.toml")
    assert not config.demo and config.store_url.startswith("postgresql://")
    assert all(
        s.url.startswith("postgresql://") and ":" not in s.url.split("//")[1].split("@")[0]
        for s in config.sources
    )
    monkeypatch.setenv("TPPO_HUB_JWT_SECRET", "y" * 48)
    settings = load_auth(config, create_dev_secret=False)
    assert settings.secret == "y" * 48 and settings.jwks and len(settings.api_keys) == 1


def test_the_guide_commands_parse() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    commands = re.findall(r"^Exec\w+=\S+/tppo-hub (.*)$", text, re.M)
    assert len(commands) == 2
    for command in commands:
        args = build_parser().parse_args(shlex.split(command))
        assert args.command == "serve"
    assert any("--check" in c for c in commands)


# --- PostgreSQL: sources proved read-only by the server, the store on PostgreSQL ------------------


async def test_postgres_sources_and_store(
    pg_hub: Any, postgres_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "x" * 40)
    store = postgres_server.create_database("tppo_preflight_test", replace=True)
    lines = [f'[hub]\nstore = "{store}"\n\n[auth]\nsecret_env = "{SECRET_ENV}"\n']
    for source in pg_hub.config.sources:
        lines.append(
            f'[[sources]]\nname = "{source.name}"\nmapping = "{source.mapping}"\n'
            f'url = "{source.url}"\nschema = "{source.schema}"\n'
        )
    (tmp_path / "hub.toml").write_text("\n".join(lines), encoding="utf-8")
    results = {r.name: r for r in await preflight.run_checks(tmp_path / "hub.toml")}
    assert all(r.ok for r in results.values()), [r.line() for r in results.values()]
    for source in pg_hub.config.sources:
        assert "read-only (default_transaction_read_only = on)" in results[f"source {source.name}"].detail
    assert results["store"].detail.startswith("writable at postgresql://")
    # The store check left nothing behind (its table was created inside a rolled-back transaction).
    probe = Store(store)
    await probe.open()
    try:
        async with probe.engine.connect() as conn:
            found = await conn.execute(text("SELECT to_regclass('tppo_hub_preflight')"))
            assert found.scalar() is None
    finally:
        await probe.close()
