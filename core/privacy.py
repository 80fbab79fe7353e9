"""Author ids are stored only as salted hashes; the salt never leaves the machine."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path


def load_salt(env: str, file: Path) -> bytes:
    value = os.environ.get(env)
    if value:
        return value.encode()
    if file.exists():
        return file.read_bytes().strip()
    file.parent.mkdir(parents=True, exist_ok=True)
    salt = secrets.token_hex(32).encode()
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(salt)
    return salt


@lru_cache(maxsize=8)
def _salt_for(env: str, file: str) -> bytes:
    return load_salt(env, Path(file))


def hash_author(
    source: str, author_id: str | int | None, *, env: str, file: str | Path
) -> str | None:
    if author_id is None or str(author_id) == "":
        return None
    salt = _salt_for(env, str(file))
    return hmac.new(salt, f"{source}|{author_id}".encode(), hashlib.sha256).hexdigest()[:32]
