"""Shared harness for the dashboard's browser tests and benchmark.

Starts ``yuqing run`` as a subprocess on a free loopback port with a temporary data directory
(and a config derived from the documented default), and drives Debian's Chromium through
Playwright — never a downloaded browser. Nothing here skips: a missing browser or endpoint
fails the test that needs it, with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts" / "dashboard"
CHROMIUM = os.environ.get("YUQING_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A critical match rule on a token only the tests write, so the test's alert is unambiguous.
TEST_TOKEN = "测试演练QX7391"
TEST_RULE = {
    "name": "dashboard_e2e",
    "description": "仪表盘端到端测试规则",
    "type": "match",
    "severity": "critical",
    "filter": {"query": TEST_TOKEN},
    "key": "source",
    "realert": "1h",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp: Path, port: int, extra_rules: list[dict] | None = None) -> Path:
    """The documented default config with this run's port and data dir (and test rules)."""
    cfg = yaml.safe_load((REPO / "config" / "yuqing.yaml").read_text(encoding="utf-8")) or {}
    cfg["data_dir"] = str(tmp / "var")
    cfg.setdefault("server", {})["port"] = port
    cfg["server"]["host"] = "127.0.0.1"
    if extra_rules:
        alerts = cfg.setdefault("alerts", {})
        alerts["rules"] = list(alerts.get("rules") or []) + extra_rules
    path = tmp / "yuqing.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


class Service:
    """A running ``yuqing run`` with its admin key."""

    def __init__(self, tmp: Path, extra_rules: list[dict] | None = None) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.config = write_config(tmp, self.port, extra_rules)
        self.env = dict(
            os.environ,
            YUQING_CONFIG=str(self.config),
            YUQING_TORCH_THREADS="1",
            OMP_NUM_THREADS="1",
        )
        for k in list(self.env):
            if k.startswith("YUQING__"):
                del self.env[k]  # the test's config file is the whole truth
        self.log = open(tmp / "service.log", "w")  # noqa: SIM115  (closed in stop)
        self.proc = subprocess.Popen(
            self.cli("run"), cwd=REPO, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.key = self._wait_ready()

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "core.cli", "--config", str(self.config), *args]

    def _wait_ready(self, timeout: float = 120) -> str:
        key_file = self.tmp / "var" / "secrets" / "admin.key"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"yuqing run exited: {self.log_tail()}")
            try:
                ok = httpx.get(f"{self.base}/api/v1/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok and key_file.exists():
                return key_file.read_text().strip()
            time.sleep(0.3)
        raise AssertionError(f"yuqing run did not come up in {timeout}s: {self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        self.log.flush()
        return (self.tmp / "service.log").read_text(errors="replace")[-n:]

    def run_cli(self, *args: str, timeout: float = 600) -> str:
        r = subprocess.run(
            self.cli(*args), cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert r.returncode == 0, f"yuqing {' '.join(args)} failed: {r.stderr[-2000:]}"
        return r.stdout

    def add_key(self, name: str, role: str) -> str:
        return self.run_cli("keys", "add", name, "--role", role).splitlines()[0].strip()

    def http(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.base}/api/v1", headers={"X-API-Key": key or self.key}, timeout=30
        )

    def wait_processed(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            h = httpx.get(f"{self.base}/api/v1/health", timeout=5).json()
            if h["checks"]["inbox_pending"] == 0:
                return
            time.sleep(0.5)
        raise AssertionError("the inbox did not drain")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@contextmanager
def chromium(tmp: Path, viewport: dict[str, int] | None = None) -> Iterator[Any]:
    """Debian's Chromium under Playwright with a fresh profile directory (a browser context).

    Pages opened from it share cookies and localStorage but each tab has its own
    sessionStorage, which is where the dashboard keeps the API key.
    """
    from playwright.sync_api import sync_playwright

    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        raise AssertionError(f"{CHROMIUM} not found: run `make browser-deps` (apt-get chromium)")
    profile = tmp / f"chromium-profile-{time.monotonic_ns()}"
    profile.mkdir(parents=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=viewport or {"width": 1600, "height": 900},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        try:
            yield context
        finally:
            context.close()


def login(page: Any, base: str, key: str, timeout_ms: int = 30_000) -> None:
    page.goto(f"{base}/")
    page.wait_for_selector("#login-key", state="visible", timeout=timeout_ms)
    page.fill("#login-key", key)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#app:not([hidden])", timeout=timeout_ms)


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
