"""Requests to and answers from the Aiven API stand-in, checked against Aiven's OpenAPI document.

The document is vendored as `aiven_openapi.json.gz`: Aiven's public OpenAPI 3.0.1 description
(Apache-2.0, the snapshot of 2025-04-09 published in the Aiven-Open/mcp-aiven repository). It
is read with openapi-core, after two changes for a local stand-in: its `security` entries are
dropped (the stand-in checks the `authorization: aivenv1 <token>` header itself) and its server
is `/v1`. The validator is built once per process, without openapi-core's check of the
document itself against the OpenAPI schema (seconds of CPU for a file that does not change): a
test makes that check once (tests/unit/test_aiven_standin_validation.py).

The document sets no `additionalProperties: false`, so a misspelt field would pass: each
operation also gets an allow-list of field names, read from its request schema's properties
(recursively, wherever a schema lists properties). aiven-client sends JSON nulls for fields it
leaves unset; they are dropped before validation, as Aiven ignores them.

Refusals never quote the refused value (it may be a password): they name the field and the rule.
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from openapi_core import Config, OpenAPI
from openapi_core.templating.paths.exceptions import (
    OperationNotFound,
    PathNotFound,
    ServerNotFound,
)
from openapi_core.testing import MockRequest, MockResponse

DOCUMENT = "aiven_openapi.json.gz"
PREFIX = "/v1"
HOST = "http://127.0.0.1"


class Refusal(Exception):
    """The request is refused: `status` and Aiven's `message`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class ResponseMismatch(AssertionError):
    """An answer of the stand-in that the document refuses: a bug of the stand-in."""


@functools.cache
def document() -> dict[str, Any]:
    raw = resources.files("standins").joinpath(DOCUMENT).read_bytes()
    spec = json.loads(gzip.decompress(raw))
    spec.pop("security", None)
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    spec["servers"] = [{"url": PREFIX}]
    return spec


@functools.cache
def validator() -> OpenAPI:
    return OpenAPI.from_dict(document(), config=Config(spec_validator_cls=None))


def _resolve(schema: Any) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document()["components"]["schemas"][name]
    return schema if isinstance(schema, dict) else {}


def _operation(method: str, path: str) -> dict | None:
    """The document's operation for a concrete path under /v1 (literal segments win)."""
    parts = path.removeprefix(PREFIX).strip("/").split("/")
    best, score = None, -1
    for template, item in document()["paths"].items():
        pattern = template.strip("/").split("/")
        literal = [p == s for p, s in zip(pattern, parts, strict=False)]
        fits = len(pattern) == len(parts) and all(
            same or p.startswith("{") for same, p in zip(literal, pattern, strict=True)
        )
        if fits and method.lower() in item and sum(literal) > score:
            best, score = item[method.lower()], sum(literal)
    return best


def drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def unknown_fields(value: Any, schema: Any, where: str = "") -> Iterator[str]:
    """Dotted names of the fields of `value` that `schema` does not list (where it lists any)."""
    schema = _resolve(schema)
    if isinstance(value, list) and "items" in schema:
        for item in value:
            yield from unknown_fields(item, schema["items"], where)
        return
    properties = dict(schema.get("properties") or {})
    for part in schema.get("allOf", []) + schema.get("anyOf", []) + schema.get("oneOf", []):
        properties.update(_resolve(part).get("properties") or {})
    if not isinstance(value, dict) or not properties:
        return
    for key, item in value.items():
        name = f"{where}.{key}" if where else key
        if key not in properties:
            yield name
        else:
            yield from unknown_fields(item, properties[key], name)


def _request_schema(operation: dict) -> dict:
    content = (operation.get("requestBody") or {}).get("content") or {}
    return _resolve((content.get("application/json") or {}).get("schema"))


def _why(error: Exception) -> str:
    """The first schema error behind an openapi-core error, without the value it refused."""
    cause = error.__cause__ or error
    for problem in getattr(cause, "schema_errors", ()) or ():
        field = ".".join(str(p) for p in problem.absolute_path) or "body"
        if problem.validator == "required":
            return f"Missing required field in {field}: {problem.message.split(' ')[0]}"
        if problem.validator == "enum":
            return f"Invalid input for {field}: not one of {problem.validator_value}"
        return f"Invalid input for {field}: {problem.validator} {problem.validator_value}"
    return str(cause)[:200] or type(cause).__name__


def check_request(method: str, path: str, query: dict[str, str], body: Any) -> Any:
    """The body without nulls, once the document and the allow-list accept the request."""
    found = _operation(method, path)
    if found is None:
        if _operation("get", path) or any(_operation(m, path) for m in ("post", "put", "delete")):
            raise Refusal(405, f"Method {method} not allowed for {path}")
        raise Refusal(404, f"Not found: {path}")
    operation = found
    body = drop_nulls(body)
    data = json.dumps(body).encode() if body is not None else None
    request = MockRequest(HOST, method.lower(), path, args=query, data=data)
    result = validator().unmarshal_request(request)
    if result.errors:
        error = result.errors[0]
        if isinstance(error, PathNotFound | OperationNotFound | ServerNotFound):
            raise Refusal(404, f"Not found: {path}")
        raise Refusal(400, _why(error))
    if body is not None:
        unknown = list(unknown_fields(body, _request_schema(operation)))
        if unknown:
            raise Refusal(400, f"Invalid input: unknown field(s) {', '.join(sorted(unknown))}")
    return body


def check_response(method: str, path: str, status: int, body: Any) -> None:
    """Raise ResponseMismatch when the document refuses a 2xx answer of the stand-in."""
    request = MockRequest(HOST, method.lower(), path)
    response = MockResponse(json.dumps(body).encode(), status_code=status)
    result = validator().unmarshal_response(request, response)
    if result.errors:
        raise ResponseMismatch(f"{method} {path} answered {status}: {_why(result.errors[0])}")
