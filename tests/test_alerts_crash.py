"""SIGKILL of the engine mid-dispatch, then a restart: no alert lost, nothing sent twice to the
same contact for the same occurrence beyond the documented at-least-once window (the one
message in flight when the process died, resent with the same idempotency key)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

from alerts.mailcatcher import MailCatcher
from tests.alerts_support import alert_settings
from tests.conftest import REPO

CHILD = r"""
import json, sys, time
from core.config import load_settings
from core.services import Services
from alerts.engine import Engine
from alerts.routing import import_contacts
from tests.alerts_support import post
settings = load_settings(sys.argv[1], environ={})
services = Services.open(settings)
engine = Engine(settings, services.store)
import_contacts(engine.conn, [{"name": f"网格员{i}", "level": "grid", "grid_id": f"G{i}",
                               "email": f"g{i}@example.com"} for i in range(8)], "t", "t")
now = float(sys.argv[2])
posts = [post(f"c:{i}", now, "有人扬言聚集", grid=f"G{i}", risk="critical") for i in range(8)]
services.store.upsert(posts)
engine.on_posts(posts)          # a restart re-processes the same batch: must be a no-op
print("fired", flush=True)
deadline = time.time() + 60
while time.time() < deadline and engine.has_pending():
    engine.deliver_once()
    time.sleep(0.05)
print("done", flush=True)
"""


def test_sigkill_mid_dispatch_then_restart(tmp_path):
    with MailCatcher() as catcher:
        catcher.delay = 0.4  # slow server: the child is mid-send when killed
        settings = alert_settings(
            tmp_path,
            catcher.port,
            rules=[
                {
                    "name": "crit",
                    "type": "match",
                    "severity": "critical",
                    "filter": {"risk": ["critical"]},
                    "key": "grid_id",
                }
            ],
        )
        cfg = tmp_path / "yuqing.yaml"
        assert cfg.exists() and settings.alerts.outbox.lease == 2
        script = tmp_path / "child.py"
        script.write_text(CHILD, encoding="utf-8")
        env = dict(os.environ, PYTHONPATH=str(REPO))
        now = str(time.time())
        child = subprocess.Popen(
            [sys.executable, str(script), str(cfg), now],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert catcher.wait_for(3, timeout=60), child.stderr.read() if child.poll() else ""
            time.sleep(0.2)  # the 4th message is in flight
            child.send_signal(signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
        got_before = len(catcher.messages)
        assert got_before < 8
        catcher.delay = 0.0
        time.sleep(2.2)  # the killed sender's lease (alerts.outbox.lease = 2s) expires
        again = subprocess.run(
            [sys.executable, str(script), str(cfg), now],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 0, again.stderr[-2000:]
        assert "done" in again.stdout
        catcher.wait_for(8, timeout=10)
        per_contact = Counter(m["To"] for m in catcher.messages)
        assert set(per_contact) == {f"g{i}@example.com" for i in range(8)}  # nothing lost
        dups = {k: n for k, n in per_contact.items() if n > 1}
        assert sum(n - 1 for n in dups.values()) <= 1, dups  # ≤ the one message in flight
        for to in dups:
            keys = {m["X-Yuqing-Idempotency-Key"] for m in catcher.messages if m["To"] == to}
            assert len(keys) == 1  # the resend carries the same idempotency key
        import sqlite3

        db = sqlite3.connect(settings.path(settings.app_db))
        assert db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 8
        assert db.execute("SELECT COUNT(*) FROM alert_outbox").fetchone()[0] == 8
        statuses = {r[0] for r in db.execute("SELECT status FROM alert_outbox")}
        assert statuses == {"sent"}, json.dumps(statuses)
