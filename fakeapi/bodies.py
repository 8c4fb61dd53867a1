"""Reading a request's body within the running scenario's limits, for the API routes and the admin API.

A body is read up to ``limits.request_bytes`` (a multipart body's parts, their headers and
boundaries together; after ``Content-Encoding`` is undone, so a gzip bomb costs no more than the
cap) and must arrive whole within ``limits.body_timeout``:

- past the cap, ``web.HTTPRequestEntityTooLarge`` is raised (aiohttp then reads and discards the
  rest, up to its lingering time, so that the client sees the answer);
- past the time, the connection is dropped at once and ``Dropped`` raised (its answer goes
  nowhere), as when the client leaves before its body is read;
- a body that cannot be decoded is a ``malformed_body``, and its answer closes the connection
  (``closing``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.providers.base import FormPart
from fakeapi.scenario.schema import LimitsSpec

T = TypeVar("T")
CHUNK = 64 * 1024
# What aiohttp raises on a body it cannot decode or a multipart part it cannot parse: an unknown
# Content-Transfer-Encoding or charset (RuntimeError, LookupError), a non-ASCII or overlong part
# header, too many part headers (HttpProcessingError), a broken boundary (ValueError).
UNDECODABLE = (
    HttpProcessingError,
    RequestPayloadError,
    ValueError,
    RuntimeError,
    LookupError,
    AssertionError,
)


async def read_body(request: web.Request, limits: LimitsSpec) -> bytes:
    """The whole body, decoded; a body that cannot be decoded is a ``malformed_body``."""
    _check_length(request, limits)
    if request.content.is_eof():  # all of it has arrived (a small body usually has): no wait to bound
        try:
            body = request.content.read_nowait()
        except RequestPayloadError:
            raise _undecodable(request) from None
        if len(body) > limits.request_bytes:
            raise _too_large(limits.request_bytes)
        return body
    return await _in_time(request, limits, _read_all(request, limits.request_bytes))


async def read_form(request: web.Request, limits: LimitsSpec) -> tuple[FormPart, ...]:
    """The named parts of a multipart/form-data body; a malformed one is a ``malformed_body``."""
    _check_length(request, limits)
    return await _in_time(request, limits, _read_parts(request, limits.request_bytes))


class Dropped(Exception):
    """A request whose connection is gone before its body was read: its answer goes nowhere, and
    ``status`` is what the journal records (408: the body was late; 499: the client left)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def closing(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """``response``, closing the connection after it when the request's body could not be decoded."""
    body = request.content
    if body.exception() is not None:
        # The stream is broken for good: marked as ended, or aiohttp would read on after the answer
        # (and log the same error again, with a traceback).
        body.feed_eof()
        response.force_close()
    return response


def _check_length(request: web.Request, limits: LimitsSpec) -> None:
    length = request.content_length
    if length is not None and length > limits.request_bytes:
        raise _too_large(limits.request_bytes)


async def _read_all(request: web.Request, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := await request.content.read(CHUNK):
            size += len(chunk)
            if size > cap:
                raise _too_large(cap)
            chunks.append(chunk)
    except RequestPayloadError:
        raise _undecodable(request) from None
    return b"".join(chunks)


def _undecodable(request: web.Request) -> FakeApiError:
    encoding = request.headers.get("Content-Encoding", "")
    message = f"the request body cannot be decoded as its Content-Encoding ({encoding}) says"
    return FakeApiError(ErrorKind.MALFORMED_BODY, message)


async def _read_parts(request: web.Request, cap: int) -> tuple[FormPart, ...]:
    parts: list[FormPart] = []
    stream = request.content
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue  # a nested multipart body: no API takes one
            chunks: list[bytes] = []
            while chunk := await part.read_chunk(CHUNK):
                if stream.total_bytes > cap:
                    raise _too_large(cap)
                chunks.append(chunk)
            if stream.total_bytes > cap:
                raise _too_large(cap)
            if part.name:
                parts.append(FormPart(part.name, part.filename, bytes(part.decode(b"".join(chunks)))))
    except UNDECODABLE as exc:
        raise FakeApiError(ErrorKind.MALFORMED_BODY, f"malformed multipart body: {exc}") from None
    return tuple(parts)


async def _in_time(request: web.Request, limits: LimitsSpec, reading: Awaitable[T]) -> T:
    try:
        return await asyncio.wait_for(reading, limits.body_timeout)
    except asyncio.TimeoutError:  # not TimeoutError: a different class before Python 3.11
        request.protocol.force_close()
        raise Dropped(408, f"the request body did not arrive within {limits.body_timeout:g} s") from None
    except ConnectionResetError:
        raise Dropped(499, "the client closed the connection before its body arrived") from None


def _too_large(cap: int) -> web.HTTPRequestEntityTooLarge:
    return web.HTTPRequestEntityTooLarge(max_size=cap, actual_size=cap + 1)
