"""Schema migration with id parity, proven on data: records serialized on the source with
confluent-kafka's own Avro and JSON Schema serializers (source registry), replicated by the
real MirrorMaker 2, deserialized on the target with its deserializers (target registry)."""

from __future__ import annotations

import json

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from standins.registry import RegistryStandIn

from tests.e2e.harness import Workspace
from tests.kafka_helpers import create_topic, produce

pytestmark = pytest.mark.sandbox


def record(name: str, fields: list[dict]) -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "shop", "fields": fields})


ORDER = [
    record("Order", [{"name": "id", "type": "long"}]),
    record("Order", [{"name": "id", "type": "long"}, {"name": "qty", "type": "int", "default": 1}]),
    record(
        "Order",
        [
            {"name": "id", "type": "long"},
            {"name": "qty", "type": "int", "default": 1},
            {"name": "note", "type": "string", "default": ""},
        ],
    ),
]
MONEY = record("Money", [{"name": "cents", "type": "long"}, {"name": "currency", "type": "string"}])
PAYMENT = [
    record("Payment", [{"name": "id", "type": "long"}]),
    record(
        "Payment",
        [{"name": "id", "type": "long"}, {"name": "ref", "type": "string", "default": ""}],
    ),
    record(
        "Payment",
        [
            {"name": "id", "type": "long"},
            {"name": "ref", "type": "string", "default": ""},
            {"name": "amount", "type": ["null", "shop.Money"], "default": None},
        ],
    ),
]
VOIDED = record(
    "Order",
    [{"name": "id", "type": "long"}, {"name": "voided", "type": "boolean", "default": False}],
)
VOID = {"id": 3, "voided": True}
RUSH = record(
    "Order",
    [
        {"name": "id", "type": "long"},
        {"name": "qty", "type": "int", "default": 1},
        {"name": "note", "type": "string", "default": ""},
        {"name": "rush", "type": "boolean", "default": False},
    ],
)
AUDIT = json.dumps(
    {"type": "object", "properties": {"who": {"type": "string"}}, "required": ["who"]}
)


class Shop:
    """Three topics and their subjects on the source registry (ids made to start at 100, so a
    target that assigns its own ids cannot match by chance), and the records written with them."""

    def __init__(self, sandbox, registry: RegistryStandIn, unique: str):
        self.topics = {k: f"{k}-{unique}" for k in ("orders", "payments", "audit")}
        self.client = SchemaRegistryClient({"url": registry.url})
        for i in range(99):  # other teams' schemas
            registry.seed(
                f"other-{unique}-{i}", record(f"Other{i}", [{"name": "x", "type": "int"}])
            )
        self.sent: dict[str, list[dict]] = {k: [] for k in self.topics}
        conf = sandbox.source.client_config()
        for topic in self.topics.values():
            create_topic(conf, topic, 2)
        orders, payments = (f"{self.topics[k]}-value" for k in ("orders", "payments"))
        values = [{"id": 0}, {"id": 1, "qty": 2}, {"id": 2, "qty": 3, "note": "n"}]
        for text, value in zip(ORDER, values, strict=True):
            self._write(conf, "orders", orders, Schema(text, "AVRO"), value, 10)
        money = f"money-{unique}"
        self.client.register_schema(money, Schema(MONEY, "AVRO"))
        refs = [SchemaReference("shop.Money", money, 1)]
        full = {"id": 2, "ref": "r", "amount": {"cents": 5, "currency": "EUR"}}
        for n, (text, value) in enumerate(
            zip(PAYMENT, [{"id": 0}, {"id": 1, "ref": "r"}, full], strict=True)
        ):
            schema = Schema(text, "AVRO", refs if n == 2 else [])
            self._write(conf, "payments", payments, schema, value, 10)
        audit = f"{self.topics['audit']}-value"
        self._write(conf, "audit", audit, Schema(AUDIT, "JSON"), {"who": "ops"}, 10)
        # a version the team regretted: records written with it, then soft-deleted; its id is
        # the highest on the source, the one a target would hand out next if it were not held
        self.held_id = self._write(conf, "orders", orders, Schema(VOIDED, "AVRO"), VOID, 10)
        self.client.delete_version(orders, 4)
        self.subjects = {orders: 3, payments: 3, audit: 1, money: 1}  # live versions
        self.soft_deleted = (orders, 4)

    def _write(self, conf, key: str, subject: str, schema: Schema, value: dict, count: int) -> int:
        schema_id = self.client.register_schema(subject, schema)
        settings = {"auto.register.schemas": False, "use.schema.id": schema_id}
        if schema.schema_type == "JSON":
            serializer = JSONSerializer(schema, self.client, conf=settings)
        else:
            serializer = AvroSerializer(self.client, schema, conf=settings)
        topic = self.topics[key]
        context = SerializationContext(topic, MessageField.VALUE)
        rows = []
        for i in range(count):
            one = {**value, **({"id": value["id"] * 100 + i} if "id" in value else {})}
            rows.append((None, serializer(one, context), []))
            self.sent[key].append(one)
        produce(conf, topic, rows)
        return schema_id


def decoded_on_target(sandbox, registry: RegistryStandIn, shop: Shop) -> dict[str, list[dict]]:
    """Every record of each topic on the target, deserialized with the target registry."""
    client = SchemaRegistryClient({"url": registry.url})
    out = {}
    for key, topic in shop.topics.items():
        decode = (
            JSONDeserializer(None, schema_registry_client=client)
            if key == "audit"
            else (AvroDeserializer(client))
        )
        consumer = Consumer(
            {**sandbox.target.client_config(), "group.id": "reader", "enable.auto.commit": False}
        )
        consumer.assign([TopicPartition(topic, p, 0) for p in range(2)])
        values = []
        try:
            while len(values) < len(shop.sent[key]):
                batch = consumer.consume(500, timeout=2)
                assert batch, f"{topic}: only {len(values)} records on the target"
                for msg in batch:
                    values.append(
                        decode(msg.value(), SerializationContext(topic, MessageField.VALUE))
                    )
        finally:
            consumer.close()
        out[key] = values
    return out


REGISTRIES = """
[schema_registries.src]
url = "{src}"

[schema_registries.dst]
url = "{dst}"
"""


@pytest.fixture
def registries():
    source, target = RegistryStandIn().start(), RegistryStandIn().start()
    yield source, target
    source.stop()
    target.stop()


def served(sandbox, source: RegistryStandIn, target: RegistryStandIn) -> Workspace:
    ws = Workspace(
        sandbox, quiet=2, drain=1, extra=REGISTRIES.format(src=source.url, dst=target.url)
    )
    ws.serve()
    return ws


def start(ws: Workspace, shop: Shop, name: str, verb: str = "start") -> str:
    topics = ",".join(shop.topics.values())
    words = (
        f"{name} source=sandbox-source target=sandbox-target topics={topics} via=sandbox-mm2 "
        "source_registry=src target_registry=dst"
    )
    return ws.start(words) if verb == "start" else ws.ok("plan", *words.split())


def ids(registry: RegistryStandIn, subjects: dict[str, int]) -> dict[tuple[str, int], int]:
    client = SchemaRegistryClient({"url": registry.url})
    return {
        (s, v): client.get_version(s, v).schema_id
        for s, n in subjects.items()
        for v in range(1, n + 1)
    }


def approve_both_gates(ws: Workspace, mid: str) -> None:
    for gate in ("stop_producers", "repoint_clients"):
        ws.ok("approve", mid, "--version", str(ws.wait_gate(mid, gate, 180)["version"]), user="bob")


def test_schemas_keep_their_ids_and_consumers_on_the_target_decode_every_record(
    sandbox, registries, unique
):
    source, target = registries
    shop = Shop(sandbox, source, unique)
    ws = served(sandbox, source, target)
    try:
        mid = start(ws, shop, "schemas")
        approve_both_gates(ws, mid)
        ws.wait_step(mid, "producers_on_target", 120)
        client = SchemaRegistryClient({"url": target.url})  # a producer moved to the target
        orders = shop.topics["orders"]
        serializer = AvroSerializer(
            client,
            Schema(ORDER[2], "AVRO"),
            conf={"auto.register.schemas": False, "use.latest.version": True},
        )
        late = {"id": 999, "qty": 3, "note": "moved"}
        context = SerializationContext(orders, MessageField.VALUE)
        moved = serializer(late, context)
        newer = AvroSerializer(client, Schema(RUSH, "AVRO"), conf={"auto.register.schemas": True})
        rush = {"id": 1000, "qty": 1, "note": "", "rush": True}
        registered = newer(rush, context)  # a new version, registered on the target
        new_id = int.from_bytes(registered[1:5], "big")
        assert new_id != shop.held_id
        assert httpx.get(f"{source.url}/schemas/ids/{new_id}").status_code == 404  # never used
        produce(sandbox.target.client_config(), orders, [(None, moved, []), (None, registered, [])])
        shop.sent["orders"] += [late, rush]
        done = ws.wait(mid, lambda s: s["status"] == "complete", 120, "complete")
        assert {s["step"]: s["state"] for s in done["steps"]}["verify"] == "done"

        assert ids(target, shop.subjects) == ids(source, shop.subjects)  # identical ids
        held = SchemaRegistryClient({"url": target.url}).get_version(*shop.soft_deleted, True)
        assert held.schema_id == shop.held_id  # the soft-deleted version, its id held
        assert shop.soft_deleted[1] not in client.get_versions(shop.soft_deleted[0])
        assert min(ids(source, shop.subjects).values()) >= 100
        got = decoded_on_target(sandbox, target, shop)
        for key, sent in shop.sent.items():
            assert sorted(map(json.dumps, got[key])) == sorted(map(json.dumps, sent)), key
        report = ws.ok("report", mid)
        assert "schemas (ids preserved): " in report
        for subject in shop.subjects:
            assert subject in report
        assert f"{shop.topics['orders']}-value v4" in report  # the soft-deleted one, carried
        assert f"carried (ids held): {shop.topics['orders']}-value v4 id {shop.held_id}" in report
        assert "schema id(s), each the same schema there" in report
    finally:
        ws.stop_serve()


def test_a_registry_without_import_mode_keeps_the_gates_closed_until_it_has_one(
    sandbox, registries, unique
):
    source, target = registries
    target.legacy = True  # an older Karapace: ids sent are ignored
    shop = Shop(sandbox, source, unique)
    ws = served(sandbox, source, target)
    try:
        mid = start(ws, shop, "legacy")
        failed = ws.wait(mid, lambda s: s["status"] == "failed", 180, "parity refused")
        assert failed["step"] == "stop_producers" and "schema ids differ" in failed["reason"]
        assert "IMPORT mode" in failed["reason"] and "then retry" in failed["reason"]
        assert "schema ids differ" in ws.ok("status", mid)
        assert ids(target, shop.subjects) != ids(source, shop.subjects)
        refused = ws.cli("approve", mid, "--version", str(failed["version"]), user="bob")
        assert refused.returncode == 2  # nothing moves while ids differ

        target.legacy = False  # the registry is upgraded (IMPORT mode)
        ws.ok("retry", mid, user="alice")
        gate = ws.wait_gate(mid, "stop_producers", 120)
        assert gate["status"] == "active"
        assert ids(target, shop.subjects) == ids(source, shop.subjects)
        ws.ok("cancel", mid, "--yes", user="alice")
    finally:
        ws.stop_serve()


def test_a_target_holding_another_schema_under_a_soft_deleted_id_stops_at_the_gate(
    sandbox, registries, unique
):
    source, target = registries
    shop = Shop(sandbox, source, unique)
    other = record("Elsewhere", [{"name": "x", "type": "int"}])
    target.seed(f"elsewhere-{unique}", other, id=shop.held_id)  # registered there on its own
    lost = b"\x00" + (9999).to_bytes(4, "big") + b"\x02"  # its schema was hard-deleted
    produce(sandbox.source.client_config(), shop.topics["audit"], [(None, lost, [])])
    ws = served(sandbox, source, target)
    try:
        mid = start(ws, shop, "held")
        failed = ws.wait(mid, lambda s: s["status"] == "failed", 180, "held id refused")
        assert failed["step"] == "stop_producers" and "schema ids differ" in failed["reason"]
        subject, version = shop.soft_deleted
        assert (
            f"{subject} v{version} (id {shop.held_id}, soft-deleted on the source: its id must be "
            f"held) is missing on the target: id {shop.held_id} is another schema on the target"
        ) in failed["reason"]
        assert "free that id there" in failed["reason"] and "then retry" in failed["reason"]
        refused = ws.cli("approve", mid, "--version", str(failed["version"]), user="bob")
        assert refused.returncode == 2  # no client moves
        there = httpx.get(f"{target.url}/schemas/ids/{shop.held_id}").json()["schema"]
        assert json.loads(there) == json.loads(other)  # never overwritten
        report = ws.ok("report", mid)  # named before the cutover
        assert f"records name id 9999, which the source no longer has: {shop.topics['audit']}[" in (
            report
        )
        ws.ok("cancel", mid, "--yes", user="alice")
    finally:
        ws.stop_serve()


def test_plan_reports_a_conflicting_schema_on_the_target_before_anything_is_done(
    sandbox, registries, unique
):
    source, target = registries
    shop = Shop(sandbox, source, unique)
    orders = f"{shop.topics['orders']}-value"
    target.seed(orders, record("Order", [{"name": "sku", "type": "string"}]))  # another v1
    before = list(target.requests)
    ws = Workspace(sandbox, extra=REGISTRIES.format(src=source.url, dst=target.url))
    try:
        out = start(ws, shop, "conflict", verb="plan")
        assert f"{orders} v1 id " in out and "conflict (version 1 holds another schema" in out
        writes = [r for r in target.requests[len(before) :] if r[0] != "GET"]
        assert writes == []  # plan changed nothing
    finally:
        ws.stop_serve()
