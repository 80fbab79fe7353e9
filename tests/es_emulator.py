"""An Elasticsearch endpoint for tests: the noida-db emulator, or a real cluster via $YUQING_ES_URL.

The emulator (PyPI ``noida-db``, a Go binary posing as ES 8.15.3) is started once per test
process on a free loopback port and stopped at exit. It is **not Elasticsearch**: results
obtained against it say nothing about performance or about behaviour it does not emulate
(no ILM, no ``composite`` aggregation, ``missing`` in terms aggregations ignored).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

START_TIMEOUT = 20.0
_lock = threading.Lock()
_emulator: Emulator | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary() -> Path:
    from importlib.resources import files

    path = Path(str(files("noida_db").joinpath("noida-db")))
    if not path.is_file():
        raise RuntimeError(f"noida-db binary not found at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


class Emulator:
    """One noida-db process serving only its Elasticsearch endpoint."""

    def __init__(self, port: int | None = None, data_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="yuqing-noida-"))
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = self.data_dir / "noida.log"

    def start(self) -> Emulator:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        logf = open(self.log, "ab")  # noqa: SIM115 - handed to the child process
        self.proc = subprocess.Popen(
            [
                str(_binary()),
                "start",
                "--data-dir",
                str(self.data_dir / "data"),
                "--host",
                "127.0.0.1",
                "--only",
                "elasticsearch",
                "--elasticsearch-port",
                str(self.port),
            ],
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        logf.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"noida-db exited: {self.log.read_text(errors='replace')[-500:]}"
                )
            if _ready(self.url):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"noida-db did not answer on {self.url} within {START_TIMEOUT:.0f}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def es_url() -> str:
    """The URL of the cluster tests use: $YUQING_ES_URL, else the shared emulator (started once)."""
    url = os.environ.get("YUQING_ES_URL")
    if url:
        return url.rstrip("/")
    global _emulator
    with _lock:
        if _emulator is None:
            _emulator = Emulator().start()
            atexit.register(_emulator.cleanup)
        return _emulator.url


def es_config(url: str | None = None, prefix: str | None = None, **overrides):
    from core.config import ElasticsearchStoreConfig

    if os.environ.get("YUQING_ES_CA_CERTS"):  # a real cluster with its own CA
        overrides.setdefault("ca_certs", os.environ["YUQING_ES_CA_CERTS"])
    if not os.environ.get("YUQING_ES_URL"):  # the emulator: no credentials from the environment
        overrides.setdefault("password_env", None)
        overrides.setdefault("api_key_env", None)
    return ElasticsearchStoreConfig(
        hosts=[url or es_url()],
        index_prefix=prefix or f"yqt-{uuid.uuid4().hex[:10]}",
        **overrides,
    )


def drop_indices(cfg) -> None:
    """Delete everything a test created under its prefix (a real cluster keeps no leftovers)."""
    from store.elasticsearch import make_client
    from store.es_mapping import IndexNames

    names = IndexNames(cfg.index_prefix)
    es = make_client(cfg)
    try:
        with contextlib.suppress(Exception):
            for ix in es.indices.get(index=f"{cfg.index_prefix}-*").body:
                es.indices.delete(index=ix)
        with contextlib.suppress(Exception):
            es.indices.delete_index_template(name=names.template)
    finally:
        es.close()


@contextlib.contextmanager
def es_store(tmp_path: Path | None = None) -> Iterator[object]:
    """A fresh, empty Elasticsearch store under a unique index prefix (the conformance factory)."""
    from store.elasticsearch import ElasticsearchStore

    cfg = es_config()
    store = ElasticsearchStore(cfg)
    try:
        yield store
    finally:
        store.close()
        drop_indices(cfg)
