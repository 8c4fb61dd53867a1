"""Result files: real, small media at every result URL, gone once the API's result lifetime ends."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from fakeapi.engine import TaskEngine
from fakeapi.media import CONTENT_TYPES, file_for, image_size
from fakeapi.server.app import Handler


def files_handler(engine_of: Callable[[], TaskEngine]) -> Handler:
    """The handler of ``/files/{task_id}/{name}`` for the engine serving now."""

    async def serve(request: web.Request) -> web.Response:
        engine = engine_of()
        task = engine.find(request.match_info["task_id"])
        index, _, ext = request.match_info["name"].partition(".")
        # ASCII digits only: isdigit() also accepts '²' (which int() refuses) and other scripts' digits.
        if task is None or not (index.isascii() and index.isdigit()) or ext not in CONTENT_TYPES:
            return web.Response(status=404, text="Not Found")
        view = engine.view(task)
        if view.state != "succeeded" or int(index) >= len(view.outputs):
            return web.Response(status=404, text="Not Found")
        if engine.result_expired(view):
            # Gone from storage, as object storage answers for a deleted object.
            return web.Response(status=404, text="Not Found")
        size = image_size(task.params.get("size"))
        return web.Response(body=file_for(task.id, ext, size), content_type=CONTENT_TYPES[ext])

    return serve
