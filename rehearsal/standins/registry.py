"""A local stand-in of a Confluent-compatible Schema Registry that keeps Karapace's rules (Aiven).

No real registry can be installed here, so tests and rehearsals run against this one: a threaded
HTTP server on 127.0.0.1 (a free port), JSON in and out, errors as the real services send them
(status, `{"error_code": N, "message": ...}`, Content-Type application/vnd.schemaregistry.v1+json).
The rules come from reading Karapace (its controller, registry and in-memory database, and the
IMPORT-mode review in Aiven-Open/karapace#1374) and Confluent's Schema Registry (`Errors`,
`checkRegisterMode`, `setMode`, the delete validations):

- Ids are global and stand for content (type + canonical text + references): the same schema
  under another subject gets the same id, new ids are max+1, and an id stays readable after its
  versions are deleted (Karapace keeps its schemas by id). Schemas are answered in canonical form
  (JSON with sorted keys and no whitespace; Protobuf stripped), as Karapace does.
- AVRO is checked structurally as Karapace's parser (Apache avro) does: names, named types
  incl. those of the references, unions, enum symbols, fixed sizes; field defaults are not
  checked (Karapace does not; Confluent's Java parser does). JSON must be an object or a boolean
  with valid "type" names; PROTOBUF is taken as text (balanced braces only, no deep validation).
  Bad schema, or a missing or soft-deleted reference: 422/42201; references on a JSON schema:
  422/44302 (Karapace).
- Compatibility on register (not in IMPORT mode): Avro reader/writer resolution for BACKWARD,
  FORWARD, FULL and their _TRANSITIVE forms (records, enums, arrays, maps, fixed, unions, the
  promotions int->long/float/double, long->float/double, float->double, string<->bytes);
  incompatible is 409 with error_code 409 (Karapace, and Confluent until its late-2025 change
  to 40901). JSON and PROTOBUF are only refused for a change of schema type.
- Modes (Confluent 7.x `checkRegisterMode`): READONLY refuses writes, 42205; an `id`/`version`
  in a registration outside IMPORT is 42205; in IMPORT a registration with neither is 42205 too
  (Confluent's rule: Karapace's released IMPORT code is not public), and nothing is checked for
  compatibility. An id bound to other content, or a version (even
  soft-deleted) holding other content, is 409/40901 (Karapace's review; Confluent says 42205
  for the id). Switching to IMPORT while the subject (globally: any subject) has live versions
  needs ?force=true, else 42205; without force its soft-deleted versions are purged (Confluent).
  Invalid mode 42204; GET /mode/{s} without its own mode is 40409 unless ?defaultToGlobal=true.
- Soft then hard deletes: 40404/40406 on a second soft delete, 40405/40407 on a permanent one
  without the soft one first, 42206 while a schema references the version. A soft-deleted
  version keeps its id (Confluent's "Schema Deletion Guidelines": the id stays available for
  lookup and is not reusable; Karapace finds schemas by id whatever their versions' state):
  `GET /schemas/ids/{id}` resolves it, `GET /subjects/{s}/versions` and `/subjects` list it
  only with ?deleted=true, a new registration never gets its id (max+1 counts it), and an
  IMPORT of other content under its id, or under its version number, is refused (40901, as
  above). An IMPORT of the same content, id and version again makes it live again (Confluent
  writes the version anew, not deleted; Karapace's import overwrites it the same way); a soft
  delete after an IMPORT hides it again and leaves the id bound.

Knobs: `legacy` (settable at run time) acts as Karapace before 6.2.4 (FastAPI, 5.x-6.2.0): `id`
and `version` in a registration are ignored (its request model drops extra fields); GET /mode and
GET /mode/{s} answer READWRITE (40401 for an unknown subject); PUT/DELETE on /mode are not routed,
so 405 with the bare JSON string "Method Not Allowed", FastAPI's answer for a GET-only route (not
404: the path exists). `fail(status, times, path_prefix)` answers the next requests with
500/50001 or an HTML 502/503/504. `requests` logs (method, path?query, JSON body): no headers,
so no credentials. `seed()` puts content in directly. With username/password, a request without
them gets 401.

Known differences: no contexts, normalize, metadata/rule sets, /schemas listing or referencedby;
DELETE /config/{s} answers the global level (Karapace) where Confluent answers the deleted one;
a subject whose versions are all hard-deleted is gone; Karapace's 401 body has no error_code.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
ANSWER_TYPES = (CONTENT_TYPE, "application/vnd.schemaregistry+json", "application/json")
BODY_TYPES = (*ANSWER_TYPES, "application/octet-stream")
SCHEMA_TYPES = ["JSON", "AVRO", "PROTOBUF"]  # Karapace's order (Confluent: JSON, PROTOBUF, AVRO)
LEVELS = ("BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL")
LEVELS += ("FULL_TRANSITIVE", "NONE")
MODES = ("READWRITE", "READONLY", "IMPORT")
# fmt: off
ERRORS = {  # error_code: (HTTP status, message), as Karapace and Confluent word them
    401: (401, "Unauthorized"),
    409: (409, "Incompatible schema, compatibility_mode={level}. Incompatibilities: {why}"),
    422: (422, "{why}"),
    40401: (404, "Subject '{subject}' not found."),
    40402: (404, "Version {version} not found."),
    40403: (404, "Schema not found"),
    40404: (404, "Subject '{subject}' was soft deleted.Set permanent=true to delete permanently"),
    40405: (404, "Subject '{subject}' was not deleted first before being permanently deleted"),
    40406: (404, "Subject '{subject}' Version {version} was soft deleted. Set permanent=true to "
                 "delete permanently"),
    40407: (404, "Subject '{subject}' Version {version} was not deleted first before being "
                 "permanently deleted"),
    40408: (404, "Subject '{subject}' does not have subject-level compatibility configured"),
    40409: (404, "Subject '{subject}' does not have subject-level mode configured"),
    40901: (409, "{why}"),
    42201: (422, "{why}"),
    42202: (422, "The specified version '{version}' is not a valid version id. Allowed values "
                 'are between [1, 2^31-1] and the string "latest"'),
    42203: (422, "Invalid compatibility level. Valid values are none, backward, forward, full, "
                 "backward_transitive, forward_transitive, and full_transitive"),
    42204: (422, "Invalid mode. Valid values are READWRITE, READONLY, IMPORT and FORWARD."),
    42205: (422, "{why}"),
    42206: (422, "One or more references exist to the schema "
                 "{{magic=1,keytype=SCHEMA,subject={subject},version={version}}}."),
    44302: (422, "Schema references are not supported for 'JSON' schema type"),
    50001: (500, "Error in the backend data store"),
}
# fmt: on


class RegistryError(Exception):
    def __init__(self, code: int, **details: Any):
        self.status, template = ERRORS[code]
        self.code, self.message = code, template.format(**details)
        super().__init__(self.message)


def _flag(query: dict, name: str) -> bool:
    return query.get(name, "").lower() == "true"  # the Python client sends True/False


def _bad_avro(why: str) -> RegistryError:
    return RegistryError(42201, why=f"Invalid AVRO schema. Error: {why}")


@dataclass(frozen=True)
class Content:
    """What an id stands for: two registrations are the same schema when these are equal."""

    schema_type: str
    text: str  # canonical
    references: tuple[tuple[str, str, int], ...] = ()


@dataclass
class Version:
    version: int
    id: int
    deleted: bool = False


# Avro: structural validation and reader/writer resolution -----------------------------------
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
NAMED = {"record", "error", "enum", "fixed"}
PROMOTIONS = {("int", "long"), ("int", "float"), ("int", "double"), ("long", "float")}
PROMOTIONS |= {("long", "double"), ("float", "double"), ("string", "bytes"), ("bytes", "string")}
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _fullname(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _node(schema: Any, ns: str, names: dict) -> tuple[str, Any, str]:
    """(kind, definition, namespace inside it) of a schema, with named references resolved."""
    if isinstance(schema, list):
        return "union", schema, ns
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return schema, None, ns
        full = _fullname(schema, ns) if _fullname(schema, ns) in names else schema
        if full not in names:
            raise _bad_avro(f"unknown type {schema!r}")
        return _node(names[full], full.rpartition(".")[0], names)
    if not isinstance(schema, dict) or "type" not in schema:
        raise _bad_avro(f"not a schema: {json.dumps(schema)[:80]}")
    kind = schema["type"] if isinstance(schema["type"], str) else ""
    if kind in NAMED:
        full = _fullname(str(schema.get("name")), schema.get("namespace") or ns)
        return ("record" if kind == "error" else kind), schema, full.rpartition(".")[0]
    if kind in PRIMITIVES or kind in ("array", "map"):
        return kind, schema, ns
    raise _bad_avro(
        f"undefined type {json.dumps(schema['type'])[:80]}"
    )  # as Karapace's avro parser


def avro_define(schema: Any, ns: str, names: dict) -> None:
    """Checks `schema` as Avro and adds the named types it defines to `names` (by full name)."""
    if isinstance(schema, list):
        seen = set()
        for branch in schema:
            if isinstance(branch, list):
                raise _bad_avro("a union may not contain a union")
            avro_define(branch, ns, names)
            kind, definition, inner = _node(branch, ns, names)
            key = _fullname(definition["name"], inner) if kind in NAMED else kind
            if key in seen:
                raise _bad_avro(f"duplicate {key!r} in a union")
            seen.add(key)
        return
    if not isinstance(schema, dict) or str(schema.get("type")) not in NAMED:
        kind, definition, _ = _node(schema, ns, names)  # a primitive, a reference, array, map
        part = {"array": "items", "map": "values"}.get(kind)
        if part is not None and part not in definition:
            raise _bad_avro(f"{kind} without {part!r}")
        if part is not None:
            avro_define(definition[part], ns, names)
        return
    name, kind = schema.get("name"), schema["type"]
    full = _fullname(name, schema.get("namespace") or ns) if isinstance(name, str) else ""
    if not all(NAME.fullmatch(part) for part in full.split(".")):
        raise _bad_avro(f"invalid name {name!r}")
    if full in names:
        raise _bad_avro(f"the name {full!r} is already defined")
    names[full] = schema
    if kind == "enum":
        symbols = schema.get("symbols")
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            raise _bad_avro(f"enum {full} needs symbols")
        if len(set(symbols)) != len(symbols) or not all(map(NAME.fullmatch, symbols)):
            raise _bad_avro(f"enum {full} has invalid or duplicate symbols")
        if "default" in schema and schema["default"] not in symbols:
            raise _bad_avro(f"the default of enum {full} is not a symbol")
    elif kind == "fixed":
        size = schema.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise _bad_avro(f"fixed {full} needs a size")
    elif not isinstance(schema.get("fields"), list):
        raise _bad_avro(f"record {full} needs fields")
    inner, seen = full.rpartition(".")[0], set()
    for f in schema.get("fields", []) if kind in ("record", "error") else []:
        if not isinstance(f, dict) or not NAME.fullmatch(str(f.get("name"))) or "type" not in f:
            raise _bad_avro(f"invalid field in record {full}: {json.dumps(f)[:80]}")
        if f["name"] in seen:
            raise _bad_avro(f"duplicate field {f['name']!r} in record {full}")
        seen.add(f["name"])
        avro_define(f["type"], inner, names)  # defaults are not checked, as Karapace


def avro_problems(reader: Any, writer: Any, rnames: dict, wnames: dict) -> list[str]:
    """Why data written with `writer` cannot be read with `reader` (nothing: it can)."""
    seen: set[tuple[int, int]] = set()  # record pairs being compared (recursive types)

    def reads(r: Any, rns: str, w: Any, wns: str, path: str) -> list[str]:
        rkind, rdef, rin = _node(r, rns, rnames)
        wkind, wdef, win = _node(w, wns, wnames)
        if wkind == "union":  # every branch the writer may have written must be readable
            return [p for branch in wdef for p in reads(r, rns, branch, wns, path)]
        if rkind == "union":
            if any(not reads(branch, rns, w, wns, path) for branch in rdef):
                return []
            return [f"{path or '/'}: the reader's union has no branch for the writer's {wkind}"]
        if rkind != wkind:
            if (wkind, rkind) in PROMOTIONS:
                return []
            return [f"{path or '/'}: the writer's {wkind} cannot be read as {rkind}"]
        if rkind in NAMED and rdef["name"].split(".")[-1] != wdef["name"].split(".")[-1]:
            return [f"{path or '/'}: the name {wdef['name']} does not match {rdef['name']}"]
        if rkind in ("array", "map"):
            part = "items" if rkind == "array" else "values"
            return reads(rdef[part], rin, wdef[part], win, f"{path}/{part}")
        if rkind == "fixed" and rdef["size"] != wdef["size"]:
            return [f"{path or '/'}: fixed size {wdef['size']} is read as {rdef['size']}"]
        if rkind == "enum" and "default" not in rdef:
            missing = sorted(set(wdef["symbols"]) - set(rdef["symbols"]))
            return [f"{path or '/'}: the reader's enum lacks {missing}"] if missing else []
        if rkind != "record" or (id(rdef), id(wdef)) in seen:
            return []
        seen.add((id(rdef), id(wdef)))
        written, problems = {f["name"]: f for f in wdef["fields"]}, []
        for f in rdef["fields"]:
            match = next(
                (written[n] for n in [f["name"], *f.get("aliases", [])] if n in written), None
            )
            if match is not None:
                problems += reads(f["type"], rin, match["type"], win, f"{path}/{f['name']}")
            elif "default" not in f:
                problems.append(f"{path}/{f['name']}: a new field without a default")
        return problems

    return reads(reader, "", writer, "", "")


# The stand-in -------------------------------------------------------------------------------
ROUTES: list[tuple[tuple[str, ...], dict[str, str]]] = [
    ((), {"GET": "root"}),
    (("schemas", "types"), {"GET": "types"}),
    (("schemas", "ids", "*"), {"GET": "by_id"}),
    (("schemas", "ids", "*", "versions"), {"GET": "id_versions"}),
    (("subjects",), {"GET": "subjects"}),
    (("subjects", "*"), {"POST": "lookup", "DELETE": "delete_subject"}),
    (("subjects", "*", "versions"), {"GET": "versions", "POST": "register"}),
    (("subjects", "*", "versions", "*"), {"GET": "version", "DELETE": "delete_version"}),
    (("subjects", "*", "versions", "*", "schema"), {"GET": "raw"}),
    (("config",), {"GET": "get_config", "PUT": "put_config"}),
    (("config", "*"), {"GET": "get_config", "PUT": "put_config", "DELETE": "delete_config"}),
    (("mode",), {"GET": "get_mode", "PUT": "put_mode"}),
    (("mode", "*"), {"GET": "get_mode", "PUT": "put_mode", "DELETE": "delete_mode"}),
    (("compatibility", "subjects", "*", "versions", "*"), {"POST": "check"}),
]


class RegistryStandIn:
    def __init__(self, *, username=None, password=None, legacy=False, compatibility="BACKWARD"):
        self.username, self.password = username, password
        self.legacy = legacy  # Karapace before IMPORT mode; may be switched at run time
        self.requests: list[tuple[str, str, Any]] = []  # (method, path?query, JSON body)
        self.schemas: dict[int, Content] = {}
        self.subjects: dict[str, dict[int, Version]] = {}
        self.levels: dict[str | None, str] = {None: compatibility}  # None: the global level
        self.modes: dict[str | None, str] = {None: "READWRITE"}  # None: the global mode
        self._failures: list[list] = []  # [status, times left, path prefix]
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        serve = lambda: self.server.serve_forever(poll_interval=0.05)  # noqa: E731 (quick stop)
        self._thread = threading.Thread(target=serve, daemon=True)

    # lifecycle and test knobs ---------------------------------------------------------------
    def start(self) -> RegistryStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, status: int = 500, times: int = 1, path_prefix: str | None = None) -> None:
        """The next `times` requests (under `path_prefix`) get `status` and change nothing: 500
        is the registry's own 50001 error, 502-504 an HTML page from a proxy in front."""
        with self._lock:
            self._failures.append([status, times, path_prefix or "/"])

    def seed(self, subject, schema, schema_type="AVRO", references=None, id=None, version=None):
        """Puts a version in directly (no mode, compatibility or validity rules); returns its id."""
        text = schema if isinstance(schema, str) else json.dumps(schema)
        refs = tuple((r["name"], r["subject"], int(r["version"])) for r in references or ())
        content = Content(schema_type, self._canonical(schema_type, text), refs)
        with self._lock:
            versions = self.subjects.setdefault(subject, {})
            schema_id = id or self._id_of(content) or max(self.schemas, default=0) + 1
            number = version or max(versions, default=0) + 1
            self.schemas.setdefault(schema_id, content)
            versions[number] = Version(number, schema_id)
            return schema_id

    # HTTP ------------------------------------------------------------------------------------
    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                status, payload, kind = standin._answer(self, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="Schema Registry"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_PUT = do_DELETE = do_GET  # noqa: N815

        return Handler

    def _answer(self, handler, raw: bytes) -> tuple[int, Any, str]:
        url, method = urlparse(handler.path), handler.command
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        kind = (handler.headers.get("content-type") or "application/json").split(";")[0].strip()
        accept = handler.headers.get("accept") or "*/*"
        answer_as = next((t for t in ANSWER_TYPES if t in accept), CONTENT_TYPE)
        with self._lock:
            self.requests.append((method, handler.path, body))
            failure = next((f for f in self._failures if f[1] and url.path.startswith(f[2])), None)
            try:
                if failure is not None:
                    failure[1] -= 1
                    if failure[0] != 500:
                        page = f"<html><body><h1>{failure[0]}</h1>Unavailable</body></html>"
                        return failure[0], page.encode(), "text/html; charset=utf-8"
                    raise RegistryError(50001)
                if self.username is not None and not self._authorized(handler):
                    raise RegistryError(401)
                if method in ("POST", "PUT") and kind not in BODY_TYPES:
                    return 415, {"message": "HTTP 415 Unsupported Media Type"}, CONTENT_TYPE
                if "*" not in accept and not any(t in accept for t in ANSWER_TYPES):
                    return 406, {"message": "HTTP 406 Not Acceptable"}, CONTENT_TYPE
                status, payload = self._route(method, url.path, query, body)
            except RegistryError as exc:
                status, payload = exc.status, {"error_code": exc.code, "message": exc.message}
            return status, payload, answer_as

    def _authorized(self, handler) -> bool:
        scheme, _, token = (handler.headers.get("authorization") or "").partition(" ")
        try:
            user, _, password = base64.b64decode(token).decode().partition(":")
        except ValueError:
            return False
        return scheme.lower() == "basic" and (user, password) == (self.username, self.password)

    def _route(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
        parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        for pattern, methods in ROUTES:
            if len(pattern) != len(parts) or any(
                p not in ("*", s) for p, s in zip(pattern, parts, strict=True)
            ):
                continue
            args = [s for p, s in zip(pattern, parts, strict=True) if p == "*"]
            if method not in methods or (self.legacy and parts[:1] == ["mode"] and method != "GET"):
                return 405, "Method Not Allowed"  # Karapace (FastAPI) answers a bare string
            return 200, getattr(self, "_" + methods[method])(*args, query=query, body=body)
        return 404, "Not Found"

    # the model -------------------------------------------------------------------------------
    @staticmethod
    def _canonical(schema_type: str, text: str) -> str:
        if schema_type == "PROTOBUF":
            return text.strip()
        return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))

    def _id_of(self, content: Content) -> int | None:
        return min((i for i, c in self.schemas.items() if c == content), default=None)

    def _mode(self, subject: str | None) -> str:
        return "READWRITE" if self.legacy else self.modes.get(subject) or self.modes[None]

    def _level(self, subject: str) -> str:
        return self.levels.get(subject) or self.levels[None]

    def _listed(self, subject: str, deleted: bool = False) -> list[Version]:
        versions = sorted(self.subjects.get(subject, {}).items())
        return [v for _, v in versions if deleted or not v.deleted]

    def _resolve(self, subject: str, version: str, deleted: bool) -> Version:
        versions = {v.version: v for v in self._listed(subject, deleted)}
        if not versions:
            raise RegistryError(40401, subject=subject)
        if version in ("latest", "-1"):
            return versions[max(versions)]
        if not version.isdigit() or not 1 <= int(version) <= 2**31 - 1:
            raise RegistryError(42202, version=version)
        if int(version) not in versions:
            raise RegistryError(40402, version=version)
        return versions[int(version)]

    def _names(self, content: Content, names: dict | None = None, done: set | None = None) -> dict:
        """The Avro named types of `content` (checking it), those of its references first."""
        names, done = ({}, set()) if names is None else (names, done)
        for _, subject, number in content.references:
            ref = self.subjects.get(subject, {}).get(number)
            if ref is not None and self.schemas[ref.id].schema_type == "AVRO":
                self._names(self.schemas[ref.id], names, done)
        if content.text not in done:  # a schema referenced twice defines its names once
            done.add(content.text)
            avro_define(json.loads(content.text), "", names)
        return names

    def _content(self, body: Any) -> Content:
        """The schema of a request, checked with its type and references."""
        if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
            raise RegistryError(422, why="the body needs a 'schema' string")
        kind, refs = body.get("schemaType") or "AVRO", body.get("references") or []
        if kind not in SCHEMA_TYPES:
            raise RegistryError(422, why=f"Invalid schemaType {kind}")
        if refs and kind == "JSON":
            raise RegistryError(44302)
        if not body["schema"].strip():
            raise RegistryError(42201, why="Empty schema")
        references = []
        for ref in refs:
            ref = ref if isinstance(ref, dict) else {}
            subject, number = str(ref.get("subject")), ref.get("version")
            live = {v.version for v in self._listed(subject)}
            number = max(live, default=0) if number in ("latest", -1) else number
            if number not in live or isinstance(number, bool):
                raise RegistryError(42201, why=f"Invalid {kind} references: {ref} not found")
            references.append((str(ref.get("name")), subject, number))
        try:
            content = Content(kind, self._canonical(kind, body["schema"]), tuple(references))
        except ValueError as exc:
            raise RegistryError(42201, why=f"Invalid {kind} schema. Error: {exc}") from None
        if kind == "AVRO":
            self._names(content)
        elif kind == "JSON":
            parsed = json.loads(content.text)
            types = parsed.get("type", "object") if isinstance(parsed, dict) else "object"
            known = {"object", "array", "string", "number", "integer", "boolean", "null"}
            if (
                not isinstance(parsed, dict | bool)
                or not set(types if isinstance(types, list) else [types]) <= known
            ):
                raise RegistryError(42201, why="Invalid JSON schema. Error: not a JSON Schema")
        elif content.text.count("{") != content.text.count("}"):
            raise RegistryError(42201, why="Invalid PROTOBUF schema. Error: unbalanced braces")
        return content

    def _incompatibilities(self, subject: str, new: Content, olds: list[Version]) -> list[str]:
        level, problems = self._level(subject), []
        for old in (olds if level.endswith("TRANSITIVE") else olds[-1:]) if level != "NONE" else []:
            before = self.schemas[old.id]
            if before.schema_type != new.schema_type:
                problems.append(f"the schema type changes from {before.schema_type}")
            elif new.schema_type == "AVRO":
                new_names, old_names = self._names(new), self._names(before)
                new_schema, old_schema = json.loads(new.text), json.loads(before.text)
                if level.startswith(("BACKWARD", "FULL")):  # the new schema reads old data
                    problems += avro_problems(new_schema, old_schema, new_names, old_names)
                if level.startswith(("FORWARD", "FULL")):  # the old schema reads new data
                    problems += avro_problems(old_schema, new_schema, old_names, new_names)
        return problems

    def _writable(self, subject: str | None) -> None:
        if self._mode(subject) == "READONLY":
            raise RegistryError(42205, why=f"Subject {subject} is in read-only mode")

    def _unreferenced(self, subject: str, number: int) -> None:
        for versions in self.subjects.values():
            for v in versions.values():
                if any(ref[1:] == (subject, number) for ref in self.schemas[v.id].references):
                    raise RegistryError(42206, subject=subject, version=number)

    # the routes ------------------------------------------------------------------------------
    def _root(self, **_):
        return {}

    def _types(self, **_):
        return list(SCHEMA_TYPES)

    def _by_id(self, schema_id: str, **_):
        content = self.schemas.get(int(schema_id)) if schema_id.isdigit() else None
        if content is None:
            raise RegistryError(40403)
        answer: dict[str, Any] = {"schema": content.text}
        if content.schema_type != "AVRO":
            answer["schemaType"] = content.schema_type
        if content.references:
            answer["references"] = [
                {"name": n, "subject": s, "version": v} for n, s, v in content.references
            ]
        return answer

    def _id_versions(self, schema_id: str, query: dict, **_):
        found = [
            (s, v) for s in sorted(self.subjects) for v in self._listed(s, _flag(query, "deleted"))
        ]
        return [{"subject": s, "version": v.version} for s, v in found if str(v.id) == schema_id]

    def _subjects(self, query: dict, **_):
        return sorted(s for s in self.subjects if self._listed(s, _flag(query, "deleted")))

    def _versions(self, subject: str, query: dict, **_):
        numbers = [v.version for v in self._listed(subject, _flag(query, "deleted"))]
        if not numbers:
            raise RegistryError(40401, subject=subject)
        return numbers

    def _version(self, subject: str, version: str, query: dict, **_):
        found = self._resolve(subject, version, _flag(query, "deleted"))
        answer = {"subject": subject, "version": found.version, "id": found.id}
        return answer | self._by_id(str(found.id))

    def _raw(self, subject: str, version: str, **_):
        content = self.schemas[self._resolve(subject, version, False).id]
        if content.schema_type == "PROTOBUF":
            return content.text.encode()
        return json.loads(content.text)

    def _register(self, subject: str, body: Any, **_):
        given = body if isinstance(body, dict) and not self.legacy else {}
        schema_id, number = given.get("id"), given.get("version")
        if any(not isinstance(v, int | None) or isinstance(v, bool) for v in (schema_id, number)):
            raise RegistryError(422, why="'id' and 'version' are integers")
        schema_id = None if schema_id is None or schema_id < 0 else schema_id
        number = None if number is None or number <= 0 else number
        mode, versions, live = self._mode(subject), self.subjects.get(subject, {}), []
        self._writable(subject)
        if mode != "IMPORT" and (schema_id, number) != (None, None):
            raise RegistryError(42205, why=f"Subject {subject} is not in import mode")
        if mode == "IMPORT" and (schema_id, number) == (None, None):
            raise RegistryError(42205, why=f"Subject {subject} is not in read-write mode")
        content, live = self._content(body), self._listed(subject)
        for v in reversed(live) if number is None else []:
            if self.schemas[v.id] == content and schema_id in (None, v.id):
                return {"id": v.id}  # registered already
        if mode == "IMPORT":
            if self.schemas.get(schema_id, content) != content:
                why = f"Overwrite new schema with id {schema_id} is not permitted."
                raise RegistryError(40901, why=why)
            if number in versions:
                there = versions[number].id
                if self.schemas[there] == content and schema_id in (None, there):
                    versions[number].deleted = False  # a replayed import: live again
                    return {"id": there}
                why = f"Version {number} of subject {subject} holds another schema."
                raise RegistryError(40901, why=why)
        elif problems := self._incompatibilities(subject, content, live):
            raise RegistryError(409, level=self._level(subject), why=", ".join(problems)[:300])
        if schema_id is None:
            schema_id = self._id_of(content) or max(self.schemas, default=0) + 1
        number = number or max(versions, default=0) + 1
        self.schemas.setdefault(schema_id, content)
        self.subjects.setdefault(subject, {})[number] = Version(number, schema_id)
        return {"id": schema_id}

    def _lookup(self, subject: str, body: Any, query: dict, **_):
        versions = self._listed(subject, _flag(query, "deleted"))
        if not versions:
            raise RegistryError(40401, subject=subject)
        content = self._content(body)
        for v in reversed(versions):
            if self.schemas[v.id] == content:
                answer = {"subject": subject, "version": v.version, "id": v.id}
                return answer | self._by_id(str(v.id))
        raise RegistryError(40403)

    def _delete_version(self, subject: str, version: str, query: dict, **_):
        permanent = _flag(query, "permanent")
        self._writable(subject)
        found = self._resolve(subject, version, permanent or version not in ("latest", "-1"))
        if found.deleted != permanent:
            raise RegistryError(40407 if permanent else 40406, subject=subject, version=version)
        self._unreferenced(subject, found.version)
        found.deleted = True
        if permanent:
            del self.subjects[subject][found.version]
            if not self.subjects[subject]:
                del self.subjects[subject]
        return found.version

    def _delete_subject(self, subject: str, query: dict, **_):
        permanent = _flag(query, "permanent")
        self._writable(subject)
        if subject not in self.subjects:
            raise RegistryError(40401, subject=subject)
        live = self._listed(subject)
        if permanent == bool(live):
            raise RegistryError(40405 if permanent else 40404, subject=subject)
        for v in self._listed(subject, deleted=permanent):
            self._unreferenced(subject, v.version)
        if permanent:
            return sorted(self.subjects.pop(subject))
        for v in live:
            v.deleted = True
        return [v.version for v in live]

    def _get_config(self, subject: str | None = None, query: dict | None = None, **_):
        if subject is not None and subject not in self.subjects and subject not in self.levels:
            raise RegistryError(40401, subject=subject)
        level = self.levels.get(subject)
        if level is None and _flag(query, "defaultToGlobal"):
            level = self.levels[None]
        if level is None:
            raise RegistryError(40408, subject=subject)
        return {"compatibilityLevel": level}

    def _put_config(self, subject: str | None = None, body: Any = None, **_):
        level = body.get("compatibility") if isinstance(body, dict) else None
        if level not in LEVELS:
            raise RegistryError(42203)
        self._writable(subject)
        self.levels[subject] = level
        return {"compatibility": level}

    def _delete_config(self, subject: str, **_):
        self._writable(subject)
        self.levels.pop(subject, None)
        return {"compatibility": self.levels[None]}

    def _get_mode(self, subject: str | None = None, query: dict | None = None, **_):
        if self.legacy and subject is not None and subject not in self.subjects:
            raise RegistryError(40401, subject=subject)
        mode = self._mode(subject) if self.legacy else self.modes.get(subject)
        if mode is None and _flag(query, "defaultToGlobal"):
            mode = self.modes[None]
        if mode is None:
            raise RegistryError(40409, subject=subject)
        return {"mode": mode}

    def _put_mode(self, subject: str | None = None, body: Any = None, query: Any = None, **_):
        mode = str(body.get("mode", "")).upper() if isinstance(body, dict) else ""
        if mode not in MODES:
            raise RegistryError(42204)
        if mode == "IMPORT" and self._mode(subject) != "IMPORT" and not _flag(query, "force"):
            scope = list(self.subjects) if subject is None else [subject]
            if any(self._listed(s) for s in scope):
                raise RegistryError(42205, why="Cannot import since found existing subjects")
            for s in scope:  # only soft-deleted versions: gone for good, as Confluent does
                self.subjects.pop(s, None)
        self.modes[subject] = mode
        return {"mode": mode}

    def _delete_mode(self, subject: str, **_):
        if subject not in self.modes:
            raise RegistryError(40401, subject=subject)
        return {"mode": self.modes.pop(subject)}

    def _check(self, subject: str, version: str, body: Any, **_):
        content = self._content(body)
        try:
            old = self._resolve(subject, version, False)
        except RegistryError as exc:  # Karapace answers 40402 for a subject not found too
            raise exc if exc.code == 42202 else RegistryError(40402, version=version) from None
        olds = self._listed(subject) if self._level(subject).endswith("TRANSITIVE") else [old]
        if problems := self._incompatibilities(subject, content, olds):
            return {"is_compatible": False, "messages": problems}
        return {"is_compatible": True}
