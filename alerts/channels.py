"""Delivery channels: SMTP email, SMS HTTP gateway, WeCom / DingTalk / Feishu robots, JSON webhook.

Each ``send`` raises :class:`SendError` (``permanent`` when retrying cannot help: a rejected
address, a 4xx from a robot) and carries the notification's idempotency key where the
protocol allows it (Message-ID, ``Idempotency-Key`` header, SMS ``request_id``). Secrets are read
at send time with :func:`core.config.read_secret` and never appear in errors or logs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.parse
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import httpx

from alerts.config import ChannelsConfig
from alerts.routing import ContactError, normalize_phone
from core.config import read_secret

SMS_SEGMENT = 70


class SendError(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def sms_segments(text: str, size: int = SMS_SEGMENT, max_segments: int = 3) -> list[str]:
    """Split into 70-character segments (a GSM/UCS-2 SMS holds 70 Chinese characters)."""
    text = " ".join(text.split())
    limit = size * max_segments
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot signing: base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")), URL-encoded."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu robot signing: base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _check_response(resp: httpx.Response, what: str, ok_field: str | None = "errcode") -> None:
    if resp.status_code >= 500 or resp.status_code == 429:
        raise SendError(f"{what}: HTTP {resp.status_code}")
    if resp.status_code >= 400:
        raise SendError(f"{what}: HTTP {resp.status_code}", permanent=True)
    if ok_field is None:
        return
    try:
        body = resp.json()
    except ValueError:
        raise SendError(f"{what}: response is not JSON") from None
    code = body.get(ok_field, body.get("code", 0)) if isinstance(body, dict) else 0
    if code not in (0, "0", None):
        msg = body.get("errmsg") or body.get("msg") or ""
        raise SendError(f"{what}: error {code} {str(msg)[:200]}", permanent=False)


class Channels:
    def __init__(self, cfg: ChannelsConfig, timeout: float | None = None) -> None:
        self.cfg = cfg
        self._http = httpx.Client(timeout=timeout or 10.0, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def send(
        self, channel: str, target: str, payload: dict[str, Any], idem_key: str, contact: dict
    ) -> None:
        fn = getattr(self, f"_send_{channel}", None)
        if fn is None:
            raise SendError(f"unknown channel {channel!r}", permanent=True)
        fn(target, payload, idem_key, contact)

    # ---- email ---------------------------------------------------------------------------
    def build_email(self, target: str, payload: dict[str, Any], idem_key: str) -> EmailMessage:
        c = self.cfg.email
        msg = EmailMessage()
        msg["Subject"] = payload["subject"]
        msg["From"] = c.sender
        msg["To"] = target
        msg["Date"] = formatdate(localtime=True)
        digest = hashlib.sha1(idem_key.encode()).hexdigest()[:24]
        msg["Message-ID"] = f"<{digest}@yuqing.local>"  # same key → same id: receivers can dedup
        msg["X-Yuqing-Idempotency-Key"] = idem_key
        msg.set_content(payload["text"], charset="utf-8")
        msg.add_alternative(payload["html"], subtype="html", charset="utf-8")
        return msg

    def _send_email(self, target: str, payload: dict[str, Any], idem_key: str, contact) -> None:
        c = self.cfg.email
        msg = self.build_email(target, payload, idem_key)
        password = read_secret(c.password_env, c.password_file)
        try:
            if c.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    c.host, c.port, timeout=c.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            with smtp:
                if c.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if c.username:
                    smtp.login(c.username, password or "")
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendError(f"email: recipient refused ({len(exc.recipients)})", True) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(f"email: authentication failed ({exc.smtp_code})") from None
        except smtplib.SMTPResponseException as exc:
            raise SendError(
                f"email: SMTP {exc.smtp_code}", permanent=500 <= exc.smtp_code < 600
            ) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise SendError(f"email: {type(exc).__name__}: {str(exc)[:200]}") from None

    # ---- SMS -----------------------------------------------------------------------------
    def sms_text(self, payload: dict[str, Any]) -> str:
        c = self.cfg.sms
        try:
            return c.template.format(
                sign=c.sign,
                severity=payload["severity_zh"],
                title=payload["title"],
                summary=payload["short"],
                link=payload["link"],
                reason=payload["reason"],
            )
        except (KeyError, IndexError, ValueError) as exc:
            raise SendError(f"sms: template error {exc}", permanent=True) from None

    def _send_sms(self, target: str, payload: dict[str, Any], idem_key: str, contact) -> None:
        c = self.cfg.sms
        if not c.url:
            raise SendError("sms: alerts.channels.sms.url is not configured", permanent=True)
        try:
            phone = normalize_phone(target)
        except ContactError as exc:
            raise SendError(f"sms: {exc}", permanent=True) from None
        segments = sms_segments(self.sms_text(payload), max_segments=c.max_segments)
        headers = {"Idempotency-Key": idem_key}
        token = read_secret(c.token_env, c.token_file)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = {
            "phone": phone,
            "message": "".join(segments),
            "segments": segments,
            "request_id": idem_key,
        }
        try:
            resp = self._http.post(c.url, json=body, headers=headers, timeout=c.timeout)
        except httpx.HTTPError as exc:
            raise SendError(f"sms: {type(exc).__name__}") from None
        _check_response(resp, "sms", ok_field=None)

    # ---- robots / webhook ------------------------------------------------------------------
    def _secret(self, kind: str, contact: dict) -> str | None:
        rc = getattr(self.cfg, kind)
        return read_secret(contact.get("webhook_secret_env") or rc.secret_env, rc.secret_file)

    def _post(self, what: str, url: str, body: dict, headers: dict, ok_field: str | None):
        try:
            resp = self._http.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SendError(f"{what}: {type(exc).__name__}") from None
        _check_response(resp, what, ok_field)

    def _markdown(self, payload: dict[str, Any]) -> str:
        lines = [f"### {payload['subject']}"]
        for a in payload["alerts"][:10]:
            lines.append(f"- **{a['title']}**（编号 {a['id']}，{a.get('key') or ''}）")
        lines.append(f"\n[查看并处置]({payload['link']})")
        return "\n".join(lines)

    def _send_wecom(self, target: str, payload, idem_key: str, contact) -> None:
        body = {"msgtype": "markdown", "markdown": {"content": self._markdown(payload)}}
        self._post("wecom", target, body, {}, "errcode")

    def _send_dingtalk(self, target: str, payload, idem_key: str, contact) -> None:
        url = target
        secret = self._secret("dingtalk", contact)
        if secret:
            ts = int(time.time() * 1000)
            sep = "&" if "?" in url else "?"
            url = f"{url}{sep}timestamp={ts}&sign={dingtalk_sign(secret, ts)}"
        body = {
            "msgtype": "markdown",
            "markdown": {"title": payload["subject"][:60], "text": self._markdown(payload)},
        }
        self._post("dingtalk", url, body, {}, "errcode")

    def _send_feishu(self, target: str, payload, idem_key: str, contact) -> None:
        body: dict[str, Any] = {
            "msg_type": "text",
            "content": {"text": f"{payload['subject']}\n{payload['short']}\n{payload['link']}"},
        }
        secret = self._secret("feishu", contact)
        if secret:
            ts = int(time.time())
            body["timestamp"] = str(ts)
            body["sign"] = feishu_sign(secret, ts)
        self._post("feishu", target, body, {}, "code")

    def _send_webhook(self, target: str, payload, idem_key: str, contact) -> None:
        body = {
            "idempotency_key": idem_key,
            "subject": payload["subject"],
            "severity": payload["severity"],
            "reason": payload["reason"],
            "text": payload["text"],
            "link": payload["link"],
            "alerts": payload["alerts"],
        }
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Idempotency-Key": idem_key, "Content-Type": "application/json"}
        secret = self._secret("webhook", contact)
        if secret:
            sig = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
            headers["X-Yuqing-Signature"] = f"sha256={sig}"
        try:
            resp = self._http.post(target, content=raw, headers=headers)
        except httpx.HTTPError as exc:
            raise SendError(f"webhook: {type(exc).__name__}") from None
        _check_response(resp, "webhook", ok_field=None)
