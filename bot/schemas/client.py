"""A schema registry over the Confluent REST API (Confluent, Karapace — Aiven's, Apicurio's
ccompat), with httpx. Every failure is a RegistryError naming the registry and what it said;
credentials are never part of a message."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from bot.reasons import reason

MEDIA = "application/vnd.schemaregistry.v1+json"


class RegistryError(RuntimeError):
    """`status`/`code`: the HTTP status and the registry's error_code (None without an answer);
    `retriable`: the registry was away or failing (5xx, timeout), not refusing."""

    def __init__(self, message: str, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status, self.code = status, code
        self.retriable = status is None or status >= 500


@dataclass(frozen=True)
class Version:
    """One version of a subject, as the registry holds it."""

    subject: str
    version: int
    id: int
    schema: str
    schema_type: str = "AVRO"
    references: tuple[tuple[str, str, int], ...] = ()  # (name, subject, version)
    deleted: bool = False

    @property
    def canonical(self) -> str:
        return canonical(self.schema_type, self.schema)


def canonical(schema_type: str, schema: str) -> str:
    """The text two registries compare: JSON parsed and dumped with sorted keys (Avro, JSON
    Schema); Protobuf as written, stripped."""
    if schema_type == "PROTOBUF":
        return schema.strip()
    try:
        return json.dumps(json.loads(schema), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return schema.strip()


@dataclass
class Registry:
    """One registry: `name` is its name in the config (used in every message)."""

    name: str
    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    verify: str | bool = True
    timeout: float = 15.0
    subject_strategy: str = "topic"  # how this registry's subjects are named (see migrate.py)
    extra_subjects: tuple[str, ...] = ()  # subjects migrated besides those of the topics

    @classmethod
    def from_settings(cls, settings, name: str) -> Registry:
        conf = settings.schema_registry(name)
        password = settings.password(conf.password_env, f"schema_registries.{name}.password_env")
        return cls(
            name,
            str(conf.url),
            conf.username,
            password,
            conf.ssl_ca_file or True,
            subject_strategy=conf.subject_strategy,
            extra_subjects=tuple(conf.subjects),
        )

    def __repr__(self) -> str:  # never the password
        return f"Registry({self.name!r}, {self.url!r})"

    def __post_init__(self):
        auth = (self.username, self.password or "") if self.username else None
        self._http = httpx.Client(
            base_url=self.url.rstrip("/"),
            auth=auth,
            verify=self.verify,
            timeout=self.timeout,
            headers={"Accept": MEDIA, "Content-Type": MEDIA},
        )

    def close(self) -> None:
        self._http.close()

    # the calls ---------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, ok404: bool = False, **kwargs) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:  # no answer: retriable (status None)
            raise RegistryError(f"schema registry {self.name}: {reason(exc)}") from None
        if response.status_code == 404 and ok404:
            return None
        if response.status_code >= 400:
            raise self._refusal(method, path, response)
        return response.json() if response.content else None

    def _refusal(self, method: str, path: str, response: httpx.Response) -> RegistryError:
        try:
            body = response.json()
            code, said = body.get("error_code"), str(body.get("message", ""))[:200]
        except (ValueError, AttributeError):
            code, said = None, response.text[:120].strip()
        status = response.status_code
        where = f"schema registry {self.name}"
        if status == 401:
            text = f"{where} refused the credentials (user {self.username or 'none'}): HTTP 401"
        elif status == 403:
            text = f"{where}: the user {self.username or 'anonymous'} may not {method} {path}"
        else:
            text = f"{where}: {method} {path}: HTTP {status}" + (
                f" (error {code}: {said})" if code else f" ({said})" if said else ""
            )
        return RegistryError(text, status, code)

    def check(self) -> None:
        self._call("GET", "/subjects")

    def subjects(self, *, deleted: bool = False) -> list[str]:
        return self._call("GET", "/subjects", params={"deleted": "true"} if deleted else None)

    def versions(self, subject: str, *, deleted: bool = False) -> list[int]:
        found = self._call(
            "GET",
            f"/subjects/{_quote(subject)}/versions",
            params={"deleted": "true"} if deleted else None,
            ok404=True,
        )
        return list(found or [])

    def version(self, subject: str, version: int, *, deleted: bool = False) -> Version | None:
        body = self._call(
            "GET",
            f"/subjects/{_quote(subject)}/versions/{version}",
            params={"deleted": "true"} if deleted else None,
            ok404=True,
        )
        return None if body is None else _version(body)

    def by_id(self, schema_id: int) -> tuple[str, str] | None:
        """(schema type, schema) registered under this id, or None."""
        body = self._call("GET", f"/schemas/ids/{schema_id}", ok404=True)
        if body is None:
            return None
        return body.get("schemaType", "AVRO"), body["schema"]

    def register(self, v: Version, *, with_id: bool) -> int:
        """Register `v` under its subject; with its id and version number when `with_id` (IMPORT
        mode). Returns the id the registry answers with, which the caller must compare."""
        body: dict[str, Any] = {"schema": v.schema}
        if v.schema_type != "AVRO":
            body["schemaType"] = v.schema_type
        if v.references:
            body["references"] = [
                {"name": n, "subject": s, "version": ver} for n, s, ver in v.references
            ]
        if with_id:
            body |= {"id": v.id, "version": v.version}
        return int(self._call("POST", f"/subjects/{_quote(v.subject)}/versions", json=body)["id"])

    def mode(self, subject: str | None = None) -> str | None:
        path = f"/mode/{_quote(subject)}" if subject else "/mode"
        body = self._call("GET", path, ok404=True)
        return None if body is None else body.get("mode")

    def set_mode(self, mode: str, subject: str | None = None, *, force: bool = False) -> None:
        path = f"/mode/{_quote(subject)}" if subject else "/mode"
        self._call("PUT", path, json={"mode": mode}, params={"force": "true"} if force else None)

    def clear_mode(self, subject: str) -> None:
        self._call("DELETE", f"/mode/{_quote(subject)}", ok404=True)

    def compatibility(self, subject: str | None = None) -> str | None:
        """The level set on the subject (None when it has none of its own), or the global one."""
        path = f"/config/{_quote(subject)}" if subject else "/config"
        body = self._call("GET", path, ok404=True)
        return None if body is None else body.get("compatibilityLevel")

    def set_compatibility(self, level: str, subject: str) -> None:
        self._call("PUT", f"/config/{_quote(subject)}", json={"compatibility": level})

    def soft_delete_version(self, subject: str, version: int) -> None:
        """Hidden from the subject's versions; its id stays bound and resolvable (404: it was
        soft-deleted already)."""
        self._call("DELETE", f"/subjects/{_quote(subject)}/versions/{version}", ok404=True)

    def delete_version(self, subject: str, version: int) -> None:
        """Soft, then hard: a version this migration registered with a wrong id."""
        self.soft_delete_version(subject, version)
        path = f"/subjects/{_quote(subject)}/versions/{version}"
        self._call("DELETE", path, params={"permanent": "true"}, ok404=True)


def _quote(subject: str) -> str:
    return quote(subject, safe="")


def _version(body: dict) -> Version:
    return Version(
        subject=body["subject"],
        version=int(body["version"]),
        id=int(body["id"]),
        schema=body["schema"],
        schema_type=body.get("schemaType", "AVRO"),
        references=tuple(
            (r["name"], r["subject"], int(r["version"])) for r in body.get("references") or []
        ),
        deleted=bool(body.get("deleted", False)),
    )
