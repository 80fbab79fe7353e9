"""The ``yuqing`` command. Errors are one clear line and a non-zero exit; ``--debug`` shows tracebacks.

Subcommands live in small modules exposing ``register(subparsers)``; add a module to
``COMMAND_MODULES`` when a component brings its own commands.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from core.config import ConfigError, load_settings
from core.errors import CliError

__all__ = ["CliError", "build_parser", "main"]

COMMAND_MODULES = [
    "core.commands.service",
    "core.commands.data",
    "core.commands.keys",
    "core.commands.demo",
    "geo.commands",
    "core.commands.models",
    "alerts.cli",
    "store.es_cli",
    "crawler.commands",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="yuqing", description="舆情监测预警 — public-opinion monitoring and early warning"
    )
    parser.add_argument(
        "--config", help="YAML config file (default: $YUQING_CONFIG or config/yuqing.yaml)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = load_settings(args.config)
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        return 130
    except (ConfigError, CliError) as exc:
        print(f"yuqing: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            raise
        msg = str(exc).splitlines()[0] if str(exc) else ""
        print(
            f"yuqing: error: {type(exc).__name__}: {msg} (run with --debug for details)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
