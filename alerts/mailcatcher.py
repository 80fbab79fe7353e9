"""A local SMTP mail catcher (aiosmtpd on 127.0.0.1) for the demo and the tests.

``yuqing alerts mailcatcher`` runs it standing, so ``yuqing run`` with the default config
(SMTP 127.0.0.1:1025) delivers there; every message is kept in memory and written as an
``.eml`` file under ``var/demo-mail/``.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
        if self.catcher.refuse:
            return "451 temporarily unavailable"
        if self.catcher.delay:
            await asyncio.sleep(self.catcher.delay)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.catcher._add(msg, envelope.rcpt_tos)
        return "250 OK"


class MailCatcher:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, out_dir: Path | None = None):
        self.host, self.port = host, port
        self.out_dir = out_dir
        self.messages: list[EmailMessage] = []
        self.received_at: list[float] = []
        self.refuse = False
        self.delay = 0.0  # seconds per message (tests: a slow server to kill a sender mid-send)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._controller: Controller | None = None

    def _add(self, msg: EmailMessage, rcpts: list[str]) -> None:
        with self._cond:
            self.messages.append(msg)
            self.received_at.append(time.time())
            n = len(self.messages)
            self._cond.notify_all()
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / f"{int(time.time())}-{n:05d}.eml").write_bytes(bytes(msg))

    def start(self) -> MailCatcher:
        if not self.port:
            with socket.socket() as s:
                s.bind((self.host, 0))
                self.port = s.getsockname()[1]
        self._controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, ready_timeout=10
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, n: int, timeout: float = 10.0) -> bool:
        deadline = time.time() + timeout
        with self._cond:
            while len(self.messages) < n:
                left = deadline - time.time()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
