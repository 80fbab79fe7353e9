"""The newcomer's path: `yuqing run` in one process, `yuqing demo` in another, then search over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_then_demo_then_search(tmp_path: Path):
    port = free_port()
    env = dict(
        os.environ,
        YUQING__DATA_DIR=str(tmp_path / "var"),
        YUQING__SERVER__PORT=str(port),
        YUQING_CONFIG=str(Path(__file__).resolve().parent.parent / "config" / "yuqing.yaml"),
    )
    yuqing = [sys.executable, "-m", "core.cli"]
    log = (tmp_path / "run.log").open("w")  # a file, not a pipe: an unread pipe blocks the server
    server = subprocess.Popen(yuqing + ["run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        key_file = tmp_path / "var" / "secrets" / "admin.key"
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if (
                    httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200
                    and key_file.exists()
                ):
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (tmp_path / "run.log").read_text()
            time.sleep(0.5)
        else:
            raise AssertionError("service did not come up")
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
        key = key_file.read_text().strip()

        demo = subprocess.run(
            yuqing + ["demo"], env=env, capture_output=True, text=True, timeout=600
        )
        assert demo.returncode == 0, demo.stderr
        assert "processed by the running service" in demo.stdout

        r = httpx.get(
            f"{base}/api/v1/posts",
            params={"q": "物业", "window": "7d"},
            headers={"X-API-Key": key},
            timeout=10,
        )
        assert r.status_code == 200
        body = r.json()
        assert body["total"] > 50
        assert all(
            "<em>物业</em>" in (h["highlights"].get("text", "") + h["highlights"].get("title", ""))
            for h in body["hits"]
        )
        assert httpx.get(f"{base}/api/v1/posts", timeout=5).status_code == 401
        home = httpx.get(f"{base}/", timeout=5, follow_redirects=True)
        assert home.status_code == 200
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
