"""What the fake saw in one run: the request journal and the surprises, both bounded."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

JOURNAL_LIMIT = 10_000
SURPRISE_LIMIT = 1_000


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One request the fake answered; ``notes`` are the contract notes it raised."""

    at: float
    method: str
    path: str
    query: str
    status: int
    body: str
    notes: tuple[str, ...] = ()


class Recorder:
    """The journal of API requests and the surprises (requests to no route, crashes) of one run."""

    def __init__(self) -> None:
        self.journal: deque[JournalEntry] = deque(maxlen=JOURNAL_LIMIT)
        self.surprises: deque[str] = deque(maxlen=SURPRISE_LIMIT)

    def record(self, entry: JournalEntry) -> None:
        self.journal.append(entry)

    def surprise(self, text: str) -> None:
        self.surprises.append(text)
