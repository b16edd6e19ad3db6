"""Server-issued session ids: only ids made with this key verify, secrets are per id and channel, the key file."""

from __future__ import annotations

import multiprocessing
import re
from pathlib import Path

import pytest

from bot.channels.sessions import KEY_FILE, SessionIds, read_or_create_key
from bot.config import ConfigError, load_settings


def test_only_ids_issued_with_this_key_and_channel_verify() -> None:
    ids, other = SessionIds(b"k" * 32), SessionIds(b"q" * 32)
    issued = ids.issue("web")
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", issued) and len(issued) == 44 and issued != ids.issue("web")
    assert ids.issued("web", issued)
    assert not ids.issued("socketio", issued) and not other.issued("web", issued)
    flipped = [issued[:i] + ("A" if issued[i] != "A" else "B") + issued[i + 1:] for i in range(len(issued))]
    assert not any(ids.issued("web", forged) for forged in flipped)
    for junk in ("", "attacker-chosen-id-0123456789", "ø" * 44, issued + "A", None, 42, ["x"]):
        assert ids.issued("web", junk) is False   # never raises


def test_a_resume_needs_the_secret_of_that_id() -> None:
    ids = SessionIds(b"k" * 32)
    first, second = ids.issue("web"), ids.issue("web")
    assert ids.resumable("web", first, ids.secret("web", first))
    assert not ids.resumable("web", first, ids.secret("web", second))
    assert not ids.resumable("web", first, ids.secret("socketio", first))
    for wrong in (None, "", "x" * 43, "ø" * 43, ids.secret("web", first)[:-1]):
        assert ids.resumable("web", first, wrong) is False


def test_the_key_file_is_made_once_with_mode_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / KEY_FILE
    key = read_or_create_key(path)
    assert len(key) == 32 and path.stat().st_mode & 0o777 == 0o600
    assert read_or_create_key(path) == key
    issued = SessionIds.load("", tmp_path / "data").issue("web")
    assert SessionIds.load("", tmp_path / "data").issued("web", issued)     # a restart agrees
    assert not SessionIds.load("", tmp_path / "other").issued("web", issued)  # another data folder does not
    assert SessionIds.load("s" * 32, tmp_path / "x").issued("web", SessionIds.load("s" * 32, tmp_path / "y")
                                                             .issue("web"))
    assert not (tmp_path / "x").exists()   # a configured key writes no file


def _make_key(path: str, results) -> None:
    results.put(read_or_create_key(Path(path)).hex())


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_make_key, args=(str(tmp_path / KEY_FILE), results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    keys = {results.get(timeout=60) for _ in workers}
    for worker in workers:
        worker.join(60)
    assert len(keys) == 1 and sorted(p.name for p in tmp_path.iterdir()) == [KEY_FILE]


def test_a_damaged_key_file_and_a_short_configured_key_are_refused(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text("not hex\n")
    with pytest.raises(ValueError, match="delete it"):
        read_or_create_key(tmp_path / KEY_FILE)
    with pytest.raises(ConfigError, match="at least 32"):
        load_settings(server={"session_key": "short"})
