"""What the fake saw in one run: the request journal, the callback delivery log and the surprises,
each bounded by the scenario's ``limits`` (entries, and bytes of the bodies kept)."""

from __future__ import annotations

import codecs
import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from fakeapi.scenario.schema import LimitsSpec
from fakeapi.webhooks import DeliveryAttempt

E = TypeVar("E")
JournalRow = tuple[float, str, str, str, int, str, tuple[str, ...], bool]


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One request the fake answered; ``notes`` are the contract notes it raised.

    ``body`` is the request body as text, cut to ``limits.logged_body_bytes`` (in UTF-8) when it was
    longer; ``truncated`` says it was.
    """

    at: float
    method: str
    path: str
    query: str
    status: int
    body: str
    notes: tuple[str, ...] = ()
    truncated: bool = False


class BoundedLog(Generic[E]):
    """The newest entries of a log: at most ``entries`` of them, and at most ``body_bytes`` of
    their bodies together (the oldest go first when either is exceeded)."""

    def __init__(self, entries: int, body_bytes: int) -> None:
        self._entries: deque[E] = deque()
        self._sizes: deque[int] = deque()
        self._bytes = 0
        self._max_entries = entries
        self._max_bytes = body_bytes

    def add(self, entry: E, body_size: int) -> None:
        """Keep ``entry``, whose body takes ``body_size`` bytes, and drop the oldest beyond the caps."""
        self._entries.append(entry)
        self._sizes.append(body_size)
        self._bytes += body_size
        while len(self._sizes) > self._max_entries or self._bytes > self._max_bytes:
            self._entries.popleft()
            self._bytes -= self._sizes.popleft()

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self._sizes.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


class Journal(BoundedLog[JournalRow]):
    """The requests of a run, oldest first, as ``JournalEntry``; kept as plain rows, which cost a
    fifth of an entry to make (every request makes one; few are ever read)."""

    def __iter__(self) -> Iterator[JournalEntry]:
        return itertools.starmap(JournalEntry, self._entries)


class DeliveryLog(BoundedLog[tuple[int, DeliveryAttempt]]):
    """The callback delivery attempts of a run, bounded as ``limits`` says (``deliveries_*``), each
    body cut to ``logged_body_bytes`` and marked ``truncated``.

    Attempts run side by side and end in whatever order their receivers answer; the log keeps them
    in the order they started (``order``), so that it reads the same every run.
    """

    def __init__(self, limits: LimitsSpec) -> None:
        super().__init__(limits.deliveries_entries, limits.deliveries_bytes)
        self._body_limit = limits.logged_body_bytes

    def append(self, attempt: DeliveryAttempt, order: int) -> None:
        """Keep ``attempt``, the ``order``-th to start, its body cut to ``logged_body_bytes`` and
        marked ``truncated``."""
        body, size, truncated = cut_text(attempt.body, self._body_limit)
        if truncated:
            attempt = replace(attempt, body=body, truncated=True)
        self.add((order, attempt), size)
        entries, sizes = self._entries, self._sizes
        place = len(entries) - 1
        while place > 0 and entries[place - 1][0] > order:
            place -= 1
        if place < len(entries) - 1:  # one started later has already ended: this one goes before it
            entries.insert(place, entries.pop())
            sizes.insert(place, sizes.pop())

    def __iter__(self) -> Iterator[DeliveryAttempt]:
        return (attempt for _, attempt in self._entries)


class Recorder:
    """The journal of API requests and the surprises (requests to no route, crashes) of one run,
    bounded as the run's ``limits`` say."""

    def __init__(self, limits: LimitsSpec) -> None:
        self.journal = Journal(limits.journal_entries, limits.journal_bytes)
        self.surprises: deque[str] = deque(maxlen=limits.surprises)
        self._body_limit = limits.logged_body_bytes
        self._surprise_limit = limits.surprise_bytes

    def record(
        self, at: float, method: str, path: str, query: str, status: int, body: bytes, notes: tuple[str, ...]
    ) -> None:
        """Journal one answered request (its body cut to ``logged_body_bytes``); its path and query
        count toward ``journal_bytes`` with its body (a request line may be 8 KiB long)."""
        text, size, truncated = cut_body(body, self._body_limit) if body else ("", 0, False)
        size += len(path) + len(query)
        self.journal.add((at, method, path, query, status, text, notes, truncated), size)

    def surprise(self, text: str) -> None:
        """Keep a surprise, cut to ``surprise_bytes`` (its end then says how long it was)."""
        encoded = text.encode("utf-8", "replace")
        limit = self._surprise_limit
        if len(encoded) > limit:
            marker = f" [cut: {len(encoded)} bytes in all]"
            room = limit - len(marker)
            text = _decode_head(encoded, room) + marker if room > 0 else marker[:limit]
        self.surprises.append(text)


def cut_body(raw: bytes, limit: int) -> tuple[str, int, bool]:
    """``raw`` as text of at most ``limit`` bytes in UTF-8 (undecodable bytes replaced), the bytes
    that text takes, and whether anything was cut off."""
    kept = raw[:limit]
    truncated = len(raw) > limit
    if kept.isascii():  # the common case, and the cheap one
        return kept.decode("ascii"), len(kept), truncated
    text = _decode_head(raw, limit)
    encoded = text.encode()
    if len(encoded) > limit:  # replacement characters take three bytes for one
        text, truncated = _decode_head(encoded, limit), True
        encoded = text.encode()
    return text, len(encoded), truncated


def cut_text(text: str, limit: int) -> tuple[str, int, bool]:
    """``text`` cut to at most ``limit`` bytes in UTF-8, as ``cut_body`` does."""
    if text.isascii():
        return text[:limit], min(len(text), limit), len(text) > limit
    return cut_body(text.encode("utf-8", "replace"), limit)


def _decode_head(data: bytes, limit: int) -> str:
    """The first ``limit`` bytes of ``data`` as text; a character cut in two at the end is left out."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    return decoder.decode(data[:limit], final=len(data) <= limit)
