"""Durable ingestion: validation with reasons, dead letters, idempotent re-ingest, CLI, crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.cli import main as cli_main
from core.queue import Inbox
from store.base import Filters


def rec(i: int, **kw) -> dict:
    r = {
        "id": f"x:{i}",
        "source": "weibo",
        "source_type": "microblog",
        "text": f"第{i}条：小区物业不作为，电梯坏了",
        "published_at": "2026-11-20T10:00:00",
    }
    r.update(kw)
    return r


def test_invalid_records_rejected_with_reason_valid_ones_go_in(services):
    records = [
        rec(1),
        rec(2, source_type="carrier-pigeon"),
        rec(3, text=""),
        {"id": "x:4"},
        rec(5, published_at="not a date"),
        "not an object",
        rec(6, url="javascript:alert(1)"),
        rec(7),
    ]
    result = services.inbox.put(records, origin="test")
    assert result.accepted == 2
    reasons = {r.index: r.reason for r in result.rejected}
    assert set(reasons) == {1, 2, 3, 4, 5, 6}
    assert "source_type" in reasons[1] and "x:2" in reasons[1]
    assert "text" in reasons[2]
    assert "published_at" in reasons[4]
    assert "url" in reasons[6]
    assert services.inbox.deadletter_count() == 6
    services.make_processor().drain()
    assert sorted(p.id for p in services.store.iter_posts(Filters())) == ["x:1", "x:7"]


def test_naive_time_is_beijing_time(services):
    services.inbox.put([rec(1, published_at="2026-11-20 08:00:00")])
    services.make_processor().drain()
    p = services.store.get("x:1")
    assert p.published_at.utcoffset().total_seconds() == 8 * 3600
    assert p.published_at.hour == 8


def test_reingest_updates_never_duplicates(services):
    proc = services.make_processor()
    services.inbox.put([rec(1), rec(2)])
    proc.drain()
    services.inbox.put([rec(1, text="更新后的内容：暖气不热"), rec(2)])
    proc.drain()
    assert services.store.count(Filters()) == 2
    assert services.store.get("x:1").text == "更新后的内容：暖气不热"
    assert services.inbox.pending() == 0


def test_processing_failure_retries_then_dead_letters(services, monkeypatch):
    proc = services.make_processor()

    class Boom:
        name = "boom"

        def __call__(self, posts):
            for p in posts:
                if "毒" in p.text:
                    raise RuntimeError("model exploded")
            return posts

    proc.pipeline.components.append(Boom())
    services.inbox.put([rec(1), rec(2, text="毒数据"), rec(3)])
    proc.drain()
    assert services.store.count(Filters()) == 2  # the good ones are not held back
    # the bad one is retried with back-off, then dead-lettered after max_attempts
    for _ in range(services.settings.queue.max_attempts):
        services.inbox.conn.execute("UPDATE inbox SET claimed_until=0")
        proc.drain()
    assert services.inbox.pending() == 0
    dead = services.inbox.deadletters()
    assert (
        len(dead) == 1
        and dead[0]["stage"] == "processing"
        and "model exploded" in dead[0]["reason"]
    )


def test_cli_ingest_reports_bad_lines_and_keeps_good(tmp_path, settings, capsys):
    f = tmp_path / "in.jsonl"
    lines = [
        json.dumps(rec(1), ensure_ascii=False),
        "{broken json",
        "",
        json.dumps(rec(2, source_type="x")),
    ]
    f.write_bytes(
        ("\n".join(lines) + "\n").encode()
        + "\xff\xfe bad bytes\n".encode("latin-1")
        + json.dumps(rec(3)).encode()
        + b"\n"
    )
    cfg = tmp_path / "yuqing.yaml"
    assert cfg.exists()
    rc = cli_main(["--config", str(cfg), "ingest", str(f)])
    out = capsys.readouterr()
    assert rc == 3
    assert "accepted 2, rejected 3" in out.out
    assert "line 2: invalid JSON" in out.err and "not UTF-8" in out.err and "line 4" in out.err
    from core.services import Services

    s = Services.open(settings)
    try:
        assert s.store.count(Filters()) == 2
        assert s.inbox.deadletter_count() == 3
    finally:
        s.close()


def test_cli_errors_are_one_line(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("server:\n  port: 99999999\n", encoding="utf-8")
    rc = cli_main(["--config", str(cfg), "search", "物业"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "server.port" in err
    rc = cli_main(["--config", str(tmp_path / "missing.yaml"), "search", "x"])
    assert rc == 2 and "not found" in capsys.readouterr().err


WRITER = r"""
import json, sys
from core.queue import Inbox
inbox = Inbox(sys.argv[1])
n = 0
while True:
    batch = [{"id": f"k:{n+i}", "source": "s", "source_type": "news", "text": "内容" * 50,
              "published_at": "2026-11-20T10:00:00+08:00"} for i in range(50)]
    inbox.put(batch)
    n += 50
    print(n, flush=True)   # acknowledged: committed before this line is written
"""

PROCESSOR = r"""
import sys
from core.config import load_settings
from core.services import Services
s = Services.open(load_settings(sys.argv[1]))
p = s.make_processor()
p.batch_size = 40
print("ready", flush=True)
while True:
    p.process_once()
"""


def test_sigkill_mid_ingest_and_mid_processing_loses_nothing(tmp_path, settings):
    cfg = tmp_path / "yuqing.yaml"
    inbox_path = settings.path(settings.queue.path)
    settings.ensure_dirs()
    Inbox(inbox_path).close()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(inbox_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", PROCESSOR, str(cfg)], stdout=subprocess.PIPE, text=True, env=env
    )
    acked = 0
    deadline = time.time() + 60
    while acked < 1500 and time.time() < deadline:
        line = writer.stdout.readline()
        if not line:
            break
        acked = int(line)
    os.kill(writer.pid, signal.SIGKILL)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    writer.wait(10)
    proc.wait(10)
    # drain whatever the writer printed before dying (all of it was committed)
    rest = writer.stdout.read().split()
    if rest:
        acked = max(acked, int(rest[-1]))
    assert acked >= 500

    from core.services import Services

    s = Services.open(settings)
    try:
        s.make_processor().drain()
        stored = s.store.count(Filters())
        ids = [p.id for p in s.store.iter_posts(Filters())]
        assert len(ids) == len(set(ids)) == stored  # never duplicated
        # everything acknowledged is there; at most the one batch committed after the last
        # acknowledgement line was printed is extra, and it is whole (a batch is one transaction)
        assert stored in (acked, acked + 50)
        assert set(ids) == {f"k:{i}" for i in range(stored)}
        assert s.inbox.pending() == 0
    finally:
        s.close()
    assert Path(inbox_path).exists()


def test_inbox_is_safe_across_threads(services):
    """API threads put while the processor claims and acks: no interleaved transactions."""
    import threading

    errors: list[BaseException] = []
    proc = services.make_processor()
    proc.batch_size = 7

    def producer(k: int) -> None:
        try:
            for j in range(20):
                services.inbox.put([rec(k * 1000 + j * 10 + i) for i in range(5)])
        except BaseException as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    def consumer() -> None:
        try:
            for _ in range(200):
                proc.process_once()
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=producer, args=(k,)) for k in range(3)] + [
        threading.Thread(target=consumer)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    proc.drain()
    assert services.store.count(Filters()) == 300
    # the key store shares app_db between API threads the same way
    names = [f"k{i}" for i in range(20)]
    ts = [threading.Thread(target=services.keys.add, args=(n, "viewer")) for n in names]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert {k["name"] for k in services.keys.list()} >= set(names)


def test_module_entry_point_reports_user_errors_as_one_line(tmp_path):
    """`python -m core.cli` must treat CliError like the installed command does (exit 2, no hint)."""
    env = dict(os.environ, YUQING__DATA_DIR=str(tmp_path / "var"))
    r = subprocess.run(
        [sys.executable, "-m", "core.cli", "keys", "revoke", "nobody"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.strip() == "yuqing: error: no active key named 'nobody'"
