"""``yuqing keys add|list|revoke``."""

from __future__ import annotations

from datetime import datetime

from core.cli import CliError
from core.config import Settings
from core.db import connect
from core.keys import ROLES, KeyError_, KeyStore


def cmd_keys(args, settings: Settings) -> int:
    settings.ensure_dirs()
    conn = connect(settings.path(settings.app_db))
    try:
        ks = KeyStore(conn)
        if args.action == "add":
            if not args.name:
                raise CliError("keys add needs a NAME")
            try:
                key = ks.add(args.name, args.role)
            except KeyError_ as exc:
                raise CliError(str(exc)) from None
            print(key)
            print(
                f"(key for {args.name!r}, role {args.role}: shown once, store it safely)",
                flush=True,
            )
        elif args.action == "list":
            for k in ks.list():
                state = "revoked" if k["revoked_at"] else "active"
                created = datetime.fromtimestamp(k["created_at"]).strftime("%Y-%m-%d %H:%M")
                print(
                    f"{k['name']:<24} {k['role']:<8} {k['prefix']}…  {state:<8} created {created}"
                )
        else:
            if not args.name:
                raise CliError("keys revoke needs a NAME")
            if not ks.revoke(args.name):
                raise CliError(f"no active key named {args.name!r}")
            print(f"revoked {args.name}")
        return 0
    finally:
        conn.close()


def register(sub) -> None:
    p = sub.add_parser("keys", help="manage API keys")
    p.add_argument("action", choices=["add", "list", "revoke"])
    p.add_argument("name", nargs="?")
    p.add_argument("--role", choices=ROLES, default="viewer")
    p.set_defaults(func=cmd_keys)
