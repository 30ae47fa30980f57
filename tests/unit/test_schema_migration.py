"""The schema plan, its apply with ids preserved, parity, and the registry client's errors,
against the registry stand-in (Karapace's rules)."""

from __future__ import annotations

import json

import pytest
from standins.registry import RegistryStandIn

from bot.schemas.client import Registry, RegistryError
from bot.schemas.migrate import apply_schemas, parity, plan_schemas, same_schemas, schema_ids


def avro(name: str, *fields: str) -> str:
    return json.dumps(
        {
            "type": "record",
            "name": name,
            "fields": [{"name": f, "type": "int", "default": 0} for f in fields],
        }
    )


@pytest.fixture
def pair():
    source, target = RegistryStandIn().start(), RegistryStandIn().start()
    for i in range(9):  # ids on the source start at 10
        source.seed(f"other-{i}", avro(f"O{i}"))
    yield source, target
    source.stop()
    target.stop()


def clients(pair) -> tuple[Registry, Registry]:
    return Registry("src", pair[0].url), Registry("dst", pair[1].url)


def test_plan_lists_versions_in_id_order_with_references_and_skips_soft_deleted(pair):
    source, _target = pair
    source.seed("money", avro("Money", "cents"))
    source.seed("orders-value", avro("Order", "id"))
    source.seed(
        "orders-value",
        json.dumps(
            {
                "type": "record",
                "name": "Order",
                "fields": [
                    {"name": "id", "type": "int", "default": 0},
                    {"name": "paid", "type": ["null", "Money"], "default": None},
                ],
            }
        ),
        references=[{"name": "Money", "subject": "money", "version": 1}],
    )
    source.seed("orders-value", avro("Order", "id", "x"))
    src, dst = clients(pair)
    src._call("DELETE", "/subjects/orders-value/versions/3")  # soft-deleted
    plan = plan_schemas(src, dst, ["orders", "absent"])
    assert [(i.source.subject, i.source.version, i.source.id) for i in plan.items] == [
        ("money", 1, 10),
        ("orders-value", 1, 11),
        ("orders-value", 2, 12),
    ]
    assert [i.action for i in plan.items] == ["create"] * 3
    assert [(v.subject, v.version) for v in plan.skipped] == [("orders-value", 3)]
    assert plan.summary() == {
        "subjects": 2,
        "versions": 3,
        "present": 0,
        "create": 3,
        "conflict": 0,
        "soft_deleted_skipped": 1,
    }


def test_apply_imports_with_source_ids_and_parity_holds(pair):
    source, target = pair
    source.seed("orders-value", avro("Order", "id"))
    source.seed("orders-value", avro("Order", "id", "qty"))
    target.seed("unrelated", avro("U"))  # id 1 on the target
    src, dst = clients(pair)
    recorded = []
    applied = apply_schemas(dst, plan_schemas(src, dst, ["orders"]), recorded.append)
    assert applied.imported and not applied.mismatched and len(applied.registered) == 2
    assert recorded[-1] == [["orders-value", 1, 10], ["orders-value", 2, 11]]
    assert parity(src, dst, plan_schemas(src, dst, ["orders"])) == []
    assert dst.mode("orders-value") != "IMPORT"  # left IMPORT mode
    again = plan_schemas(src, dst, ["orders"])
    assert [i.action for i in again.items] == ["present", "present"]
    assert apply_schemas(dst, again).registered == []  # idempotent


def test_without_import_mode_ids_differ_and_a_later_import_repairs_its_own_versions(pair):
    source, target = pair
    source.seed("orders-value", avro("Order", "id"))
    target.legacy = True
    src, dst = clients(pair)
    created = []
    applied = apply_schemas(dst, plan_schemas(src, dst, ["orders"]), created.append)
    assert not applied.imported
    assert applied.mismatched == ["orders-value v1: registered under id 1, source id 10"]
    assert parity(src, dst, plan_schemas(src, dst, ["orders"])) == [
        "orders-value v1: target id 1, source id 10"
    ]
    target.legacy = False
    repaired = apply_schemas(dst, plan_schemas(src, dst, ["orders"]), created=created[-1])
    assert repaired.imported and not repaired.mismatched
    assert parity(src, dst, plan_schemas(src, dst, ["orders"])) == []


def test_conflicts_on_the_target_are_planned_and_never_overwritten(pair):
    source, target = pair
    source.seed("orders-value", avro("Order", "id"))
    source.seed("payments-value", avro("Payment", "id"))
    target.seed("orders-value", avro("Order", "sku"))  # another v1
    target.seed("elsewhere", avro("Payment", "id"), id=11)  # same schema, the source id
    target.seed("payments-value", avro("Payment", "id"))  # same schema: id 11 again (dedup)
    target.seed("taken", avro("T"), id=10)
    src, dst = clients(pair)
    plan = plan_schemas(src, dst, ["orders", "payments"])
    assert [i.line() for i in plan.items] == [
        "orders-value v1 id 10: conflict (version 1 holds another schema on the target)",
        "payments-value v1 id 11: present",
    ]
    apply_schemas(dst, plan)
    assert dst.version("orders-value", 1).schema != src.version("orders-value", 1).schema


def test_schema_ids_in_records_resolve_to_the_same_schema_on_both_sides(pair):
    source, target = pair
    source.seed("orders-value", avro("Order", "id"))
    target.seed("orders-value", avro("Order", "other"), id=10)
    src, dst = clients(pair)
    named = schema_ids([b"\x00\x00\x00\x00\x0a\x02", b"plain text", None, b"\x00\x00"])
    assert named == {10}
    assert same_schemas(src, dst, named) == ["id 10: differs"]
    assert same_schemas(src, dst, {999}) == []  # not the source's: not judged


def test_registry_errors_say_what_happened_and_never_the_password(pair):
    guarded = RegistryStandIn(username="svc", password="s3cret-pw").start()
    try:
        wrong = Registry("dst", guarded.url, "svc", "not-it")
        with pytest.raises(RegistryError) as refused:
            wrong.subjects()
        assert "refused the credentials (user svc): HTTP 401" in str(refused.value)
        assert "not-it" not in str(refused.value) and "not-it" not in repr(wrong)
        right = Registry("dst", guarded.url, "svc", "s3cret-pw")
        assert right.subjects() == []
        guarded.fail(503, times=1)
        with pytest.raises(RegistryError) as failing:
            right.subjects()
        assert failing.value.retriable and "HTTP 503" in str(failing.value)
    finally:
        guarded.stop()
    gone = Registry("dst", guarded.url)
    with pytest.raises(RegistryError) as away:
        gone.subjects()
    assert away.value.retriable and "schema registry dst" in str(away.value)
