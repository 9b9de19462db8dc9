"""The ``tppo-hub`` command line: serve, generate demo data, export the schema, onboard sources.

Every sub-command fails with a one-line message and exit status 2 on bad input (a missing
config file, a malformed mapping), never with a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from adapters.base import MappingError
from hub.engine.config import ConfigError, load_config


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hub.server.app import CONFIG_ENV, create_app
    from hub.server.logs import configure_logging
    from hub.server.transport import PROTOCOL

    workers = args.workers if args.workers is not None else default_workers()
    if workers < 1:
        raise ValueError("--workers must be at least 1")
    config = load_config(Path(args.config))
    app = create_app(config)
    # JSON lines with request ids for operators; plain lines when a person watches a terminal.
    configure_logging(args.log_level, json_lines=not sys.stderr.isatty())
    print(f"TPPO hub: GraphiQL at http://{args.host}:{args.port}/graphql", file=sys.stderr)
    common = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "log_config": None,
        # uvloop and httptools when installed (they are dependencies); TCP_NODELAY on every
        # connection whatever the worker count (hub/server/transport.py).
        "loop": "auto",
        "http": PROTOCOL,
    }
    if workers > 1:
        # Several processes need an import string; each builds its hub from the same file and
        # shares the store (use a PostgreSQL store for replicas on several machines).
        os.environ[CONFIG_ENV] = str(Path(args.config).resolve())
        uvicorn.run("hub.server.app:app_from_environment", factory=True, workers=workers, **common)
    else:
        uvicorn.run(app, **common)
    return 0


def default_workers() -> int:
    """One worker process per core this process may run on (the GIL makes one a core's worth)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _demo_generate(args: argparse.Namespace) -> int:
    try:  # an optional part of the product: `pip install tppo-hub[demo]`
        from hub.demo.generate import generate
    except ImportError as exc:
        print(f"error: the demo generator is not installed ({exc.name}): pip install 'tppo-hub[demo]'",
              file=sys.stderr)
        return 2

    def progress(message: str) -> None:
        print(message, file=sys.stderr)

    report = generate(
        Path(args.out),
        seed=args.seed,
        scale=args.scale,
        postgres_url=args.postgres,
        progress=progress,
    )
    print(
        f"wrote {report.total_rows:,} source rows to {args.out} in {report.seconds:.1f} s",
        file=sys.stderr,
    )
    return 0


def _schema_export(args: argparse.Namespace) -> int:
    from resolvers.schema import sdl

    text = sdl()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _link(args: argparse.Namespace) -> int:
    import asyncio

    from hub.engine.linking import LinkageFailed, run_linkage

    config = load_config(Path(args.config))
    try:
        report = asyncio.run(run_linkage(config, full=args.full))
    except LinkageFailed as exc:
        print(f"tppo-hub: {exc}", file=sys.stderr)
        return 1
    print(report.summary(), file=sys.stderr)
    return 0


def _indicators_export(args: argparse.Namespace) -> int:
    import asyncio

    from hub.server.indicator_export import ExportRequest, export

    request = ExportRequest(
        period_from=_date(args.period_from, "--from"),
        period_to=_date(args.period_to, "--to"),
        role=args.role,
        indicators=tuple(args.indicator or ()),
        disaggregate_by=tuple(d.upper() for d in args.by or ()),
        as_of=_date(args.as_of, "--as-of"),
        allow_partial=args.allow_partial,
    )
    text = asyncio.run(export(load_config(Path(args.config)), request, args.format))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} must be a date like 2024-12-31 (got {text!r})") from None


def _token(args: argparse.Namespace) -> int:
    from hub.access.auth import load_auth, mint_token

    settings = load_auth(load_config(Path(args.config)))
    token = mint_token(
        settings,
        role=args.role,
        agency=args.agency,
        purpose=args.purpose,
        ttl_seconds=_seconds(args.ttl),
        subject=args.subject,
    )
    if not settings.demo:
        print("tppo-hub: minted from the configured secret: for development and tests only", file=sys.stderr)
    print(token)
    return 0


def _seconds(text: str) -> int:
    """``90``, ``90s``, ``15m``, ``8h`` or ``7d`` as seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    text = text.strip().lower()
    unit = units.get(text[-1:]) if text else None
    number = text[:-1] if unit else text
    if not number.isdigit():
        raise ValueError(f"--ttl must be a number of seconds or like 15m, 8h, 7d (got {text!r})")
    return int(number) * (unit or 1)


def _apikey(args: argparse.Namespace) -> int:
    from hub.access.auth import hash_api_key, new_api_key
    from hub.access.policy import ROLES

    if args.role not in ROLES:
        raise ValueError(f"--role must be one of {', '.join(ROLES)}")
    key = new_api_key()
    print(f"API key (give it to the client once; the hub stores only its hash):\n  {key}\n")
    print("Add to the [auth] section of the hub configuration:\n")
    print("[[auth.api_keys]]")
    print(f'id = "{args.id}"')
    print(f'sha256 = "{hash_api_key(key)}"')
    print(f'role = "{args.role}"')
    if args.agency:
        print(f'agency = "{args.agency.upper()}"')
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    import asyncio

    from hub.access.audit import AuditLog
    from hub.storage.store import Store

    config = load_config(Path(args.config))

    async def verify() -> int:
        store = Store(config.store_url, config.base_dir)
        await store.open()
        try:
            report = await AuditLog(store).verify()
        finally:
            await store.close()
        for problem in report.problems:
            print(f"audit: {problem}", file=sys.stderr)
        state = "intact" if report.ok else "BROKEN"
        print(f"audit chain {state}: {report.entries} entries, head {report.head_id} {report.head_hash}")
        return 0 if report.ok else 1

    return asyncio.run(verify())


def _adapter_url(args: argparse.Namespace) -> str:
    """The database URL from ``--url`` or from the environment variable ``--url-env`` names
    (which keeps a password out of the shell history and the process list)."""
    import os

    if args.url_env:
        value = os.environ.get(args.url_env)
        if not value:
            raise ValueError(f"environment variable {args.url_env} is not set")
        return value
    if not args.url:
        raise ValueError("give --url URL or --url-env VARIABLE")
    return str(args.url)


def _adapter_check(args: argparse.Namespace) -> int:
    import asyncio

    from adapters.check import check_file
    from adapters.engines import EngineOptions

    path = Path(args.mapping)
    name = args.name or path.stem.replace("-", "_").lower()
    options = EngineOptions(
        url=_adapter_url(args), schema=args.schema, statement_timeout_ms=int(args.timeout * 1000)
    )
    report = asyncio.run(
        check_file(path, name, options, Path.cwd(), sample=args.sample, max_unparsed=args.max_unparsed)
    )
    sys.stdout.write(report.to_json() + "\n" if args.json else report.render())
    return report.exit_code(strict=args.strict)


def _adapter_add(args: argparse.Namespace) -> int:
    import asyncio
    import getpass

    from hub.engine.onboarding import (
        RegistrationRefused,
        RegistrationRequest,
        add_to_store,
        read_mapping_file,
    )

    config = load_config(Path(args.config))
    path = Path(args.mapping)
    request = RegistrationRequest(
        name=args.name,
        url=_adapter_url(args),
        mapping_text=read_mapping_file(path),
        mapping_name=path.name,
        schema=args.schema,
        timeout_seconds=args.timeout,
    )
    try:
        report, stored = asyncio.run(add_to_store(config, request, by=f"cli:{getpass.getuser()}"))
    except RegistrationRefused as exc:
        raise ValueError(f"--{exc.argument}: {exc}") from None
    sys.stdout.write(report.to_json() + "\n" if args.json else report.render())
    if stored is None:
        print(f"tppo-hub: {args.name} was not registered: the mapping cannot serve", file=sys.stderr)
        return 1
    print(
        f"tppo-hub: registered {stored.name} in the hub's store; running hubs serve it within a few seconds",
        file=sys.stderr,
    )
    return 0


def _adapter_remove(args: argparse.Namespace) -> int:
    import asyncio

    from hub.engine.onboarding import RegistrationRefused, remove_from_store

    config = load_config(Path(args.config))
    try:
        removed = asyncio.run(remove_from_store(config, args.name))
    except RegistrationRefused as exc:
        raise ValueError(str(exc)) from None
    if not removed:
        print(f"tppo-hub: no registered source named {args.name}", file=sys.stderr)
        return 1
    print(
        f"tppo-hub: removed {args.name}; running hubs stop serving it within a few seconds", file=sys.stderr
    )
    return 0


def _adapter_list(args: argparse.Namespace) -> int:
    import asyncio

    from adapters.engines import redact_url
    from hub.engine.onboarding import list_store

    config = load_config(Path(args.config))
    for registration in asyncio.run(list_store(config)):
        kind = (
            registration.mapping_name
            if registration.mapping_text is not None
            else f"adapter {registration.adapter}"
        )
        print(
            f"{registration.name}\t{kind}\t{redact_url(registration.url)}\t"
            f"{registration.registered_at} by {registration.registered_by}"
        )
    return 0


def _add_url_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default=None, help="database URL (sqlite:///file, postgresql://…, mysql://…)"
    )
    parser.add_argument("--url-env", default=None, help="read the URL from this environment variable instead")
    parser.add_argument("--schema", default=None, help="PostgreSQL schema of the tables")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tppo-hub", description="GraphQL federated data hub for TPPO case data."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve GraphQL over HTTP")
    serve.add_argument("--config", required=True, help="hub configuration file (TOML)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (share the store; default: one per core)",
    )
    serve.set_defaults(run=_serve)

    demo = commands.add_parser("demo", help="demo agency databases")
    demo_commands = demo.add_subparsers(dest="demo_command", required=True)
    generate = demo_commands.add_parser("generate", help="generate the five demo agency databases")
    generate.add_argument("--out", required=True, help="output directory")
    generate.add_argument("--seed", type=int, default=2023)
    generate.add_argument("--scale", type=float, default=1.0, help="population size (1 ≈ 15k rows, 66 ≈ 1M)")
    generate.add_argument("--postgres", default=None, help="also write into this PostgreSQL database URL")
    generate.set_defaults(run=_demo_generate)

    schema = commands.add_parser("schema", help="the GraphQL schema")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True)
    export = schema_commands.add_parser("export", help="print the schema in SDL")
    export.add_argument("--output", "-o", default=None, help="write to this file instead of stdout")
    export.set_defaults(run=_schema_export)

    link = commands.add_parser("link", help="link person records across agencies (incremental by default)")
    link.add_argument("--config", required=True, help="hub configuration file (TOML)")
    link.add_argument("--full", action="store_true", help="re-cluster every record (ids stay stable)")
    link.set_defaults(run=_link)

    token = commands.add_parser("token", help="mint a development token (HS256, from the configured secret)")
    token.add_argument("--config", required=True, help="hub configuration file (TOML)")
    token.add_argument("--role", required=True, help="public, analyst, caseworker, coordinator or admin")
    token.add_argument("--agency", default=None, help="agency code of the user, e.g. POLRI")
    token.add_argument("--purpose", default=None, help="declared purpose (needed to read personal data)")
    token.add_argument("--ttl", default="1h", help="lifetime: seconds, or like 15m, 8h, 7d (default 1h)")
    token.add_argument("--subject", default=None, help="token subject (default dev-<role>[-<agency>])")
    token.set_defaults(run=_token)

    apikey = commands.add_parser("apikey", help="make a new API key and print its configuration entry")
    apikey.add_argument("--id", required=True, help="a short name for the key, e.g. portal-kemenpppa")
    apikey.add_argument("--role", required=True, help="public, analyst, caseworker, coordinator or admin")
    apikey.add_argument("--agency", default=None, help="agency code of the key's holder")
    apikey.set_defaults(run=_apikey)

    indicators = commands.add_parser("indicators", help="the Task Force's indicators")
    indicator_commands = indicators.add_subparsers(dest="indicators_command", required=True)
    ind_export = indicator_commands.add_parser(
        "export", help="write a period's indicators with their metadata (CSV or JSON) for a report"
    )
    ind_export.add_argument("--config", default="hub.toml")
    ind_export.add_argument("--format", choices=("csv", "json"), default="csv")
    ind_export.add_argument("--from", dest="period_from", help="first report date of the period (YYYY-MM-DD)")
    ind_export.add_argument("--to", dest="period_to", help="last report date of the period (YYYY-MM-DD)")
    ind_export.add_argument(
        "--role", default="public", help="export as this role: public (default) is disclosure-controlled"
    )
    ind_export.add_argument("--indicator", action="append", help="only this indicator id (repeatable)")
    ind_export.add_argument("--by", action="append", help="disaggregate by this dimension where allowed")
    ind_export.add_argument("--as-of", dest="as_of", help="reference date for freshness (default: --to)")
    ind_export.add_argument("--output", help="write to this file instead of standard output")
    ind_export.add_argument(
        "--allow-partial",
        action="store_true",
        help="export even if a source fails (figures then partial, errors in the output)",
    )
    ind_export.set_defaults(run=_indicators_export)

    audit = commands.add_parser("audit", help="the audit trail of personal-data reads")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="check the audit hash chain (exit 1 if broken)")
    verify.add_argument("--config", required=True, help="hub configuration file (TOML)")
    verify.set_defaults(run=_audit_verify)

    adapter = commands.add_parser("adapter", help="onboard agency databases: check, add, remove, list")
    adapter_commands = adapter.add_subparsers(dest="adapter_command", required=True)
    check = adapter_commands.add_parser(
        "check", help="check a mapping file against its live database (exit 1 when it cannot serve)"
    )
    check.add_argument("mapping", help="the mapping file (TOML)")
    _add_url_arguments(check)
    check.add_argument("--name", default=None, help="source name (default: the file name)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--sample", type=int, default=200, help="rows read per table in the sample run")
    check.add_argument("--timeout", type=float, default=30.0, help="statement timeout in seconds")
    check.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    check.add_argument(
        "--max-unparsed",
        type=float,
        default=0.02,
        help="share of a date, age, region or country field's values that may fail to parse (default 0.02)",
    )
    check.set_defaults(run=_adapter_check)

    add = adapter_commands.add_parser(
        "add", help="check a mapping, then register it in the hub's store (running hubs pick it up)"
    )
    add.add_argument("mapping", help="the mapping file (TOML)")
    _add_url_arguments(add)
    add.add_argument("--name", required=True, help="source name: lower-case letters, digits, _")
    add.add_argument("--config", default="hub.toml", help="hub configuration file (default hub.toml)")
    add.add_argument("--timeout", type=float, default=None, help="per-source timeout in seconds")
    add.add_argument("--json", action="store_true", help="print the check report as JSON")
    add.set_defaults(run=_adapter_add)

    remove = adapter_commands.add_parser("remove", help="remove a registered source from the hub's store")
    remove.add_argument("name", help="the registered source")
    remove.add_argument("--config", default="hub.toml", help="hub configuration file (default hub.toml)")
    remove.set_defaults(run=_adapter_remove)

    listing = adapter_commands.add_parser("list", help="list the sources registered in the hub's store")
    listing.add_argument("--config", default="hub.toml", help="hub configuration file (default hub.toml)")
    listing.set_defaults(run=_adapter_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args))
    except (ConfigError, MappingError, FileNotFoundError, ValueError) as exc:
        print(f"tppo-hub: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
