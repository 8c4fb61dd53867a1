"""OpenAPI 3.1 documents of the emulated APIs and of the admin API, generated from their declarations.

Every schema comes from a wire model (pydantic's JSON Schema, each definition under
``components/schemas``); nothing is written per API here. The examples are the fake's own answers:
tasks submitted to a fresh engine on a virtual clock with a fixed seed, rendered by the provider's
own functions (a submit's task just queued, a poll's and a synchronous request's completed), and
each error rendered by the provider's ``render_error``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from fakeapi import package_version
from fakeapi.accounts import Account
from fakeapi.clock import ManualClock
from fakeapi.engine import SubmitRequest, TaskEngine, TaskView
from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.providers.base import (
    AccountRoute,
    AnyRoute,
    ErrorContext,
    Incoming,
    Outcome,
    Point,
    PollRoute,
    Provider,
    SubmitRoute,
)
from fakeapi.scenario import resolve_scenario
from fakeapi.wire import load_json

if TYPE_CHECKING:
    from fakeapi.admin import AdminRoute

OPENAPI_VERSION = "3.1.0"
DOCUMENT_PATH = "/openapi.json"
REF_TEMPLATE = "#/components/schemas/{model}"
EXAMPLE_SEED = 13
EXAMPLE_KEY = "sk-example"
EXAMPLE_START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
BEARER = {"bearer": {"type": "http", "scheme": "bearer", "description": "the API key"}}
CALLBACK_FIELD = "callback_url"

# The errors a route can answer, by the pipeline's steps for its point: every request is
# authorized and counted against the key's rate window, and the provider may refuse what it reads
# (body, query, path); a submit is also checked against the catalogue, the account and the rules.
_ANY_ROUTE = (
    ErrorKind.UNAUTHORIZED,
    ErrorKind.RATE_LIMITED,
    ErrorKind.INVALID_REQUEST,
    ErrorKind.SERVER_ERROR,
    ErrorKind.UNAVAILABLE,
)
_SUBMIT = (
    *_ANY_ROUTE,
    ErrorKind.MALFORMED_BODY,
    ErrorKind.UNKNOWN_MODEL,
    ErrorKind.PAYLOAD_TOO_LARGE,
    ErrorKind.INSUFFICIENT_CREDITS,
    ErrorKind.PROMPT_REJECTED,
    ErrorKind.TOO_MANY_TASKS,
)
ERRORS_BY_POINT: dict[Point, tuple[ErrorKind, ...]] = {
    "submit": _SUBMIT,
    "sync": _SUBMIT,
    "poll": (*_ANY_ROUTE, ErrorKind.NOT_FOUND),
    "account": _ANY_ROUTE,
}
_PATH_PARAM = re.compile(r"{(\w+)}")


def route_errors(route: AnyRoute) -> list[ErrorKind]:
    """The kinds of error ``route`` can answer: its point's, a model named in its path checked
    against the catalogue, and a path parameter no route matches (a ``/`` in it, say)."""
    kinds = list(ERRORS_BY_POINT[route.point])
    if route.model_param is not None:
        kinds.append(ErrorKind.UNKNOWN_MODEL)
    if _PATH_PARAM.search(route.path):
        kinds.append(ErrorKind.ROUTE_NOT_FOUND)
    return list(dict.fromkeys(kinds))


def api_document(provider: Provider, base_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``provider``'s API, served from ``base_url`` (its mount is added)."""
    routes = provider.routes()
    models: list[type[BaseModel]] = [provider.error_model]
    for route in routes:
        models += [m for m in (route.request, route.answer) if m is not None]
        if isinstance(route, SubmitRoute) and route.waited_answer is not None:
            models.append(route.waited_answer)
    if provider.callback_model is not None:
        models.append(provider.callback_model)
    refs, components = _schemas(models)
    examples = Examples(provider, base_url)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation = _operation(provider, route, refs, examples)
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    module = inspect.getmodule(type(provider))
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": f"{provider.name} (fakeapi)",
            "version": package_version(),
            "description": inspect.cleandoc(module.__doc__ or "") if module is not None else "",
        },
        "servers": [{"url": base_url + provider.mount}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": BEARER},
    }


# The admin API's one error body (``admin._error``), for every status it refuses a request with.
ADMIN_ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}
    },
    "required": ["error"],
}
_ANY_JSON: dict[str, Any] = {"application/json": {"schema": {}}}
ADMIN_STATUSES = {
    400: "a body or query the route's model refuses, or an operation refused",
    401: "the server has an admin token and the request does not send it",
    403: "a Host that is no IP address, localhost or allowed name; a web page's Origin; the API is off",
    404: "no such task, API or route",
    405: "a method the route does not take",
    409: "a task that cannot be moved to that state",
    413: "the request body is too large",
}


def admin_document(routes: Sequence[AdminRoute], base_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the admin API (``routes``, relative to ``base_url``): the body and
    query models of its routes; its answers are the fixture's values as JSON."""
    models = [m for route in routes for m in (route.body, route.query) if m is not None]
    refs, components = _schemas(models)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        responses: dict[str, Any] = {"200": {"description": "the operation's result", "content": _ANY_JSON}}
        error = {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="AdminError")}}}
        for status, description in ADMIN_STATUSES.items():
            responses[str(status)] = {"description": description, "content": error}
        operation: dict[str, Any] = {
            "operationId": _operation_id(route.method, route.path),
            "summary": f"{route.method} {route.path}",
            "responses": responses,
        }
        parameters = _path_parameters(route.path)
        if route.query is not None:
            properties = route.query.model_json_schema(ref_template=REF_TEMPLATE)["properties"]
            parameters += [
                {"name": name, "in": "query", "required": field.is_required(), "schema": properties[name]}
                for name, field in route.query.model_fields.items()
            ]
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            operation["requestBody"] = {"content": {"application/json": {"schema": refs[route.body]}}}
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "fakeapi admin API",
            "version": package_version(),
            "description": "The fixture's operations over HTTP, one to one (see fakeapi.admin).",
        },
        "servers": [{"url": base_url}],
        # Open on a loopback host without a token; with one, every request sends it.
        "security": [{}, {"bearer": []}],
        "paths": paths,
        "components": {"schemas": {**components, "AdminError": ADMIN_ERROR}, "securitySchemes": BEARER},
    }


def _operation(
    provider: Provider, route: AnyRoute, refs: Mapping[type[BaseModel], dict[str, Any]], examples: Examples
) -> dict[str, Any]:
    answer: dict[str, Any] = refs[route.answer]
    if isinstance(route, SubmitRoute) and route.waited_answer is not None:
        answer = {"anyOf": [answer, refs[route.waited_answer]]}
    description = (route.answer.__doc__ or "").strip().splitlines()[0]
    responses: dict[str, Any] = {
        "200": _json_response(description, answer, {"answer": examples.answer(route)})
        if route.content_type == "application/json"
        # An event stream is no JSON document: the answer model is its events' data.
        else {"description": description, "content": {route.content_type: {"schema": {"type": "string"}}}}
    }
    for status, kinds in _by_status(provider, route_errors(route)).items():
        response = _json_response(
            ", ".join(kind.value for kind in kinds),
            refs[provider.error_model],
            {kind.value: examples.error(kind) for kind in kinds},
        )
        if ErrorKind.RATE_LIMITED in kinds or ErrorKind.TOO_MANY_TASKS in kinds:
            response["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before trying again",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        responses[str(status)] = response
    operation: dict[str, Any] = {
        "operationId": _operation_id(route.method, route.path),
        "summary": f"{route.point}: {route.method} {route.path}",
        "responses": responses,
    }
    parameters = _path_parameters(route.path)
    parameters += [
        {"name": name, "in": "query", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in route.query
    ]
    if parameters:
        operation["parameters"] = parameters
    if route.request is not None and route.body != "none":
        operation["requestBody"] = _request_body(route, refs[route.request])
    callback_model = provider.callback_model
    request_fields = route.request.model_fields if route.request is not None else {}
    if isinstance(route, SubmitRoute) and callback_model is not None and CALLBACK_FIELD in request_fields:
        operation["callbacks"] = {
            "task": {
                f"{{$request.body#/{CALLBACK_FIELD}}}": {
                    "post": {
                        "summary": f"the task's callback ({provider.profile.callbacks.on.replace('_', ' ')})",
                        "requestBody": {
                            "required": True,
                            "content": {
                                "application/json": {
                                    "schema": refs[callback_model],
                                    "examples": {"callback": examples.callback()},
                                }
                            },
                        },
                        "responses": {"200": {"description": "the receiver took the callback"}},
                    }
                }
            }
        }
    return operation


def _operation_id(method: str, path: str) -> str:
    return (method.lower() + re.sub(r"[^A-Za-z0-9]+", "_", path)).rstrip("_")


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in _PATH_PARAM.findall(path)
    ]


def _request_body(route: AnyRoute, schema: dict[str, Any]) -> dict[str, Any]:
    if route.body == "json":
        return {"required": True, "content": {"application/json": {"schema": schema}}}
    # A form carries the model's fields as text parts and the files as ``image`` parts.
    form = {
        "allOf": [
            schema,
            {
                "type": "object",
                "properties": {
                    "image": {
                        "type": "array",
                        "items": {"type": "string", "contentMediaType": "application/octet-stream"},
                    }
                },
                "required": ["image"],
            },
        ]
    }
    return {"required": True, "content": {"multipart/form-data": {"schema": form}}}


def _json_response(description: str, schema: dict[str, Any], examples: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description or "answer",
        "content": {"application/json": {"schema": schema, "examples": examples}},
    }


def _by_status(provider: Provider, kinds: Sequence[ErrorKind]) -> dict[int, list[ErrorKind]]:
    statuses: dict[int, list[ErrorKind]] = {}
    for kind in kinds:
        statuses.setdefault(provider.errors[kind].status, []).append(kind)
    return dict(sorted(statuses.items()))


def _schemas(
    models: Sequence[type[BaseModel]],
) -> tuple[dict[type[BaseModel], dict[str, Any]], dict[str, Any]]:
    """Each model's reference and every definition, generated together so names never collide."""
    unique = list(dict.fromkeys(models))
    refs, top = models_json_schema([(m, "validation") for m in unique], ref_template=REF_TEMPLATE)
    return {model: dict(refs[model, "validation"]) for model in unique}, dict(top.get("$defs", {}))


@dataclass(frozen=True, slots=True)
class _Request:
    """The request an example outcome stands for: nothing in its path, query or headers."""

    query: Mapping[str, str]
    headers: Mapping[str, str]
    content_type: str = "application/json"


class _NoSender:
    async def __call__(self, url: str, body: bytes, timeout: float) -> int:
        raise AssertionError("an example run sends no callback")


class Examples:
    """The fake's own answers for one API: one task of the first model of its catalogue, run on a
    virtual clock from ``EXAMPLE_START`` with seed ``EXAMPLE_SEED``, and its errors."""

    def __init__(self, provider: Provider, base_url: str) -> None:
        self.provider = provider
        self.engine = TaskEngine(
            resolve_scenario("default"),
            ManualClock(EXAMPLE_START),
            {provider.name: provider.profile},
            _NoSender(),
            seed=EXAMPLE_SEED,
            base_url=base_url,
        )
        self.settings = self.engine.settings(provider.name)
        self.model = model_names(provider)[0]
        self.incoming = Incoming(
            key=EXAMPLE_KEY, settings=self.settings, source=_Request({}, {}), params={"model": self.model}
        )

    def _task(self, *, ended: bool) -> tuple[TaskView, float | None]:
        engine = self.engine
        view = engine.submit(SubmitRequest(self.provider.name, EXAMPLE_KEY, self.model, "a red fox"))
        expected_end = engine.projected_end(engine.get(view.id))
        return (engine.complete(view.id), None) if ended else (view, expected_end)

    def answer(self, route: AnyRoute) -> dict[str, Any]:
        """The 200 answer of ``route``: a submit's task just queued, a synchronous request's and a
        poll's task completed, the account of an unlimited key."""
        now = self.engine.clock.now()
        match route:
            case AccountRoute():
                rendered = route.render(Account(EXAMPLE_KEY, None, None, None), self.incoming)
            case SubmitRoute():
                view, expected_end = self._task(ended=route.sync)
                rendered = route.render(Outcome(view, self.incoming, now, route.sync, expected_end))
            case PollRoute():
                view, _ = self._task(ended=True)
                rendered = route.render(view, self.settings)
        return {"value": load_json(rendered)}

    def callback(self) -> dict[str, Any]:
        """The callback body of a completed task."""
        view, _ = self._task(ended=True)
        return {"value": load_json(self.provider.profile.render_callback(view, self.settings))}

    def error(self, kind: ErrorKind) -> dict[str, Any]:
        """The body the API answers ``kind`` with (an example message where the fake's is the caller's)."""
        engine = self.engine
        context = ErrorContext(self.settings, engine.clock.now(), engine.random)
        error = FakeApiError(kind, f"example: {kind.value.replace('_', ' ')}", retry_after=1)
        _, body = self.provider.render_error(error, context)
        return {"value": load_json(body)}


def model_names(provider: Provider) -> list[str]:
    """A model name for each entry of the catalogue that has one: its pattern, the wildcards
    matching nothing (a pattern only a longer name matches is left out)."""
    catalogue = provider.profile.catalogue
    names = (re.sub(r"[*?]|\[[^]]*\]", "", glob) for glob, _info in catalogue.entries)
    return list(dict.fromkeys(name for name in names if catalogue.lookup(name) is not None))
