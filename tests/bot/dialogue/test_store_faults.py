"""The conversation store under faults, on real SQLite files, the machine's PostgreSQL and real processes:

- two processes on one database without Redis: the second refuses to start (a database lock, released when the
  holder dies, kill -9 included); with Redis both run;
- a damaged SQLite file refuses to start, naming the file;
- the database unreachable (PostgreSQL behind a TCP relay that is stopped), or full: `StateUnavailable`, and the
  store works again when the database is back.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from rasa_sdk.events import SlotSet, UserUttered
from sqlalchemy import event

from bot.app import conversation_store
from bot.config import DialogueSettings, Settings
from bot.dialogue.errors import StateUnavailable, StoreRefused
from bot.dialogue.store import ConversationStore
from tests.support import POSTGRES_URL, REDIS_URL, free_port, need

ROOT = Path(__file__).resolve().parents[3]
HOLDER = """
import sys
from bot.dialogue.store import ConversationStore
store = ConversationStore(sys.argv[1], exclusive=not sys.argv[2])  # as bot.app.conversation_store builds it
print("holding", flush=True)
sys.stdin.read()
"""


def _settings(tmp_path: Path, database: str = "", redis_url: str = "") -> Settings:
    return Settings(data_dir=tmp_path, dialogue=DialogueSettings(database=database, redis_url=redis_url))


def _holder(tmp_path: Path, database: str = "", redis_url: str = "") -> subprocess.Popen:
    """Another server process's conversation store (exclusive without Redis, as `shopbot serve` has it), held open."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, database or str(tmp_path / "conversations.db"),
                                redis_url], cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if line.strip() != "holding":
        process.kill()
        raise AssertionError(f"the holder did not start: {line} {process.stderr.read()}")
    return process


def _refused_then_free(tmp_path: Path, database: str, where: str) -> None:
    holder = _holder(tmp_path, database)
    try:
        with pytest.raises(StoreRefused) as refused:
            conversation_store(_settings(tmp_path, database))
        message = str(refused.value)
        assert where in message and "set dialogue.redis_url (SHOPBOT_REDIS_URL) to run several processes" in message
    finally:
        holder.send_signal(signal.SIGKILL)  # the lock dies with its process, however it ends
        holder.wait(30)
    store = conversation_store(_settings(tmp_path, database))
    store.close()


def test_second_process_on_one_sqlite_file_without_redis_refuses_to_start(tmp_path: Path) -> None:
    _refused_then_free(tmp_path, "", str(tmp_path / "conversations.db"))


def test_second_process_on_one_postgres_database_without_redis_refuses_to_start(tmp_path: Path) -> None:
    need(5432, "PostgreSQL")
    _refused_then_free(tmp_path, POSTGRES_URL, "127.0.0.1:5432/test")


def test_processes_share_a_database_when_redis_coordinates_them(tmp_path: Path) -> None:
    need(5432, "PostgreSQL")
    holders = [_holder(tmp_path, "", REDIS_URL), _holder(tmp_path, POSTGRES_URL, REDIS_URL)]
    try:
        for database in ("", POSTGRES_URL):
            store = conversation_store(_settings(tmp_path, database, REDIS_URL))
            assert store.lock is None
            store.close()
    finally:
        for holder in holders:
            holder.kill()
            holder.wait(30)


def test_a_closed_store_releases_its_database_lock(tmp_path: Path) -> None:
    first = ConversationStore(tmp_path / "conversations.db", exclusive=True)
    with pytest.raises(StoreRefused):
        ConversationStore(tmp_path / "conversations.db", exclusive=True)
    first.close()
    ConversationStore(tmp_path / "conversations.db", exclusive=True).close()


def _damage(path: Path) -> None:
    """Overwrite two pages in the middle of a SQLite file with junk (same size)."""
    page = 4096
    data = bytearray(path.read_bytes())
    middle = (len(data) // page // 2) * page
    data[middle:middle + 2 * page] = bytes((7 * i + 13) % 256 for i in range(2 * page))
    path.write_bytes(bytes(data))


def test_damaged_sqlite_file_refuses_to_start_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    store = ConversationStore(path)
    for number in range(300):
        store.append_sync(f"test:{number}", [UserUttered(f"message {number} " + "x" * 200, timestamp=1.0)], "test")
    store.close()
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    _damage(path)
    with pytest.raises(StoreRefused) as refused:
        conversation_store(_settings(tmp_path))
    assert str(path) in str(refused.value) and "damaged" in str(refused.value)


def test_a_file_that_is_not_a_database_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    path.write_bytes(b"this is not a database" * 400)
    with pytest.raises(StoreRefused, match="damaged"):
        ConversationStore(path)


def test_full_disk_raises_state_unavailable(tmp_path: Path) -> None:
    """SQLite's own "database or disk is full" (SQLITE_FULL), by capping the file's pages."""
    store = ConversationStore(tmp_path / "conversations.db")
    store.append_sync("test:a", [UserUttered("hello", timestamp=1.0)], "test")

    @event.listens_for(store.engine, "connect")
    def cap(connection, _record) -> None:
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count={pages}")

    store.engine.dispose()  # new connections get the cap
    with pytest.raises(StateUnavailable, match="full"):
        for _ in range(50):
            store.append_sync("test:a", [SlotSet("note", "y" * 20_000, timestamp=1.0)])
    store.close()


class Relay:
    """A TCP relay to a real server that can be stopped and started again on the same port (a network outage)."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and cut the open ones."""
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (close alone does not)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        for sock in self._open:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def test_postgres_outage_raises_state_unavailable_and_recovers() -> None:
    need(5432, "PostgreSQL")
    relay = Relay(5432)
    relay.start()
    url = POSTGRES_URL.replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}")
    store = ConversationStore(url, exclusive=False)
    conversation = f"test:{uuid.uuid4().hex}"
    try:
        store.append_sync(conversation, [UserUttered("before", timestamp=1.0)], "test")
        store.ping_sync()
        relay.stop()
        with pytest.raises(StateUnavailable):
            store.load_sync(conversation)
        with pytest.raises(StateUnavailable):
            store.append_sync(conversation, [UserUttered("during", timestamp=2.0)])
        with pytest.raises(StateUnavailable):
            store.ping_sync()
        relay.start()
        store.ping_sync()
        store.append_sync(conversation, [UserUttered("after", timestamp=3.0)])
        assert [e["text"] for e in store.load_sync(conversation)] == ["before", "after"]
    finally:
        relay.stop()
        store.close()


def test_postgres_lock_is_taken_again_after_the_database_comes_back(tmp_path: Path) -> None:
    """The advisory lock lives on a connection; when that connection drops, the next check takes it again."""
    need(5432, "PostgreSQL")
    relay = Relay(5432)
    relay.start()
    url = POSTGRES_URL.replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}")
    store = ConversationStore(url, exclusive=True)
    try:
        relay.stop()
        with pytest.raises(StateUnavailable):
            store.ping_sync()
        relay.start()
        store.ping_sync()
        with pytest.raises(StoreRefused):  # held again: a second process still cannot start
            ConversationStore(POSTGRES_URL, exclusive=True)
    finally:
        relay.stop()
        store.close()
    ConversationStore(POSTGRES_URL, exclusive=True).close()


def test_sqlite_disk_io_error_is_unavailable_not_a_bug(tmp_path: Path) -> None:
    """A missing folder (a volume gone) is an operational error: `StateUnavailable`, not an internal error."""
    folder = tmp_path / "volume"
    folder.mkdir()
    store = ConversationStore(folder / "conversations.db")
    store.engine.dispose()
    for name in os.listdir(folder):
        os.remove(folder / name)
    os.rmdir(folder)
    try:
        with pytest.raises(StateUnavailable):
            store.load_sync("test:a")
    finally:
        store.close()
