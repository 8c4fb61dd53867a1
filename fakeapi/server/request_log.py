"""The sandbox's request log: a line per API request and per callback delivery attempt, as text for
a person (coloured on a terminal) or as JSON Lines for a machine.

``fakeapi serve`` turns it on; a server without one (the pytest fixture) pays a ``None`` check per
request. Times are the fake's clock time, the time its answers show. The lines of one turn of the
event loop go out in one flush at its end (a burst of requests costs one write to the terminal).
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Literal, TextIO

from fakeapi.recorder import clock_time, iso_time
from fakeapi.webhooks import DeliveryAttempt

LogFormat = Literal["text", "json"]
# ANSI colours by status class, and for what is neither good nor bad news.
GREEN, YELLOW, RED, CYAN, DIM, RESET = "\033[32m", "\033[33m", "\033[31m", "\033[36m", "\033[2m", "\033[0m"


def wants_colour(stream: TextIO) -> bool:
    """Whether lines written to ``stream`` are coloured: on a terminal, unless ``NO_COLOR`` is set to
    anything (https://no-color.org)."""
    return not os.environ.get("NO_COLOR") and stream.isatty()


class RequestLog:
    """Writes one line per API request and per callback delivery attempt to ``out``.

    A text line reads ``12:00:05 rixapi POST /rixapi/v1/task/submit 200 task_x queued`` (a poll
    whose answer shows a new state: ``queued→running``); a callback line
    ``12:00:10 callback task_x succeeded → http://... 200 delivered (attempt 1)``. A JSON line has the
    same facts under names: ``event`` (``request`` or ``callback``), ``at`` (Unix seconds), ``time``
    (ISO 8601, UTC) and the rest.
    """

    def __init__(self, out: TextIO, log_format: LogFormat = "text", colour: bool = False) -> None:
        self._out = out
        self._json = log_format == "json"
        self._colour = colour and not self._json
        self._closed = False
        self._flush_due = False

    def request(
        self,
        at: float,
        api: str | None,
        method: str,
        path: str,
        status: int,
        task_id: str | None,
        before: str | None,
        state: str | None,
    ) -> None:
        """Log one answered request; ``before`` and ``state``: the task's state the previous answer
        about it showed, and the one this answer shows."""
        if self._json:
            self._write_json(
                {
                    "event": "request",
                    "at": at,
                    "time": iso_time(at),
                    "api": api,
                    "method": method,
                    "path": path,
                    "status": status,
                    "task_id": task_id,
                    "state_before": before,
                    "state": state,
                }
            )
            return
        parts = [self._paint(DIM, clock_time(at)), f"{api or '-':<8}", method, path, self._status(status)]
        if task_id is not None:
            parts.append(task_id)
        if state is not None:
            change = state if before is None or before == state else f"{before}→{state}"
            parts.append(self._paint(CYAN, change) if before != state else change)
        self._write(" ".join(parts))

    def delivery(self, attempt: DeliveryAttempt) -> None:
        """Log one callback delivery attempt and its outcome."""
        if self._json:
            self._write_json(
                {
                    "event": "callback",
                    "at": attempt.at,
                    "time": iso_time(attempt.at),
                    "task_id": attempt.task_id,
                    "state": attempt.state,
                    "url": attempt.url,
                    "attempt": attempt.attempt,
                    "status": attempt.status,
                    "error": attempt.error,
                    "delivered": attempt.delivered,
                    "note": attempt.note,
                }
            )
            return
        if attempt.delivered:
            outcome = self._paint(GREEN, f"{attempt.status} delivered")
        elif attempt.status is not None:
            outcome = self._paint(YELLOW, f"{attempt.status} refused")
        else:
            outcome = self._paint(RED, f"failed: {attempt.error}")
        line = (
            f"{self._paint(DIM, clock_time(attempt.at))} callback {attempt.task_id} {attempt.state} → "
            f"{attempt.url} {outcome} (attempt {attempt.attempt})"
        )
        if attempt.note is not None:
            line += f" [{attempt.note}]"
        self._write(line)

    def note(self, at: float, message: str) -> None:
        """Log something the server has to say at clock time ``at`` (a strict run's etiquette
        violation, as it happens)."""
        if self._json:
            self._write_json({"event": "note", "at": at, "time": iso_time(at), "message": message})
        else:
            self._write(self._paint(YELLOW, message))

    def _status(self, status: int) -> str:
        colour = GREEN if status < 400 else YELLOW if status < 500 else RED
        return self._paint(colour, str(status))

    def _paint(self, colour: str, text: str) -> str:
        return f"{colour}{text}{RESET}" if self._colour else text

    def _write_json(self, fields: dict[str, object]) -> None:
        self._write(json.dumps(fields, ensure_ascii=False))

    def _write(self, line: str) -> None:
        if self._closed:
            return
        try:
            self._out.write(line + "\n")
        except UnicodeEncodeError:
            # A stream that cannot show a character (`PYTHONIOENCODING=ascii`, the arrow of a state
            # change): the line is written with that character escaped, and the log goes on.
            self._write(line.encode("ascii", "backslashreplace").decode("ascii"))
            return
        except (OSError, ValueError):
            self._closed = True
            return
        if self._flush_due:
            return
        # The lines of one turn of the event loop (a burst of requests) go out in one flush, at the
        # end of the turn; outside a running loop, at once.
        try:
            asyncio.get_running_loop().call_soon(self._flush)
        except RuntimeError:
            self._flush()
        else:
            self._flush_due = True

    def _flush(self) -> None:
        self._flush_due = False
        if self._closed:
            return
        try:
            self._out.flush()
        except (OSError, ValueError):
            # Whoever read the log is gone (`fakeapi serve | head`): the fake serves on, unlogged.
            self._closed = True
