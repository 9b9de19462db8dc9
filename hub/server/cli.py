"""The ``tppo-hub`` command line: serve, generate demo data, export the schema, onboard sources.

Every sub-command fails with a one-line message and exit status 2 on bad input (a missing
config file, a malformed mapping, a database URL without a scheme, a port in use), never with a
traceback. ``--config`` takes the file or a directory holding ``hub.toml``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import secrets
import socket
import sys
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

from adapters.base import MappingError
from hub.engine.config import ConfigError, HubConfig, load_config

#: The file ``--config DIR`` means.
CONFIG_NAME = "hub.toml"
#: Seconds an idle keep-alive connection stays open. Longer than the idle timeouts of the
#: clients and proxies in front of the hub (Node's keep-alive agents, load balancers: 60 s),
#: so the hub never closes a connection at the moment a client reuses it — with uvicorn's
#: default of 5 s, a federation gateway that waited a few seconds between two requests sent
#: the second into a closing socket ("socket hang up", seen in tests/test_federation_http.py
#: on a busy machine).
KEEP_ALIVE_SECONDS = 75


def config_path(text: str) -> Path:
    """``--config``: a configuration file, or a directory holding ``hub.toml``."""
    path = Path(text)
    if path.is_dir():
        inside = path / CONFIG_NAME
        if not inside.is_file():
            raise ValueError(f"--config {text}: a directory without a {CONFIG_NAME}")
        return inside
    if not path.exists():
        raise ValueError(f"--config {text}: no such file")
    return path


def _config(args: argparse.Namespace) -> HubConfig:
    return load_config(config_path(args.config))


def _check_port(host: str, port: int) -> None:
    """Fail with one clear line before anything starts when the address cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ValueError(
                    f"port {port} on {host} is already in use: choose another with --port"
                ) from None
            raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _serve(args: argparse.Namespace) -> int:
    if args.check:
        return _serve_check(args)
    import uvicorn

    from hub.server.app import CONFIG_ENV, create_app
    from hub.server.logs import configure_logging
    from hub.server.transport import PROTOCOL

    workers = args.workers if args.workers is not None else default_workers()
    if workers < 1:
        raise ValueError("--workers must be at least 1")
    path = config_path(args.config)
    config = load_config(path)
    _check_source_urls(config)
    app = create_app(config, settle_heap=True)
    _check_port(args.host, args.port)
    # JSON lines with request ids for operators; plain lines when a person watches a terminal.
    configure_logging(args.log_level, json_lines=not sys.stderr.isatty())
    banner = f"TPPO hub: GraphiQL at http://{args.host}:{args.port}/graphql"
    common = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "log_config": None,
        # uvloop and httptools when installed (they are dependencies); TCP_NODELAY on every
        # connection whatever the worker count (hub/server/transport.py).
        "loop": "auto",
        "http": PROTOCOL,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
    }
    if workers > 1:
        # Several processes need an import string; each builds its hub from the same file and
        # shares the store (use a PostgreSQL store for replicas on several machines). The parent
        # binds the socket the workers share, so the address is listening once this returns.
        os.environ[CONFIG_ENV] = str(path.resolve())
        settings = uvicorn.Config(
            "hub.server.app:app_from_environment", factory=True, workers=workers, **common
        )
        sock = settings.bind_socket()
        # Listening from here: connections wait in the backlog until a worker accepts them.
        sock.listen(settings.backlog)
        print(banner, file=sys.stderr)
        from uvicorn.supervisors import Multiprocess

        Multiprocess(settings, sockets=[sock]).run()
        return 0
    server = _listening_banner(uvicorn.Server, banner)(uvicorn.Config(app, **common))
    server.run()
    return 0 if server.started else 2


def _listening_banner(base: type, banner: str) -> type:
    """A uvicorn server class that prints ``banner`` once it listens (never before an error)."""

    class BannerServer(base):  # type: ignore[valid-type, misc]
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                print(banner, file=sys.stderr)

    return BannerServer


def _check_source_urls(config: HubConfig) -> None:
    """Every configured source URL has a scheme and an installed driver (else one clear line)."""
    from adapters.engines import parse_url

    for source in config.sources:
        try:
            parse_url(source.url)
        except ValueError as exc:
            raise ValueError(f"source {source.name}: {exc}") from None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Only warnings and errors are logged inside (levels restored after: ``main`` may run in-process)."""
    loggers = [logging.getLogger(), logging.getLogger("tppo_hub")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _serve_check(args: argparse.Namespace) -> int:
    """``serve --check``: one OK/FAIL line per check of docs/operations.md; 1 when any fails."""
    import asyncio

    from hub.server.preflight import run_checks

    with _quiet():
        results = asyncio.run(run_checks(config_path(args.config)))
    for result in results:
        print(result.line())
    failed = sum(1 for r in results if not r.ok)
    print(f"{len(results) - failed} passed, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


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
        print(
            f"error: the demo generator is not installed ({exc.name}): pip install 'tppo-hub[demo]'",
            file=sys.stderr,
        )
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

    from hub.engine.linking import LinkageFailed, Progress, run_linkage

    config = _config(args)
    # Progress (a bar on a terminal, log lines otherwise) only when someone watches or asks;
    # the summary is the command's result: printed once, on standard output.
    show = args.progress or sys.stderr.isatty()
    progress = Progress(sys.stderr, tty=sys.stderr.isatty(), log_summary=False)
    try:
        # Without progress only warnings (a source that fails) reach standard error.
        with contextlib.nullcontext() if show else _quiet():
            report = asyncio.run(run_linkage(config, full=args.full, progress=progress))
    except LinkageFailed as exc:
        print(f"tppo-hub: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
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
    text = asyncio.run(export(_config(args), request, args.format))
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

    settings = load_auth(_config(args))
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
    # A generated id names the key in the audit log; it says nothing about the key itself.
    key_id = args.id or f"{args.role}-{secrets.token_hex(4)}"
    print(f"API key (give it to the client once; the hub stores only its hash):\n  {key}\n")
    print("Add to the [auth] section of the hub configuration:\n")
    print("[[auth.api_keys]]")
    print(f'id = "{key_id}"')
    print(f'sha256 = "{hash_api_key(key)}"')
    print(f'role = "{args.role}"')
    if args.agency:
        print(f'agency = "{args.agency.upper()}"')
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    import asyncio

    from hub.access.audit import AuditLog
    from hub.storage.store import Store

    config = _config(args)

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
    from adapters.engines import parse_url

    if args.url_env:
        value = os.environ.get(args.url_env)
        if not value:
            raise ValueError(f"environment variable {args.url_env} is not set")
    elif args.url:
        value = str(args.url)
    else:
        raise ValueError("give --url URL or --url-env VARIABLE")
    parse_url(value)  # a URL without a scheme or driver: one clear line, exit 2
    return value


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

    config = _config(args)
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

    config = _config(args)
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

    config = _config(args)
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
        "--url", default=None, help="database URL (sqlite:///path/file.sqlite or postgresql://user@host/db)"
    )
    parser.add_argument("--url-env", default=None, help="read the URL from this environment variable instead")
    parser.add_argument("--schema", default=None, help="PostgreSQL schema of the tables")


def _add_config(parser: argparse.ArgumentParser, *, default: str | None = None) -> None:
    parser.add_argument(
        "--config",
        required=default is None,
        default=default,
        help=f"hub configuration file (TOML), or a directory holding {CONFIG_NAME}",
    )


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every option's default (``None`` and ``False`` defaults say nothing, so are left out)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or action.required:
            return action.help
        return super()._get_help_string(action)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tppo-hub")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tppo-hub",
        description="GraphQL federated data hub for TPPO case data.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        group: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str
    ) -> argparse.ArgumentParser:
        return group.add_parser(name, help=text, description=text, formatter_class=_Formatter)

    serve = command(commands, "serve", "serve GraphQL over HTTP")
    _add_config(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="TCP port to listen on")
    serve.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug"),
        help="least severe log level written",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (share the store; default: one per core)",
    )
    serve.add_argument(
        "--check",
        action="store_true",
        help="do not serve: run the go-live checklist (configuration, secrets, sources read-only, "
        "store writable, audit chain) and exit 1 if any check fails",
    )
    serve.set_defaults(run=_serve)

    demo = command(commands, "demo", "demo agency databases")
    demo_commands = demo.add_subparsers(dest="demo_command", required=True, metavar="COMMAND")
    generate = command(demo_commands, "generate", "generate the five demo agency databases")
    generate.add_argument("--out", required=True, help="output directory")
    generate.add_argument("--seed", type=int, default=2023, help="random seed (same seed, same data)")
    generate.add_argument("--scale", type=float, default=1.0, help="population size (1 ≈ 15k rows, 66 ≈ 1M)")
    generate.add_argument("--postgres", default=None, help="also write into this PostgreSQL database URL")
    generate.set_defaults(run=_demo_generate)

    schema = command(commands, "schema", "the GraphQL schema")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True, metavar="COMMAND")
    export = command(schema_commands, "export", "print the schema in SDL")
    export.add_argument("--output", "-o", default=None, help="write to this file instead of stdout")
    export.set_defaults(run=_schema_export)

    link = command(commands, "link", "link person records across agencies (incremental by default)")
    _add_config(link)
    link.add_argument("--full", action="store_true", help="re-cluster every record (ids stay stable)")
    link.add_argument(
        "--progress",
        action="store_true",
        help="report progress on standard error even when it is not a terminal (on a terminal: always)",
    )
    link.set_defaults(run=_link)

    token = command(commands, "token", "mint a development token (HS256, from the configured secret)")
    _add_config(token)
    token.add_argument("--role", required=True, help="public, analyst, caseworker, coordinator or admin")
    token.add_argument("--agency", default=None, help="agency code of the user, e.g. POLRI")
    token.add_argument("--purpose", default=None, help="declared purpose (needed to read personal data)")
    token.add_argument("--ttl", default="1h", help="lifetime: seconds, or like 15m, 8h, 7d")
    token.add_argument("--subject", default=None, help="token subject (default dev-<role>[-<agency>])")
    token.set_defaults(run=_token)

    apikey = command(commands, "apikey", "make a new API key and print its configuration entry")
    apikey.add_argument(
        "--id",
        default=None,
        help="a short name for the key, e.g. portal-kemenpppa (default: <role>-<random>)",
    )
    apikey.add_argument("--role", required=True, help="public, analyst, caseworker, coordinator or admin")
    apikey.add_argument("--agency", default=None, help="agency code of the key's holder")
    apikey.set_defaults(run=_apikey)

    indicators = command(commands, "indicators", "the Task Force's indicators")
    indicator_commands = indicators.add_subparsers(
        dest="indicators_command", required=True, metavar="COMMAND"
    )
    ind_export = command(
        indicator_commands,
        "export",
        "write a period's indicators with their metadata (CSV or JSON) for a report",
    )
    _add_config(ind_export, default=CONFIG_NAME)
    ind_export.add_argument("--format", choices=("csv", "json"), default="csv", help="output format")
    ind_export.add_argument("--from", dest="period_from", help="first report date of the period (YYYY-MM-DD)")
    ind_export.add_argument("--to", dest="period_to", help="last report date of the period (YYYY-MM-DD)")
    ind_export.add_argument(
        "--role", default="public", help="export as this role: public is disclosure-controlled"
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

    audit = command(commands, "audit", "the audit trail of personal-data reads")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    verify = command(audit_commands, "verify", "check the audit hash chain (exit 1 if broken)")
    _add_config(verify)
    verify.set_defaults(run=_audit_verify)

    adapter = command(commands, "adapter", "onboard agency databases: check, add, remove, list")
    adapter_commands = adapter.add_subparsers(dest="adapter_command", required=True, metavar="COMMAND")
    check = command(
        adapter_commands,
        "check",
        "check a mapping file against its live database (exit 1 when it cannot serve)",
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

    add = command(
        adapter_commands,
        "add",
        "check a mapping, then register it in the hub's store (running hubs pick it up)",
    )
    add.add_argument("mapping", help="the mapping file (TOML)")
    _add_url_arguments(add)
    add.add_argument("--name", required=True, help="source name: lower-case letters, digits, _")
    _add_config(add, default=CONFIG_NAME)
    add.add_argument("--timeout", type=float, default=None, help="per-source timeout in seconds")
    add.add_argument("--json", action="store_true", help="print the check report as JSON")
    add.set_defaults(run=_adapter_add)

    remove = command(adapter_commands, "remove", "remove a registered source from the hub's store")
    remove.add_argument("name", help="the registered source")
    _add_config(remove, default=CONFIG_NAME)
    remove.set_defaults(run=_adapter_remove)

    listing = command(adapter_commands, "list", "list the sources registered in the hub's store")
    _add_config(listing, default=CONFIG_NAME)
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
