"""``yuqing run`` (everything) and ``yuqing serve`` (API only), plus ``process``."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from core.config import Settings
from core.services import Services

log = logging.getLogger("yuqing")


def bootstrap_admin_key(services: Services) -> None:
    """On a fresh data dir create one admin key, store it 0600 and print it once."""
    if services.keys.count_active() > 0:
        return
    key = services.keys.add("admin", "admin")
    path = services.settings.path("secrets/admin.key")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    print(
        f"\n  首次启动：已创建管理员 API key（admin），保存在 {path}\n  First start: admin API key saved to {path}\n",
        file=sys.stderr,
    )


def _serve(settings: Settings, workers: bool) -> int:
    import uvicorn

    from api.app import create_app

    services = Services.open(settings)
    bootstrap_admin_key(services)
    if workers:
        services.start_workers()
    app = create_app(services)
    url = f"http://{settings.server.host}:{settings.server.port}"
    print(
        f"yuqing: serving {url}  (dashboard {url}/ , API docs {url}/docs, data in {Path(settings.data_dir).resolve()})",
        file=sys.stderr,
    )
    try:
        uvicorn.run(app, host=settings.server.host, port=settings.server.port, log_level="warning")
    finally:
        services.close()
    return 0


def cmd_run(args, settings: Settings) -> int:
    return _serve(settings, workers=True)


def cmd_serve(args, settings: Settings) -> int:
    return _serve(settings, workers=False)


def cmd_process(args, settings: Settings) -> int:
    services = Services.open(settings)
    try:
        n = services.make_processor().drain()
        print(
            f"processed {n} records; {services.inbox.pending()} pending, {services.inbox.deadletter_count()} dead letters"
        )
    finally:
        services.close()
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "run", help="start everything: API + dashboard, processor and background workers"
    )
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("serve", help="start the API and dashboard only")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("process", help="process the inbox once in this process and exit")
    p.set_defaults(func=cmd_process)
