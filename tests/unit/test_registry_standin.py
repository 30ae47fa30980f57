"""The schema registry stand-in answers as Karapace (and Confluent) do: plain HTTP, and
confluent-kafka's own SchemaRegistryClient, AvroSerializer and AvroDeserializer against it.
Its Avro checks are cross-checked with Apache avro, the parser Karapace uses."""

from __future__ import annotations

import json

import avro.schema
import httpx
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext
from standins.registry import CONTENT_TYPE, RegistryStandIn, avro_define, avro_problems


def record(*fields, name="Order", **extra):
    return {"type": "record", "name": name, "namespace": "acme", "fields": list(fields), **extra}


def field(name, kind, **extra):
    return {"name": name, "type": kind, **extra}


ORDER = record(field("id", "long"), field("customer", "string"))
PAYMENT = record(field("id", "long"), name="Payment")


@pytest.fixture
def registry():
    standin = RegistryStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture
def http(registry):
    with httpx.Client(base_url=registry.url, timeout=5) as client:
        yield client


def register(http, subject, schema, **extra):
    text = schema if isinstance(schema, str) else json.dumps(schema)
    return http.post(f"/subjects/{subject}/versions", json={"schema": text, **extra})


def error(response, status, code):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == CONTENT_TYPE
    assert response.json()["error_code"] == code
    return response.json()["message"]


def test_root_types_and_content_type(http):
    assert http.get("/").json() == {}
    answer = http.get("/schemas/types")
    assert answer.json() == ["JSON", "AVRO", "PROTOBUF"]
    assert answer.headers["content-type"] == CONTENT_TYPE
    assert http.get("/", headers={"Accept": "application/json"}).headers["content-type"] == (
        "application/json"
    )
    assert http.get("/nowhere").status_code == 404
    bad = http.post("/subjects/s/versions", content=b"{}", headers={"Content-Type": "text/plain"})
    assert bad.status_code == 415


def test_ids_are_global_and_deduplicated(http, registry):
    first = register(http, "orders-value", ORDER).json()["id"]
    assert register(http, "orders-value", ORDER).json()["id"] == first  # no new version
    assert http.get("/subjects/orders-value/versions").json() == [1]
    assert register(http, "audit-value", ORDER).json()["id"] == first  # same content, same id
    assert register(http, "payments-value", PAYMENT).json()["id"] == first + 1
    other_text = json.dumps(ORDER, indent=4)  # the same schema written differently
    assert register(http, "copy-value", other_text).json()["id"] == first
    assert http.get(f"/schemas/ids/{first}/versions").json() == [
        {"subject": "audit-value", "version": 1},
        {"subject": "copy-value", "version": 1},
        {"subject": "orders-value", "version": 1},
    ]
    got = http.get("/subjects/orders-value/versions/latest").json()
    assert got == {
        "subject": "orders-value",
        "version": 1,
        "id": first,
        "schema": json.dumps(ORDER, sort_keys=True, separators=(",", ":")),
    }  # no schemaType for AVRO, no references when empty
    assert http.get("/subjects/orders-value/versions/1/schema").json() == ORDER
    assert http.get("/subjects").json() == sorted(registry.subjects)


def test_lookup_and_not_found_codes(http):
    register(http, "orders-value", ORDER)
    found = http.post("/subjects/orders-value", json={"schema": json.dumps(ORDER)}).json()
    assert (found["subject"], found["version"], found["id"]) == ("orders-value", 1, 1)
    error(http.post("/subjects/orders-value", json={"schema": json.dumps(PAYMENT)}), 404, 40403)
    error(http.post("/subjects/nope", json={"schema": json.dumps(ORDER)}), 404, 40401)
    error(http.get("/subjects/nope/versions"), 404, 40401)
    error(http.get("/subjects/orders-value/versions/7"), 404, 40402)
    error(http.get("/subjects/orders-value/versions/zero"), 422, 42202)
    error(http.get("/schemas/ids/99"), 404, 40403)


@pytest.mark.parametrize(
    "schema",
    [
        "{not json",
        record(field("id", "Nope")),
        record(field("id", "long"), field("id", "string")),
        ["null", ["int", "string"]],
        {"type": "enum", "name": "E", "symbols": ["A", "A"]},
        {"type": "array"},
    ],
)
def test_invalid_avro_is_42201(http, schema):
    assert "Invalid AVRO schema" in error(register(http, "bad-value", schema), 422, 42201)


AVRO_CASES = [
    record(field("id", "int", default="not an int")),  # defaults are not checked (Karapace)
    record(field("next", ["null", "Order"])),
    record(field("day", {"type": "int", "logicalType": "date"})),
    record(field("e", {"type": "enum", "name": "E", "symbols": ["A"]}), field("f", {"type": "E"})),
    record(field("a", {"type": "record", "name": "Order", "fields": []})),
    record(field("m", {"type": "map", "values": "long"})),
    {"type": "fixed", "name": "F"},
    {"type": {"type": "string"}},
    {"type": "record", "name": "C", "namespace": "a.1b", "fields": []},
    ["int", "int"],
    "string",
    "foo",
]


@pytest.mark.parametrize("schema", AVRO_CASES)
def test_avro_validity_agrees_with_apache_avro(schema):
    try:
        avro.schema.parse(json.dumps(schema))
        valid = True
    except Exception:
        valid = False
    try:
        avro_define(schema, "", {})
        assert valid, "the stand-in accepts what Apache avro refuses"
    except Exception as exc:
        assert not valid, f"the stand-in refuses what Apache avro accepts: {exc}"


def enum(*symbols, **extra):
    return {"type": "enum", "name": "E", "symbols": list(symbols), **extra}


READS = [  # (reader, writer)
    (record(field("a", "int"), field("b", "string")), record(field("a", "int"))),
    (record(field("a", "int"), field("b", "string", default="")), record(field("a", "int"))),
    (record(field("a", "int")), record(field("a", "int"), field("b", "string"))),
    (record(field("a", "long")), record(field("a", "int"))),
    (record(field("a", "int")), record(field("a", "long"))),
    (record(field("a", "double")), record(field("a", "float"))),
    (record(field("a", "bytes")), record(field("a", "string"))),
    (record(field("a", "string")), record(field("a", "int"))),
    (record(field("a", ["null", "int"])), record(field("a", "int"))),
    (record(field("a", "int")), record(field("a", ["null", "int"]))),
    (record(field("a", ["null", "long"])), record(field("a", ["null", "int"]))),
    (record(field("a", enum("X"))), record(field("a", enum("X", "Y")))),
    (record(field("a", enum("X", default="X"))), record(field("a", enum("X", "Y")))),
    (
        record(field("a", {"type": "map", "values": "int"})),
        record(field("a", {"type": "map", "values": "long"})),
    ),  # noqa: E501
    (
        record(field("n", record(field("a", "int"), field("b", "int"), name="N"))),
        record(field("n", record(field("a", "int"), name="N"))),
    ),  # noqa: E501
    (record(field("a", "int"), name="Other"), record(field("a", "int"))),
    (record(field("b", "int", aliases=["a"])), record(field("a", "int"))),
    (
        record(field("v", "int"), field("w", "int"), field("n", ["null", "Order"])),
        record(field("v", "int"), field("n", ["null", "Order"])),
    ),  # noqa: E501
]


@pytest.mark.parametrize(("reader", "writer"), READS)
def test_avro_resolution_agrees_with_apache_avro(reader, writer):
    checked = ReaderWriterCompatibilityChecker().get_compatibility(
        avro.schema.parse(json.dumps(reader)), avro.schema.parse(json.dumps(writer))
    )
    reader_names, writer_names = {}, {}
    avro_define(reader, "", reader_names)
    avro_define(writer, "", writer_names)
    problems = avro_problems(reader, writer, reader_names, writer_names)
    assert (checked.compatibility is SchemaCompatibilityType.compatible) == (not problems), problems


def test_backward_compatibility_on_register(http):
    register(http, "orders-value", ORDER)
    added = record(*ORDER["fields"], field("note", "string"))
    message = error(register(http, "orders-value", added), 409, 409)
    assert "compatibility_mode=BACKWARD" in message and "note" in message
    with_default = record(*ORDER["fields"], field("note", "string", default=""))
    assert register(http, "orders-value", with_default).json()["id"] == 2
    retyped = json.dumps(record(field("id", "string"), field("customer", "string")))
    path = "/compatibility/subjects/orders-value/versions/latest"
    check = http.post(path, json={"schema": retyped}).json()
    assert check["is_compatible"] is False and "string" in check["messages"][0]
    assert http.post(path, json={"schema": json.dumps(added)}).json() == {"is_compatible": True}
    assert http.put("/config/orders-value", json={"compatibility": "NONE"}).json() == {
        "compatibility": "NONE"
    }
    assert register(http, "orders-value", PAYMENT).status_code == 200  # anything goes with NONE


def test_forward_and_transitive_levels(http):
    http.put("/config", json={"compatibility": "FORWARD"})
    register(http, "f-value", ORDER)
    error(register(http, "f-value", record(field("id", "long"))), 409, 409)  # removed, no default
    http.put("/config", json={"compatibility": "BACKWARD_TRANSITIVE"})
    v1 = record(field("id", "int"))
    register(http, "t-value", v1)
    http.put("/config/t-value", json={"compatibility": "NONE"})
    register(http, "t-value", record(field("id", "string")))
    http.delete("/config/t-value")  # back to the global BACKWARD_TRANSITIVE
    error(register(http, "t-value", record(field("id", "long"))), 409, 409)  # not from string


def test_config_shapes_and_codes(http):
    assert http.get("/config").json() == {"compatibilityLevel": "BACKWARD"}
    assert http.put("/config", json={"compatibility": "FULL"}).json() == {"compatibility": "FULL"}
    error(http.put("/config", json={"compatibility": "SIDEWAYS"}), 422, 42203)
    error(http.get("/config/unknown"), 404, 40401)  # Karapace: no such subject
    register(http, "orders-value", ORDER)
    error(http.get("/config/orders-value"), 404, 40408)
    got = http.get("/config/orders-value", params={"defaultToGlobal": "true"}).json()
    assert got == {"compatibilityLevel": "FULL"}
    http.put("/config/orders-value", json={"compatibility": "NONE"})
    assert http.get("/config/orders-value").json() == {"compatibilityLevel": "NONE"}


def test_import_mode_with_explicit_ids(http):
    message = error(register(http, "orders-value", ORDER, id=42), 422, 42205)
    assert "import mode" in message
    error(register(http, "orders-value", ORDER, version=3), 422, 42205)
    assert http.put("/mode/orders-value", json={"mode": "IMPORT"}).json() == {"mode": "IMPORT"}
    assert http.get("/mode/orders-value").json() == {"mode": "IMPORT"}
    error(http.get("/mode/payments-value"), 404, 40409)
    got = http.get("/mode/payments-value", params={"defaultToGlobal": "true"}).json()
    assert got == {"mode": "READWRITE"}
    error(register(http, "orders-value", ORDER), 422, 42205)  # IMPORT wants an id
    assert register(http, "orders-value", ORDER, id=42, version=3).json() == {"id": 42}
    assert register(http, "orders-value", ORDER, id=42, version=3).json() == {"id": 42}  # replay
    incompatible = record(field("other", "string"))  # no compatibility check in IMPORT
    assert register(http, "orders-value", incompatible, id=40, version=1).json() == {"id": 40}
    assert "id 42" in error(register(http, "orders-value", PAYMENT, id=42), 409, 40901)
    error(register(http, "orders-value", PAYMENT, id=50, version=3), 409, 40901)
    assert http.get("/subjects/orders-value/versions").json() == [1, 3]
    assert http.delete("/mode/orders-value").json() == {"mode": "IMPORT"}
    error(http.delete("/mode/orders-value"), 404, 40401)
    assert register(http, "payments-value", PAYMENT).json() == {"id": 43}  # above imported ids
    error(http.put("/mode", json={"mode": "SIDEWAYS"}), 422, 42204)


def test_switching_to_import_needs_an_empty_subject_or_force(http, registry):
    register(http, "orders-value", ORDER)
    message = error(http.put("/mode/orders-value", json={"mode": "IMPORT"}), 422, 42205)
    assert "existing" in message
    error(http.put("/mode", json={"mode": "IMPORT"}), 422, 42205)
    forced = http.put("/mode", params={"force": "true"}, json={"mode": "IMPORT"})
    assert forced.json() == {"mode": "IMPORT"}
    assert http.get("/mode").json() == {"mode": "IMPORT"}
    assert register(http, "payments-value", PAYMENT, id=7).json() == {"id": 7}
    http.put("/mode", json={"mode": "READWRITE"})
    http.delete("/subjects/orders-value")  # soft-deleted only: the switch purges it
    assert http.put("/mode/orders-value", json={"mode": "IMPORT"}).status_code == 200
    assert "orders-value" not in registry.subjects


def test_readonly_refuses_writes(http):
    register(http, "orders-value", ORDER)
    http.put("/mode", json={"mode": "READONLY"})
    assert "read-only" in error(register(http, "payments-value", PAYMENT), 422, 42205)
    error(http.delete("/subjects/orders-value"), 422, 42205)
    assert http.get("/subjects/orders-value/versions/1").status_code == 200


def test_legacy_karapace_ignores_ids_and_has_no_mode_changes(http, registry):
    registry.legacy = True
    assert register(http, "orders-value", ORDER, id=42, version=5).json() == {"id": 1}
    assert http.get("/subjects/orders-value/versions").json() == [1]
    refused = http.put("/mode/orders-value", json={"mode": "IMPORT"})
    assert (refused.status_code, refused.json()) == (405, "Method Not Allowed")
    assert http.put("/mode", json={"mode": "IMPORT"}).status_code == 405
    assert http.get("/mode").json() == {"mode": "READWRITE"}
    assert http.get("/mode/orders-value").json() == {"mode": "READWRITE"}
    error(http.get("/mode/unknown"), 404, 40401)
    registry.legacy = False
    error(register(http, "orders-value", ORDER, id=42), 422, 42205)


def test_references(http):
    customer = {"type": "record", "name": "Customer", "namespace": "acme", "fields": []}
    register(http, "customer-value", customer)
    uses = record(field("id", "long"), field("customer", "acme.Customer"))
    error(register(http, "orders-value", uses), 422, 42201)  # the type is unknown without it
    ref = {"name": "acme.Customer", "subject": "customer-value", "version": 1}
    missing = {**ref, "subject": "nobody"}
    assert "not found" in error(
        register(http, "orders-value", uses, references=[missing]), 422, 42201
    )
    got = register(http, "orders-value", uses, references=[ref]).json()
    assert http.get(f"/schemas/ids/{got['id']}").json()["references"] == [ref]
    version = http.get("/subjects/orders-value/versions/1").json()
    assert version["references"] == [ref]
    error(http.delete("/subjects/customer-value/versions/1"), 422, 42206)  # still referenced
    json_ref = {"schema": "{}", "schemaType": "JSON", "references": [ref]}
    error(http.post("/subjects/j-value/versions", json=json_ref), 422, 44302)


def test_soft_then_hard_deletes(http):
    register(http, "orders-value", ORDER)
    register(http, "orders-value", record(*ORDER["fields"], field("n", "int", default=0)))
    error(
        http.delete("/subjects/orders-value/versions/1", params={"permanent": "true"}), 404, 40407
    )
    assert http.delete("/subjects/orders-value/versions/1").json() == 1
    error(http.delete("/subjects/orders-value/versions/1"), 404, 40406)
    error(http.get("/subjects/orders-value/versions/1"), 404, 40402)
    assert (
        http.get("/subjects/orders-value/versions/1", params={"deleted": "true"}).json()["id"] == 1
    )
    assert http.get("/subjects/orders-value/versions", params={"deleted": "true"}).json() == [1, 2]
    assert http.get("/schemas/ids/1").status_code == 200  # ids stay readable
    error(http.delete("/subjects/orders-value", params={"permanent": "true"}), 404, 40405)
    assert http.delete("/subjects/orders-value").json() == [2]
    error(http.delete("/subjects/orders-value"), 404, 40404)
    assert http.get("/subjects").json() == []
    assert http.get("/subjects", params={"deleted": "true"}).json() == ["orders-value"]
    error(http.get("/subjects/orders-value/versions"), 404, 40401)
    permanent = http.delete("/subjects/orders-value", params={"permanent": "true"})
    assert permanent.json() == [1, 2]
    error(http.delete("/subjects/orders-value"), 404, 40401)
    assert register(http, "orders-value", ORDER).json() == {"id": 1}  # same content, same id


def test_a_soft_deleted_version_keeps_its_id_through_an_import(http):
    register(http, "orders-value", ORDER)  # id 1
    second = record(*ORDER["fields"], field("n", "int", default=0))
    assert register(http, "orders-value", second).json() == {"id": 2}
    assert http.delete("/subjects/orders-value/versions/2").json() == 2
    assert json.loads(http.get("/schemas/ids/2").json()["schema"]) == second  # still resolves
    assert http.get("/subjects/orders-value/versions").json() == [1]
    assert http.get("/schemas/ids/2/versions").json() == []
    listed = http.get("/schemas/ids/2/versions", params={"deleted": "true"}).json()
    assert listed == [{"subject": "orders-value", "version": 2}]
    assert register(http, "payments-value", PAYMENT).json() == {"id": 3}  # 2 is not reused

    http.put("/mode/orders-value", params={"force": "true"}, json={"mode": "IMPORT"})
    other = record(field("other", "string"))
    assert "id 2" in error(register(http, "orders-value", other, id=2, version=5), 409, 40901)
    error(register(http, "orders-value", other, id=9, version=2), 409, 40901)  # its version
    replay = register(http, "orders-value", second, id=2, version=2)
    assert replay.json() == {"id": 2}
    assert http.get("/subjects/orders-value/versions").json() == [1, 2]  # live again
    assert http.delete("/subjects/orders-value/versions/2").json() == 2  # soft delete in IMPORT
    http.delete("/mode/orders-value")
    assert http.get("/subjects/orders-value/versions").json() == [1]
    assert http.get("/schemas/ids/2").status_code == 200
    assert register(http, "audit-value", record(name="Audit")).json() == {"id": 4}


def test_an_import_into_a_subject_with_only_soft_deleted_versions(http, registry):
    http.put("/mode/orders-value", params={"force": "true"}, json={"mode": "IMPORT"})
    assert register(http, "orders-value", ORDER, id=20, version=2).json() == {"id": 20}
    assert http.delete("/subjects/orders-value/versions/2").json() == 2
    assert http.get("/subjects").json() == []
    assert http.get("/subjects", params={"deleted": "true"}).json() == ["orders-value"]
    forced = http.put("/mode/orders-value", params={"force": "true"}, json={"mode": "IMPORT"})
    assert forced.status_code == 200 and 2 in registry.subjects["orders-value"]  # kept
    http.delete("/mode/orders-value")
    got = http.get("/subjects/orders-value/versions/2", params={"deleted": "true"}).json()
    assert (got["id"], got["version"]) == (20, 2)
    assert register(http, "payments-value", PAYMENT).json() == {"id": 21}


def test_basic_auth():
    standin = RegistryStandIn(username="avnadmin", password="s3cret").start()
    try:
        denied = httpx.get(standin.url + "/subjects")
        assert denied.status_code == 401
        assert denied.json() == {"error_code": 401, "message": "Unauthorized"}
        assert httpx.get(standin.url + "/subjects", auth=("avnadmin", "nope")).status_code == 401
        assert httpx.get(standin.url + "/subjects", auth=("avnadmin", "s3cret")).json() == []
        client = SchemaRegistryClient(
            {"url": standin.url, "basic.auth.user.info": "avnadmin:s3cret"}
        )
        assert client.register_schema("a-value", Schema(json.dumps(ORDER), "AVRO")) == 1
    finally:
        standin.stop()


def test_fail_answers_5xx_then_recovers(http, registry):
    registry.fail(500, times=2)
    for _ in range(2):
        error(http.get("/subjects"), 500, 50001)
    assert http.get("/subjects").status_code == 200
    registry.fail(503, times=1, path_prefix="/subjects/orders-value")
    assert http.get("/config").status_code == 200  # another path
    unavailable = register(http, "orders-value", ORDER)
    assert unavailable.status_code == 503 and unavailable.headers["content-type"].startswith(
        "text/html"
    )
    assert "orders-value" not in registry.subjects  # the failed request changed nothing
    assert register(http, "orders-value", ORDER).status_code == 200
    assert registry.requests[-1] == (
        "POST",
        "/subjects/orders-value/versions",
        {"schema": json.dumps(ORDER)},
    )


def test_seed_puts_content_in_directly(http, registry):
    assert registry.seed("orders-value", ORDER, id=100, version=4) == 100
    assert registry.seed("copy-value", ORDER) == 100
    assert http.get("/subjects/orders-value/versions").json() == [4]
    assert register(http, "payments-value", PAYMENT).json() == {"id": 101}


def test_confluent_client(registry):
    client = SchemaRegistryClient({"url": registry.url})
    schema_id = client.register_schema("orders-value", Schema(json.dumps(ORDER), "AVRO"))
    assert client.get_schema(schema_id).schema_type == "AVRO"
    assert client.lookup_schema("orders-value", Schema(json.dumps(ORDER), "AVRO")).version == 1
    assert client.get_latest_version("orders-value").schema_id == schema_id
    assert client.get_subjects() == ["orders-value"]
    assert client.get_compatibility() == "BACKWARD"
    customer = {"type": "record", "name": "Customer", "namespace": "acme", "fields": []}
    client.register_schema("customer-value", Schema(json.dumps(customer), "AVRO"))
    uses = record(field("customer", "acme.Customer"), name="Invoice")
    ref = SchemaReference("acme.Customer", "customer-value", 1)
    invoice = client.register_schema("invoice-value", Schema(json.dumps(uses), "AVRO", [ref]))
    assert client.get_schema(invoice).references[0].subject == "customer-value"
    incompatible = Schema(json.dumps(record(field("x", "string"))), "AVRO")
    assert client.test_compatibility("orders-value", incompatible) is False
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema("orders-value", incompatible)
    assert (refused.value.http_status_code, refused.value.error_code) == (409, 409)
    with pytest.raises(SchemaRegistryError) as missing:
        client.get_version("orders-value", 9)
    assert missing.value.error_code == 40402


def test_avro_serializer_round_trip(registry):
    client = SchemaRegistryClient({"url": registry.url})
    serializer = AvroSerializer(client, json.dumps(ORDER), conf={"auto.register.schemas": True})
    deserializer = AvroDeserializer(client)
    context = SerializationContext("orders", MessageField.VALUE)
    data = serializer({"id": 7, "customer": "ada"}, context)
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == 1  # magic byte, schema id 1
    assert http_subjects(registry) == ["orders-value"]
    assert deserializer(data, context) == {"id": 7, "customer": "ada"}


def http_subjects(registry):
    return httpx.get(registry.url + "/subjects").json()
