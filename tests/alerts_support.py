"""Helpers for the alert tests: posts with enrichment set directly, HTTP receivers, settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from core.schema import Post
from tests.conftest import make_settings

DING_SECRET = "SEC-test-dingtalk-secret"


def post(
    pid: str,
    ts: float,
    text: str = "小区门口有人反映问题",
    *,
    grid: str | None = None,
    street: str | None = None,
    community: str | None = None,
    sentiment: str | None = None,
    category: str | None = None,
    risk: str | None = None,
    event: str | None = None,
    source: str = "weibo",
    source_type: str = "microblog",
) -> Post:
    geo = None
    if grid or street or community:
        geo = {"grid_id": grid, "street": street, "community": community, "level": "grid"}
    return Post(
        id=pid,
        source=source,
        source_type=source_type,
        text=text,
        published_at=datetime.fromtimestamp(ts, UTC),
        geo=geo,
        sentiment={"label": sentiment, "score": 0.9} if sentiment else None,
        category={"label": category} if category else None,
        risk={"level": risk} if risk else None,
        event_id=event,
    )


class Receiver:
    """A loopback HTTP server recording JSON POSTs; ``status`` and ``reply`` set the answer."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.reply: dict[str, Any] = {"errcode": 0, "code": 0}
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                url = urllib.parse.urlsplit(self.path)
                req = {
                    "path": url.path,
                    "query": dict(urllib.parse.parse_qsl(url.query)),
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "raw": raw,
                    "json": json.loads(raw or b"null"),
                }
                reply = dict(outer.reply)
                if url.path.startswith("/dingtalk"):
                    reply = outer._dingtalk(req)
                with outer.lock:
                    outer.requests.append(req)
                body = json.dumps(reply).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def _dingtalk(req) -> dict[str, Any]:
        ts, sign = req["query"].get("timestamp"), req["query"].get("sign")
        if not ts or not sign:
            return {"errcode": 310000, "errmsg": "sign missing"}
        expect = base64.b64encode(
            hmac.new(DING_SECRET.encode(), f"{ts}\n{DING_SECRET}".encode(), hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(expect, sign):
            return {"errcode": 310000, "errmsg": "sign not match"}
        return {"errcode": 0, "errmsg": "ok"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def alert_settings(tmp_path: Path, smtp_port: int = 1, **alerts: Any):
    cfg = {
        "interval": 1,
        "routes": [
            {
                "name": "all",
                "levels": ["grid", "street", "district"],
                "channels": ["email", "sms", "wecom", "dingtalk", "feishu", "webhook"],
                "group_by": ["id"],
                "group_wait": 0,
                "group_interval": 0,
            }
        ],
        "channels": {"email": {"port": smtp_port, "timeout": 5}},
        "outbox": {"backoff_initial": 0.1, "backoff_max": 0.3, "lease": 2, "dead_after": 600},
        "escalation": {"enabled": False},
    }
    cfg.update(alerts)
    return make_settings(tmp_path, alerts=cfg)
