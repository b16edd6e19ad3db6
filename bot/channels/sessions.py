"""Server-issued chat session ids: a client can resume only a session this server (or a replica with the same
key) issued, never one it made up.

An id is `random part + MAC part` (base64url, 44 characters, matching `[A-Za-z0-9_-]{16,64}`), so it is
self-authenticating: socket.io clients such as rasa-webchat, which can only send the id back, resume with it alone.
`/ws` also hands out a per-session secret (an HMAC of the id), and a resume there needs both, so an id seen in a
log line or the agent console is not enough to take a conversation over.

The key is `server.session_key` (`SHOPBOT_SESSION_KEY`) when set, else a random key generated once and kept in
`data_dir/session.key` (mode 0600): restarts, and replicas that share the data folder, agree. Replicas on separate
machines must be given the same `server.session_key`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
from pathlib import Path

log = logging.getLogger("shopbot.sessions")
KEY_FILE = "session.key"
RANDOM_BYTES = 16
MAC_BYTES = 16
ID_SHAPE = re.compile(r"^[A-Za-z0-9_-]{44}\Z")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SessionIds:
    """Issues and checks session ids (and `/ws` secrets) for one channel label each (`web`, `socketio`)."""

    RANDOM_CHARS = len(_b64(bytes(RANDOM_BYTES)))   # 22
    ID_CHARS = RANDOM_CHARS + len(_b64(bytes(MAC_BYTES)))  # 44

    def __init__(self, key: bytes):
        if len(key) < 16:
            raise ValueError("a session key needs at least 16 bytes")
        self._key = key

    @classmethod
    def load(cls, configured: str, data_dir: Path) -> SessionIds:
        """The configured key, else the one kept in `data_dir/session.key` (created on first use)."""
        if configured:
            return cls(configured.encode("utf-8"))
        return cls(read_or_create_key(Path(data_dir) / KEY_FILE))

    def _mac(self, label: str, value: str, size: int) -> bytes:
        return hmac.new(self._key, f"{label}\x00{value}".encode("ascii"), hashlib.sha256).digest()[:size]

    def issue(self, channel: str) -> str:
        """A new session id for `channel`."""
        random_part = _b64(secrets.token_bytes(RANDOM_BYTES))
        return random_part + _b64(self._mac("id:" + channel, random_part, MAC_BYTES))

    def issued(self, channel: str, session_id: object) -> bool:
        """Whether `session_id` is one this key issued for `channel` (constant time; never raises)."""
        if not isinstance(session_id, str) or not ID_SHAPE.match(session_id):
            return False
        random_part, mac_part = session_id[:self.RANDOM_CHARS], session_id[self.RANDOM_CHARS:]
        expected = _b64(self._mac("id:" + channel, random_part, MAC_BYTES))
        return hmac.compare_digest(mac_part.encode("ascii"), expected.encode("ascii"))

    def secret(self, channel: str, session_id: str) -> str:
        """The resume secret of an issued id (only a holder of the key can compute it)."""
        return _b64(self._mac("secret:" + channel, session_id, 32))

    def resumable(self, channel: str, session_id: object, secret: object) -> bool:
        """Whether `session_id` was issued here and `secret` is its secret (constant time; never raises)."""
        if not self.issued(channel, session_id) or not isinstance(secret, str) or not secret.isascii():
            return False
        return hmac.compare_digest(secret.encode("ascii"), self.secret(channel, str(session_id)).encode("ascii"))


def read_or_create_key(path: Path) -> bytes:
    """The key in `path`, or a new random one written there atomically with mode 0600 (several processes starting
    together end up with the same key: the first link wins, the others read it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass  # another process made it first: use theirs
        finally:
            temporary.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by other users (mode %o); it should be 0600", path, mode)
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise ValueError(f"{path} does not hold a session key (64 hex digits); delete it to make a new one")
    return key
