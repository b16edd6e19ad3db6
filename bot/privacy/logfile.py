"""The optional JSON log file (`logging.file`): the server's redacted log lines, one JSON object a line, and the
rewrites privacy needs (without the lines naming an erased shopper, without lines past the retention).

The file is written through a `WatchedFileHandler`, so a rewrite (a new file moved into place) is picked up by a
running server at its next line; lines written while a rewrite runs are carried over to the new file.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import re
import tempfile
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.logs import JsonFormatter

MIN_SENDER_CHARS = 6   # shorter sender ids ("1", "shopper") would match unrelated lines; their conversation ids do not


def attach(path: Path, level: int = logging.NOTSET) -> logging.Handler:
    """Also send every log line (redacted JSON, as on stderr) to `path`; returns the handler to `detach`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.WatchedFileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    handler.setLevel(level)
    logging.getLogger().addHandler(handler)
    return handler


def detach(handler: logging.Handler) -> None:
    logging.getLogger().removeHandler(handler)
    handler.close()


@dataclass
class LineMatcher:
    """Says whether a log line names one shopper: one of their conversation ids, sender ids (as a whole word, when
    long enough to be theirs alone) or their email."""

    conversation_ids: Iterable[str] = ()
    sender_ids: Iterable[str] = ()
    email: re.Pattern[str] | None = None
    _senders: re.Pattern[str] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.conversation_ids = [c for c in self.conversation_ids if c]
        senders = sorted({s for s in self.sender_ids if len(s) >= MIN_SENDER_CHARS}, key=len, reverse=True)
        if senders:
            self._senders = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, senders)) + r")(?![\w-])")

    def __call__(self, line: str) -> bool:
        if any(c in line for c in self.conversation_ids):
            return True
        if self._senders is not None and self._senders.search(line):
            return True
        return self.email is not None and bool(self.email.search(unicodedata.normalize("NFKC", line).casefold()))


def matching_lines(path: Path, matcher: Callable[[str], bool]) -> list[str]:
    """The lines of the log file `matcher` selects (none when there is no file)."""
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", errors="replace") as lines:
        return [line.rstrip("\n") for line in lines if matcher(line)]


def older_than(cutoff: float) -> Callable[[str], bool]:
    """Selects JSON lines whose `time` is before `cutoff` (seconds since the epoch)."""

    def old(line: str) -> bool:
        try:
            stamp = json.loads(line).get("time", "")
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() < cutoff
        except (ValueError, AttributeError, TypeError):
            return False

    return old


def remove_lines(path: Path, matcher: Callable[[str], bool]) -> int:
    """Rewrite the log file without the lines `matcher` selects; returns how many were removed."""
    if not path.is_file():
        return 0
    removed = 0
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with path.open("rb") as old, os.fdopen(fd, "wb") as new:
            os.fchmod(new.fileno(), os.stat(path).st_mode & 0o777)
            removed += _copy_kept(old, new, matcher)
            new.flush()
            os.replace(temporary, path)
            removed += _copy_kept(old, new, matcher)   # lines the server wrote to the old file meanwhile
            os.fsync(new.fileno())
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return removed


def _copy_kept(old, new, matcher: Callable[[str], bool]) -> int:
    removed = 0
    for raw in old:
        if matcher(raw.decode("utf-8", errors="replace")):
            removed += 1
        else:
            new.write(raw)
    return removed


def attached(path: Path) -> Callable[[object], AsyncIterator[None]]:
    """An aiohttp cleanup context writing the log file while the app runs."""

    async def context(app: object) -> AsyncIterator[None]:
        handler = attach(path)
        yield
        detach(handler)

    return context
