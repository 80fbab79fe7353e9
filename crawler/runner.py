"""Run one source's crawl in its own process and record the outcome as source health.

Each crawl is ``python -m scrapy crawl SPIDER -a source=NAME`` with a fresh JOBDIR, a run-report
path and a wall-clock timeout (the process group is killed past it), so a hung or crashing site
never takes the service or the other sources with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import yaml

from core.config import Settings
from crawler import health
from crawler.config import REPO_ROOT, SourceConfig, resolve_path

KEEP_JOBDIRS = 3


@dataclass
class RunResult:
    source: str
    ok: bool
    items: int = 0
    rejected: int = 0
    pages: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    message: str | None = None
    returncode: int | None = None
    seconds: float = 0.0
    report: dict | None = None


def child_config(settings: Settings) -> Path:
    """The parent's effective settings (env overrides applied) for the crawl processes."""
    data = settings.model_dump(mode="json")
    data["data_dir"] = str(Path(settings.data_dir).resolve())
    data["crawler"]["sources"] = str(Path(resolve_path(settings.crawler.sources)).resolve())
    path = settings.path("crawl/settings.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(data, fh, allow_unicode=True, sort_keys=False)
    os.replace(tmp, path)
    return path.resolve()


def _prune_jobdirs(root: Path) -> None:
    if not root.is_dir():
        return
    runs = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name)
    for old in runs[:-KEEP_JOBDIRS]:
        shutil.rmtree(old, ignore_errors=True)


def run_source(
    settings: Settings,
    src: SourceConfig,
    *,
    timeout: float | None = None,
    log: IO | None = None,
    stop: threading.Event | None = None,
    record: bool = True,
) -> RunResult:
    """Crawl one source once in a subprocess; never raises for a failing site."""
    conn = None
    run_id = None
    if record:
        from core.db import connect

        conn = connect(settings.path(settings.app_db), durable=True)
        run_id = health.record_start(conn, src.name, src.spider)
    started = time.time()
    try:
        result = _run(settings, src, timeout or settings.crawler.run_timeout, log, stop)
    except Exception as exc:  # could not even start the process
        result = RunResult(src.name, ok=False, message=f"could not start crawl: {exc}")
    result.seconds = time.time() - started
    if conn is not None and run_id is not None:
        try:
            health.record_finish(
                conn,
                run_id,
                ok=result.ok,
                items=result.items,
                rejected=result.rejected,
                pages=result.pages,
                errors=result.errors,
                message=result.message,
            )
        finally:
            conn.close()
    return result


def _run(settings: Settings, src: SourceConfig, timeout: float, log, stop) -> RunResult:
    cfg = child_config(settings)
    stamp = f"{int(time.time() * 1000)}"
    jobs_root = settings.path(settings.crawler.jobs_dir) / src.name
    jobdir = jobs_root / stamp
    report = settings.path("crawl/reports") / f"{src.name}-{stamp}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        src.spider,
        "-a",
        f"source={src.name}",
        "-s",
        f"JOBDIR={jobdir}",
        "-s",
        f"YUQING_RUN_REPORT={report}",
    ]
    env = dict(os.environ)
    env["SCRAPY_SETTINGS_MODULE"] = "crawler.settings"
    env["YUQING_CONFIG"] = str(cfg)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    own_log = None
    if log is None:
        log_path = settings.path("crawl/logs") / f"{src.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        own_log = log = log_path.open("w", encoding="utf-8")
    try:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        deadline = time.time() + timeout
        reason = None
        while True:
            try:
                rc = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if time.time() > deadline:
                    reason = f"timed out after {timeout:.0f}s (killed)"
                elif stop is not None and stop.is_set():
                    reason = "stopped with the service"
                if reason:
                    _kill_group(proc)
                    rc = proc.wait()
                    break
    finally:
        if own_log is not None:
            own_log.close()
    rep = None
    if report.exists():
        try:
            rep = json.loads(report.read_text(encoding="utf-8"))
        except ValueError:
            rep = None
        report.unlink(missing_ok=True)
    _prune_jobdirs(jobs_root)
    return _result(src.name, rc, rep, reason)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _result(name: str, rc: int, rep: dict | None, reason: str | None) -> RunResult:
    res = RunResult(name, ok=False, returncode=rc, report=rep)
    if rep:
        res.items = int(rep.get("items", 0))
        res.rejected = int(rep.get("rejected", 0))
        res.pages = int(rep.get("pages", 0))
        res.errors = {k: int(v) for k, v in (rep.get("errors") or {}).items()}
    if reason:
        res.errors["killed"] = res.errors.get("killed", 0) + 1
        res.message = reason
        return res
    if rc != 0 or rep is None:
        res.errors["crash"] = res.errors.get("crash", 0) + 1
        res.message = f"crawl process exited with code {rc} (see crawl/logs/{name}.log)"
        return res
    if int(rep.get("list_pages_ok", 0)) == 0:
        kinds = (
            ", ".join(f"{k}×{v}" for k, v in sorted(res.errors.items())) or "no list page parsed"
        )
        res.message = f"no feed/list page could be read ({kinds})"
        return res
    res.ok = True
    if res.errors:
        kinds = ", ".join(f"{k}×{v}" for k, v in sorted(res.errors.items()))
        res.message = f"finished with errors: {kinds}"
    return res
