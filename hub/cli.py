"""The ``tppo-hub`` command line: serve, generate demo data, export the schema.

Every sub-command fails with a one-line message and exit status 2 on bad input (a missing
config file, a malformed mapping), never with a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from adapters.base import MappingError
from hub.config import ConfigError, load_config


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hub.app import create_app

    config = load_config(Path(args.config))
    app = create_app(config)
    print(f"TPPO hub: GraphiQL at http://{args.host}:{args.port}/graphql", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _demo_generate(args: argparse.Namespace) -> int:
    from hub.demo.generate import generate

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
    serve.set_defaults(run=_serve)

    demo = commands.add_parser("demo", help="demo agency databases")
    demo_commands = demo.add_subparsers(dest="demo_command", required=True)
    generate = demo_commands.add_parser("generate", help="generate the five demo agency databases")
    generate.add_argument("--out", required=True, help="output directory")
    generate.add_argument("--seed", type=int, default=2023)
    generate.add_argument("--scale", type=float, default=1.0, help="population multiplier (1 ≈ 12k rows)")
    generate.add_argument("--postgres", default=None, help="also write into this PostgreSQL database URL")
    generate.set_defaults(run=_demo_generate)

    schema = commands.add_parser("schema", help="the GraphQL schema")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True)
    export = schema_commands.add_parser("export", help="print the schema in SDL")
    export.add_argument("--output", "-o", default=None, help="write to this file instead of stdout")
    export.set_defaults(run=_schema_export)
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
