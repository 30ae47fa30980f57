"""A local stand-in of the Aiven API (the `/v1` paths the bot uses through aiven-client), for
tests and rehearsals, backed by the real sandbox.

One project (its state and answers: rehearsal/standins/aiven_project.py); the Kafka services it
hosts are sandbox clusters (name -> librdkafka settings); MirrorMaker 2 services run their
replication flows as MM2 connectors on the sandbox's Connect worker attached to the flow's
target (`connect` for the target, `connect_source` for the source; aiven_kafka.py). Every
request is checked against Aiven's OpenAPI document and a field-name allow-list
(aiven_openapi.py), and every 2xx answer too: an answer the document refuses is a
`ResponseMismatch`, answered as a 500 and kept in `problems` for the test to assert on.

Answers as Aiven: 401 without `authorization: aivenv1 <token>`; 404 naming the project, service,
integration, endpoint, flow, ACL or topic; 409 on creating one that exists; error bodies
`{"message": ..., "errors": [{"message": ..., "status": N}]}`. Services are created REBUILDING
and turn RUNNING after `running_delay` seconds; integrations are `starting`, then `running`
(or `failed`, with the error, when their Kafka source cannot be reached or refuses the login).
A flow whose aliases are not the `cluster_alias` of integrations into its MM2 service
replicates nothing and raises no error, as on Aiven.

MM2's committed source offsets are copied every OFFSETS_EVERY s from the Connect worker to
`mm2-offsets.<source alias>.internal` on the target, under `MirrorSourceConnector`, where the
bot reads them on Aiven (aiven_kafka.OffsetsMirror); `offsets_held = True` stops that (an MM2
that commits nothing new). A flow enabled starts its MirrorSourceConnector from the positions
stored there (none: from the beginning), as Aiven's MM2 does; one disabled stores its last
positions there first and runs no connector.

Knobs: `fail(method, path_regex, status, times)` answers the next matching requests with an
Aiven-like error (or DROP: the connection is closed without an answer) and changes nothing.
`requests` logs (method, path, status, body without nulls and with secrets redacted); the
token is never logged. Endpoint answers mask secrets as "***" unless `include_secrets=true`.

Known differences: one project; no service users, plans or clouds checks; project_vpc_id is a
placeholder (the document requires a 36-character string where Aiven answers null); topic
answers carry no sizes and consumer groups; a flow's exactly_once_delivery_enabled,
emit_backward_heartbeats_enabled and config_properties_exclude are kept and answered but not
applied; a Connect worker's refusal of a flow's connectors is kept in `flows[key].error`, not
answered (Aiven shows such failures only in its service logs and metrics).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from bot.kafka.cluster import KafkaOpError
from standins.aiven_openapi import (
    Refusal,
    ResponseMismatch,
    check_request,
    check_response,
    drop_nulls,
    validator,
)
from standins.aiven_project import AivenProject, redact

DROP = "drop"  # fail(..., status=DROP): close the connection without answering
SOURCE, TARGET = "source-kafka", "target-kafka"  # the sandbox's clusters, in on_sandbox
OFFSETS_EVERY = 0.3  # seconds between copies of MM2's committed offsets (aiven_kafka)


@dataclass
class Logged:
    method: str
    path: str
    status: int | str
    body: Any  # without nulls, secrets redacted


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int | str
    times: int


class AivenStandIn(AivenProject):
    def __init__(self, *, token: str, project: str, **kwargs: Any):
        """`token`: what `authorization: aivenv1 <token>` must carry; the other arguments are
        AivenProject's (kafka_services, connect_url, connect_workers, running_delay,
        existing)."""
        validator()  # once per process
        super().__init__(project=project, **kwargs)
        self._token = token
        self.requests: list[Logged] = []
        self.problems: list[str] = []  # answers the document refused (stand-in bugs)
        self.offset_errors: list[str] = []  # copying MM2's offsets failed (clusters away)
        self._faults: list[Fault] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        serve = lambda: self.server.serve_forever(poll_interval=0.05)  # noqa: E731 (quick stop)
        self._thread = threading.Thread(target=serve, daemon=True)
        self._stopped = threading.Event()
        self._mirror = threading.Thread(target=self._mirror_offsets, daemon=True)

    @classmethod
    def on_sandbox(cls, box, *, token: str, project: str, **kwargs: Any) -> AivenStandIn:
        """The sandbox's (bot.sandbox.Sandbox) clusters as Kafka services `source-kafka` and
        `target-kafka` (as its admin user); a flow into the target runs on its worker `connect`,
        one into the source on `connect_source`."""
        services = {SOURCE: box.source.client_config(), TARGET: box.target.client_config()}
        workers = {
            box.target.bootstrap_servers: (box.connect_url, box.connect_auth("connect")),
            box.source.bootstrap_servers: (
                box.connect_source_url,
                box.connect_auth("connect_source"),
            ),
        }
        return cls(
            token=token,
            project=project,
            kafka_services=services,
            connect_url=box.connect_url,
            connect_workers=workers,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"AivenStandIn({self.url!r}, project={self.project!r})"

    # lifecycle and test knobs ---------------------------------------------------------------
    def start(self) -> AivenStandIn:
        self._thread.start()
        self._mirror.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the MM2 connectors of every flow (its MM2 services go)."""
        self._stopped.set()
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()
        if self._mirror.is_alive():
            self._mirror.join(30)
        self.offsets.close()
        self.remove_connectors()

    def _mirror_offsets(self) -> None:
        """MM2's committed offsets where Aiven keeps them, copied every OFFSETS_EVERY s."""
        while not self._stopped.wait(OFFSETS_EVERY):
            if self.offsets_held:
                continue
            try:
                self.mirror_offsets()
            except Exception as exc:  # noqa: BLE001 - a cluster away: kept, tried again
                self.offset_errors.append(repr(exc)[:300])

    close = stop

    def fail(self, method: str, path_regex: str, status: int | str, times: int = 1) -> None:
        """The next `times` requests of `method` ("*": any) whose path (under /v1) matches
        `path_regex` (re.search) get `status` (401, 403, 404, 409, 5xx, or DROP)."""
        with self._lock:
            self._faults.append(Fault(method.upper(), re.compile(path_regex), status, times))

    # HTTP -------------------------------------------------------------------------------------
    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # on a kept-alive connection the body would wait for the client's (delayed) ack of
            # the headers: 40 ms an answer
            disable_nagle_algorithm = True

            def log_message(self, *_args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                answer = standin._answer(self, raw)
                if answer is None:  # a dropped connection
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(2)
                    return
                status, payload = answer
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_PUT = do_DELETE = do_PATCH = do_GET  # noqa: N815

        return Handler

    def _answer(self, handler, raw: bytes) -> tuple[int, Any] | None:
        url, method = urlparse(handler.path), handler.command
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        logged = Logged(method, url.path, 0, None)
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = None
        with self._lock:
            logged.body = redact(drop_nulls(body))
            self.requests.append(logged)
            fault = next(
                (
                    f
                    for f in self._faults
                    if f.times > 0 and f.method in ("*", method) and f.path.search(url.path)
                ),
                None,
            )
            if fault is not None:
                fault.times -= 1
                logged.status = fault.status
                if fault.status == DROP:
                    return None
                return fault.status, _error(fault.status, f"Injected error {fault.status}")
            try:
                if handler.headers.get("authorization") != f"aivenv1 {self._token}":
                    raise Refusal(401, "Invalid token")
                body = check_request(method, url.path, query, body)
                status, payload = self.route(method, url.path, query, body or {})
            except Refusal as exc:
                status, payload = exc.status, _error(exc.status, exc.message)
            except KafkaOpError as exc:
                status, payload = 400, _error(400, str(exc)[:300])
            except Exception as exc:  # noqa: BLE001 - a stand-in bug: answered, kept, raised
                self.problems.append(f"{method} {url.path}: {exc!r}")
                status, payload = 500, _error(500, f"stand-in bug: {type(exc).__name__}")
            if status < 300:
                try:
                    check_response(method, url.path, status, payload)
                except ResponseMismatch as exc:
                    self.problems.append(str(exc))
                    status, payload = 500, _error(500, f"stand-in bug: {exc}")
            logged.status = status
            return status, payload


def _error(status: int | str, message: str) -> dict:
    return {"message": message, "errors": [{"message": message, "status": status}]}
