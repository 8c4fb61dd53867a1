"""The OpenAPI documents: valid, served, the same as the command prints, and true to the fake's answers.

Each API's document is read over HTTP at ``{mount}/openapi.json`` (no key, not journaled, no
surprise) and the admin API's at ``/_fakeapi/openapi.json``; each passes ``openapi-spec-validator``
and equals what ``fakeapi contract openapi`` prints but for the server URL. Every example in a
document fits the schema it illustrates, and the fake's own answers to a few requests per API (a
submit, a poll of the task once ended, an error or two) fit the schema the document gives for
their operation and status.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from fakeapi import FakeApi
from fakeapi.errors import ErrorKind
from fakeapi.providers import REGISTRY
from fakeapi.providers.base import PollRoute, SubmitRoute

FAKEAPI = Path(sys.executable).parent / "fakeapi"
APIS = [provider.name for provider in REGISTRY.providers()]
KEY = {"Authorization": "Bearer sk-test"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _printed(api: str, base_url: str) -> dict[str, Any]:
    run = subprocess.run(
        [FAKEAPI, "contract", "openapi", "--api", api, "--base-url", base_url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    document: dict[str, Any] = json.loads(run.stdout)
    return document


async def _served(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url) as response:  # no key: the document is no API request
        assert response.status == 200, await response.text()
        assert response.content_type == "application/json"
        document: dict[str, Any] = await response.json()
        return document


@pytest.mark.parametrize("api", [*APIS, "admin"])
async def test_each_document_is_valid_served_and_printed_alike(
    api: str, fakeapi: FakeApi, http: aiohttp.ClientSession
) -> None:
    base = fakeapi.url_for(api) if api != "admin" else fakeapi.base_url + "/_fakeapi"
    served = await _served(http, base + "/openapi.json")
    validate(served)
    assert served["openapi"] == "3.1.0"
    assert served["servers"] == [{"url": base}]
    elsewhere = "http://fake.test:9000"
    printed = _printed(api, elsewhere)
    assert printed["servers"] == [{"url": base.replace(fakeapi.base_url, elsewhere)}]
    # The server's URL is in the servers and in the examples' result URLs, nowhere else.
    assert json.loads(json.dumps(printed).replace(elsewhere, fakeapi.base_url)) == served
    # Reading a document is no API request: not journaled, never a surprise.
    assert fakeapi.journal == []
    assert fakeapi.surprises == []


def test_an_unknown_api_is_a_usage_error_naming_the_documents() -> None:
    run = subprocess.run(
        [FAKEAPI, "contract", "openapi", "--api", "nope"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 2
    assert all(name in run.stderr for name in [*APIS, "admin"]), run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize("api", APIS)
def test_every_route_is_documented_with_its_errors(api: str) -> None:
    [provider] = [p for p in REGISTRY.providers() if p.name == api]
    document = _printed(api, "http://127.0.0.1:8000")
    for route in provider.routes():
        operation = document["paths"][route.path][route.method.lower()]
        statuses = set(operation["responses"])
        assert "200" in statuses
        assert list(operation["responses"]["200"]["content"]) == [route.content_type]
        assert str(provider.errors[ErrorKind.UNAUTHORIZED].status) in statuses
        if isinstance(route, PollRoute):
            assert str(provider.errors[ErrorKind.NOT_FOUND].status) in statuses
        if isinstance(route, SubmitRoute):
            assert str(provider.errors[ErrorKind.INSUFFICIENT_CREDITS].status) in statuses
        for status in statuses - {"200"}:
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": f"#/components/schemas/{provider.error_model.__name__}"}
        if route.body == "json":
            assert list(operation["requestBody"]["content"]) == ["application/json"]
        if route.body == "multipart":
            assert list(operation["requestBody"]["content"]) == ["multipart/form-data"]
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "the API key",
    }
    callbacks = [
        op["callbacks"] for path in document["paths"].values() for op in path.values() if "callbacks" in op
    ]
    assert bool(callbacks) == (provider.callback_model is not None)


@dataclass
class Document:
    """One API's document, to check bodies against the schema for an operation and a status."""

    document: dict[str, Any]
    checked: set[tuple[str, str, str]] = field(default_factory=set)

    def check(self, path: str, method: str, status: int, body: Any) -> None:
        responses = self.document["paths"][path][method.lower()]["responses"]
        assert str(status) in responses, f"{method} {path} answered an undocumented {status}: {body}"
        schema = responses[str(status)]["content"]["application/json"]["schema"]
        self.validate(schema, body)
        self.checked.add((method, path, str(status)))

    def validate(self, schema: dict[str, Any], body: Any) -> None:
        OAS31Validator({**schema, "components": self.document["components"]}).validate(body)

    def examples(self) -> Iterator[tuple[dict[str, Any], Any]]:
        """Every example in the document, with the schema it illustrates."""
        for methods in self.document["paths"].values():
            for operation in methods.values():
                # An event stream's answer is no JSON document and has no example.
                responses = operation["responses"].values()
                media = [
                    r["content"]["application/json"]
                    for r in responses
                    if "text/event-stream" not in r["content"]
                ]
                for callback in operation.get("callbacks", {}).values():
                    for expression in callback.values():
                        media.append(expression["post"]["requestBody"]["content"]["application/json"])
                for one in media:
                    for example in one["examples"].values():
                        yield one["schema"], example["value"]


@pytest.mark.parametrize("api", APIS)
def test_every_example_fits_its_schema(api: str) -> None:
    document = Document(_printed(api, "http://127.0.0.1:8000"))
    examples = list(document.examples())
    assert len(examples) > 10
    for schema, value in examples:
        document.validate(schema, value)


# A submit whose task ends by itself, the id in its answer, and more requests (``{id}``: the task's).
Request = tuple[str, str, dict[str, Any]]
FLOWS: dict[str, tuple[Request, tuple[str, ...], list[Request]]] = {
    "rixapi": (
        ("POST", "/v1/task/submit", {"json": {"model": "flux-pro", "input": {"prompt": "a red fox"}}}),
        ("id",),
        [
            ("GET", "/v1/task/{id}", {}),
            ("GET", "/v1/task/task_nope", {}),
            ("GET", "/v1/dashboard/billing/subscription", {}),
            ("GET", "/v1/dashboard/billing/usage", {}),
            ("POST", "/v1/task/submit", {"json": {"model": "flux-pro"}}),
            ("POST", "/v1/task/submit", {"json": {"model": "no-such-model", "input": {}}}),
        ],
    ),
    "apixo": (
        (
            "POST",
            "/api/v1/generateTask/nano-banana",
            {"json": {"input": {"mode": "text-to-image", "prompt": "a red fox"}}},
        ),
        ("data", "taskId"),
        [
            ("GET", "/api/v1/statusTask/nano-banana?taskId={id}", {}),
            ("GET", "/api/v1/statusTask/nano-banana?taskId=task_nope", {}),
            ("GET", "/api/v1/statusTask/nano-banana", {}),
            ("GET", "/api/v1/apikeys/current-balance", {}),
            ("POST", "/api/v1/generateTask/no-such-model", {"json": {"input": {}}}),
        ],
    ),
    "foxapi": (
        ("POST", "/v1/images/generations", {"json": {"model": "gpt-image-1", "prompt": "a red fox"}}),
        ("id",),
        [
            ("GET", "/v1/tasks/{id}", {}),
            ("GET", "/v1/tasks/task_nope", {}),
            ("GET", "/v1/tasks/{id}/stream", {}),
            ("GET", "/v1/configs/llm_generations_models", {}),
            ("POST", "/v1/llm/generations", {"json": {"model": "gpt-5.5", "prompt": "hi", "sync": True}}),
            ("POST", "/v1/images/generations", {"json": {"model": "no-such-model", "prompt": "x"}}),
            ("POST", "/v1/videos/generations", {"data": b"{not json", "headers": {"Content-Type": "a/b"}}),
        ],
    ),
    "pixapi": (
        (
            "POST",
            "/v1/async/images/generations",
            {"json": {"model": "gpt-image-1", "prompt": "a red fox"}},
        ),
        ("id",),
        [
            ("GET", "/v1/tasks/{id}", {}),
            ("GET", "/v1/tasks/task_nope", {}),
            ("POST", "/v1/images/generations", {"json": {"model": "gpt-image-1", "prompt": "a fox", "n": 2}}),
            ("POST", "/v1/images/generate", {"json": {"model": "nano-banana", "prompt": "a fox"}}),
            ("POST", "/v1/videos/generations", {}),
            (
                "POST",
                "/v1/async/images/edits",
                {"form": {"model": "gpt-image-1", "prompt": "x", "image": PNG}},
            ),
        ],
    ),
}


@pytest.mark.parametrize("api", APIS)
async def test_the_fakes_answers_fit_the_document(
    api: str, fakeapi: FakeApi, http: aiohttp.ClientSession
) -> None:
    base = fakeapi.url_for(api)
    document = Document(await _served(http, base + "/openapi.json"))
    routes = {r.path: r for r in next(p for p in REGISTRY.providers() if p.name == api).routes()}

    async def call(method: str, path: str, kwargs: dict[str, Any], key: bool = True) -> Any:
        headers = {**(KEY if key else {}), **kwargs.pop("headers", {})}
        if "form" in kwargs:
            form = aiohttp.FormData()
            for name, value in kwargs.pop("form").items():
                form.add_field(name, value, filename="fox.png" if isinstance(value, bytes) else None)
            kwargs["data"] = form
        async with http.request(method, base + path, headers=headers, **kwargs) as response:
            body = await response.json()
            assert response.content_type == "application/json"
            document.check(_route_of(routes, path.split("?")[0]), method, response.status, body)
            return body

    submit, id_at, more = FLOWS[api]
    answer = await call(*submit)
    await call(submit[0], submit[1], dict(submit[2]), key=False)
    for step in id_at:
        answer = answer[step]
    await fakeapi.clock.ashift(600)
    for method, path, kwargs in more:
        await call(method, path.format(id=answer), dict(kwargs))
    statuses = {status for _, _, status in document.checked}
    assert {"200", "401", "404"} <= statuses
    assert len(statuses) >= 4, document.checked


def _route_of(routes: dict[str, Any], path: str) -> str:
    """The route template ``path`` is an instance of."""
    for template in routes:
        parts, wanted = template.split("/"), path.split("/")
        if len(parts) == len(wanted) and all(
            a == b or (a.startswith("{") and a.endswith("}")) for a, b in zip(parts, wanted, strict=True)
        ):
            return str(template)
    raise AssertionError(f"no route for {path}")
