"""Ask a broker which Kafka APIs it speaks (ApiVersions, the one request allowed before auth).

librdkafka does not expose the broker's ApiVersions answer, so this sends the request itself
(v3: the response carries the finalized `metadata.version` feature) over TCP or TLS. From the
answer, `kafka_version` names the release: exactly from metadata.version on KRaft clusters,
otherwise a lower bound from the newest API the broker offers.
"""

from __future__ import annotations

import socket
import ssl
import struct
from dataclasses import dataclass, field

API_VERSIONS = 18
CLIENT = b"kafka-migrate"

# MetadataVersion feature levels (server-common MetadataVersion.java, Kafka 4.3.1)
METADATA_VERSIONS = {
    1: "3.0-IV1",
    2: "3.1-IV0",
    3: "3.2-IV0",
    4: "3.3-IV0",
    5: "3.3-IV1",
    6: "3.3-IV2",
    7: "3.3-IV3",
    8: "3.4-IV0",
    9: "3.5-IV0",
    10: "3.5-IV1",
    11: "3.5-IV2",
    12: "3.6-IV0",
    13: "3.6-IV1",
    14: "3.6-IV2",
    15: "3.7-IV0",
    16: "3.7-IV1",
    17: "3.7-IV2",
    18: "3.7-IV3",
    19: "3.7-IV4",
    20: "3.8-IV0",
    21: "3.9-IV0",
    22: "4.0-IV0",
    23: "4.0-IV1",
    24: "4.0-IV2",
    25: "4.0-IV3",
    26: "4.1-IV0",
    27: "4.1-IV1",
    28: "4.2-IV0",
    29: "4.2-IV1",
    30: "4.3-IV0",
    31: "4.4-IV0",
}
# the release that introduced an API key: a lower bound when metadata.version is absent (ZK)
API_SINCE = [
    (75, "3.8"),
    (71, "3.7"),
    (66, "3.0"),
    (61, "2.8"),
    (57, "2.7"),
    (48, "2.6"),
    (47, "2.4"),
    (44, "2.3"),
    (43, "2.2"),
    (42, "1.1"),
    (36, "1.0"),
]


@dataclass
class ApiVersions:
    apis: dict[int, tuple[int, int]]  # api key -> (min, max)
    finalized: dict[str, int] = field(default_factory=dict)  # feature -> max version level

    @property
    def metadata_version(self) -> str | None:
        level = self.finalized.get("metadata.version")
        return METADATA_VERSIONS.get(level, f"level {level}") if level is not None else None

    @property
    def kafka_version(self) -> str:
        if self.metadata_version and self.metadata_version[0].isdigit():
            return self.metadata_version.split("-")[0]
        for key, release in API_SINCE:
            if key in self.apis:
                return f">= {release}"
        return "< 1.0"


def _uvarint(buf: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _skip_tags(buf: memoryview, pos: int) -> int:
    count, pos = _uvarint(buf, pos)
    for _ in range(count):
        _tag, pos = _uvarint(buf, pos)
        size, pos = _uvarint(buf, pos)
        pos += size
    return pos


def request_v3(correlation_id: int = 1) -> bytes:
    header = struct.pack(">hhih", API_VERSIONS, 3, correlation_id, len(CLIENT)) + CLIENT + b"\x00"
    body = bytes([len(CLIENT) + 1]) + CLIENT + bytes([len(b"1.0") + 1]) + b"1.0" + b"\x00"
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def parse_v3(payload: bytes) -> ApiVersions:
    buf = memoryview(payload)
    pos = 4  # correlation id (response header v0, also for flexible ApiVersions)
    (error,) = struct.unpack_from(">h", buf, pos)
    pos += 2
    if error:
        raise ConnectionError(f"ApiVersions answered error code {error}")
    count, pos = _uvarint(buf, pos)
    apis = {}
    for _ in range(count - 1):
        key, low, high = struct.unpack_from(">hhh", buf, pos)
        pos = _skip_tags(buf, pos + 6)
        apis[key] = (low, high)
    pos += 4  # throttle time
    finalized: dict[str, int] = {}
    tags, pos = _uvarint(buf, pos)
    for _ in range(tags):
        tag, pos = _uvarint(buf, pos)
        size, pos = _uvarint(buf, pos)
        end = pos + size
        if tag == 2:  # FinalizedFeatures: [name, max level, min level]
            entries, pos = _uvarint(buf, pos)
            for _ in range(entries - 1):
                length, pos = _uvarint(buf, pos)
                name = bytes(buf[pos : pos + length - 1]).decode()
                pos += length - 1
                (max_level,) = struct.unpack_from(">h", buf, pos)
                pos = _skip_tags(buf, pos + 4)
                finalized[name] = max_level
        pos = end
    return ApiVersions(apis, finalized)


def fetch(
    bootstrap_servers: str,
    security_protocol: str = "PLAINTEXT",
    ssl_ca_file: str | None = None,
    timeout: float = 10.0,
) -> ApiVersions:
    host, _, port = bootstrap_servers.split(",")[0].strip().rpartition(":")
    raw = socket.create_connection((host, int(port)), timeout=timeout)
    try:
        sock: socket.socket = raw
        if security_protocol in ("SSL", "SASL_SSL"):
            context = ssl.create_default_context(cafile=ssl_ca_file)
            sock = context.wrap_socket(raw, server_hostname=host)
        sock.sendall(request_v3())
        size = struct.unpack(">i", _read(sock, 4))[0]
        return parse_v3(_read(sock, size))
    finally:
        raw.close()


def _read(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("broker closed the connection during ApiVersions")
        data += chunk
    return bytes(data)
