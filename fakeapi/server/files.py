"""Result files: real, small media at every result URL, gone once the API's result lifetime ends.

They answer ``HEAD`` and a single byte ``Range`` (206 with ``Content-Range``, 416 past the end), as the
object storage behind the real result URLs does, so a video player can seek in an MP4.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from aiohttp import hdrs, web

from fakeapi.engine import TaskEngine
from fakeapi.media import CONTENT_TYPES, file_for, image_size
from fakeapi.server.app import Handler

# At most 18 digits a position: more is past the end of any file (and int() refuses 4,300 digits).
_BYTE_RANGE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})", re.ASCII)
# More result files than any task has, and short enough for int() to read.
MAX_INDEX_DIGITS = 6


def requested_range(header: str | None, size: int) -> range | None:
    """The bytes of a ``size``-byte file a ``Range`` header asks for (RFC 9110, 14.1.2); an empty range
    when none of them exists (416). ``None``: the whole file, for no header or one this server ignores
    as the RFC allows: malformed, or several ranges (a multipart/byteranges answer is not emulated),
    or positions of more than 18 digits."""
    match = _BYTE_RANGE.fullmatch(header.strip()) if header is not None else None
    if match is None:
        return None
    first, last = match[1], match[2]
    if not first:
        if not last:
            return None
        suffix = int(last)
        return range(max(0, size - suffix), size if suffix else 0)
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        return range(0)
    return range(start, min(int(last) + 1, size) if last else size)


def files_handler(engine_of: Callable[[], TaskEngine]) -> Handler:
    """The handler of ``/files/{task_id}/{name}`` for the engine serving now."""

    async def serve(request: web.Request) -> web.Response:
        engine = engine_of()
        task = engine.find(request.match_info["task_id"])
        index, _, ext = request.match_info["name"].partition(".")
        # ASCII digits only: isdigit() also accepts '²' (which int() refuses) and other scripts' digits.
        if (
            task is None
            or ext != task.ext  # a JPEG task's file is not also stored as an MP3
            or not (index.isascii() and index.isdigit() and len(index) <= MAX_INDEX_DIGITS)
        ):
            return web.Response(status=404, text="Not Found")
        view = engine.view(task)
        if view.state != "succeeded" or int(index) >= len(view.outputs):
            return web.Response(status=404, text="Not Found")
        if engine.result_expired(view):
            # Gone from storage, as object storage answers for a deleted object.
            return web.Response(status=404, text="Not Found")
        size = image_size(task.params.get("size"))
        body = file_for(task.id, ext, size)
        headers = {hdrs.ACCEPT_RANGES: "bytes"}
        wanted = requested_range(request.headers.get(hdrs.RANGE), len(body))
        if wanted is None:
            return web.Response(body=body, content_type=CONTENT_TYPES[ext], headers=headers)
        if not wanted:
            headers[hdrs.CONTENT_RANGE] = f"bytes */{len(body)}"
            return web.Response(status=416, headers=headers)
        headers[hdrs.CONTENT_RANGE] = f"bytes {wanted.start}-{wanted.stop - 1}/{len(body)}"
        part = body[wanted.start : wanted.stop]
        return web.Response(status=206, body=part, content_type=CONTENT_TYPES[ext], headers=headers)

    return serve
