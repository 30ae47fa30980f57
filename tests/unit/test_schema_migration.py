"""The schema plan, its apply with ids preserved, parity, and the registry client's errors,
against the registry stand-in (Karapace's rules)."""

from __future__ import annotations

import json

import pytest
from standins.registry import RegistryStandIn

from bot.schemas.client import Registry, RegistryError, Version
from bot.schemas.migrate import (
    apply_schemas,
    parity,
    plan_schemas,
    same_schemas,
    schema_ids,
    unknown_ids,
)


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


def test_plan_lists_versions_in_id_order_with_references_and_soft_deleted_ones(pair):
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
        ("orders-value", 3, 13),
    ]
    assert [i.action for i in plan.items] == ["create"] * 4
    assert [(i.source.subject, i.source.version) for i in plan.soft_deleted] == [
        ("orders-value", 3)
    ]
    assert plan.summary() == {
        "subjects": 2,
        "versions": 4,
        "present": 0,
        "create": 4,
        "conflict": 0,
        "soft_deleted": 1,
        "hard_deleted": 0,
    }
    lines = plan.lines()
    assert lines[0].startswith("1 soft-deleted version(s) on the source, carried")
    assert "their ids are held" in lines[0]
    assert lines[-1] == (
        "orders-value v3 id 13 (soft-deleted on the source): create (imported with its id, "
        "then soft-deleted there: the id stays held)"
    )


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


def soft_deleted_pair(pair) -> tuple[Registry, Registry]:
    """orders-value v1 live (id 10), v2 soft-deleted on the source (id 11, the highest)."""
    source, _target = pair
    source.seed("orders-value", avro("Order", "id"))
    source.seed("orders-value", avro("Order", "id", "qty"))
    src, dst = clients(pair)
    src._call("DELETE", "/subjects/orders-value/versions/2")
    return src, dst


def test_a_soft_deleted_version_keeps_its_id_on_the_target_and_no_new_schema_takes_it(pair):
    src, dst = soft_deleted_pair(pair)
    recorded = []
    applied = apply_schemas(dst, plan_schemas(src, dst, ["orders"]), recorded.append)
    assert applied.imported and not applied.mismatched
    assert recorded[-1] == [["orders-value", 1, 10], ["orders-value", 2, 11]]  # cleanup: both
    assert dst.versions("orders-value") == [1]  # soft-deleted there too
    assert dst.versions("orders-value", deleted=True) == [1, 2]
    assert dst.by_id(11) == src.by_id(11)  # resolves as on the source
    assert parity(src, dst, plan_schemas(src, dst, ["orders"])) == []
    again = plan_schemas(src, dst, ["orders"])
    assert again.items[1].line() == (
        "orders-value v2 id 11 (soft-deleted on the source): present (soft-deleted there too: "
        "the id is held)"
    )
    assert apply_schemas(dst, again).registered == []
    new = dst.register(Version("payments-value", 1, 0, avro("P")), with_id=False)
    assert new == 12 and src.by_id(new) is None  # an id the source never used
    for subject, version, _id in reversed(recorded[-1]):  # what cancel cleanup=target does
        dst.delete_version(subject, version)
    assert dst.versions("orders-value", deleted=True) == []


def test_a_soft_deleted_version_left_live_by_a_stopped_run_is_soft_deleted(pair):
    src, dst = soft_deleted_pair(pair)
    dst.set_mode("IMPORT", "orders-value", force=True)
    for item in plan_schemas(src, dst, ["orders"]).items:  # imported, then the run stopped
        dst.register(item.source, with_id=True)
    dst.clear_mode("orders-value")
    plan = plan_schemas(src, dst, ["orders"])
    assert plan.items[1].why == "live on the target: the id is held"
    apply_schemas(dst, plan, created=[["orders-value", 1, 10], ["orders-value", 2, 11]])
    assert dst.versions("orders-value") == [1] and dst.by_id(11) == src.by_id(11)


def test_a_soft_deleted_version_the_target_cannot_hold_breaks_parity_with_the_reason(pair):
    _source, target = pair
    src, dst = soft_deleted_pair(pair)
    target.seed("someone-else", avro("Other", "x"), id=11)  # another schema under its id
    plan = plan_schemas(src, dst, ["orders"])
    assert plan.items[1].line() == (
        "orders-value v2 id 11 (soft-deleted on the source): conflict (id 11 is another schema "
        "on the target)"
    )
    apply_schemas(dst, plan)
    assert parity(src, dst, plan_schemas(src, dst, ["orders"])) == [
        "orders-value v2 (id 11, soft-deleted on the source: its id must be held) is missing on "
        "the target: id 11 is another schema on the target"
    ]
    assert dst.by_id(11) != src.by_id(11)  # never overwritten

    target.schemas.pop(11)
    target.subjects.pop("someone-else")
    target.legacy = True  # no IMPORT mode: a soft-deleted version cannot be carried
    applied = apply_schemas(dst, plan_schemas(src, dst, ["orders"]))
    assert (
        "orders-value v2 id 11 (soft-deleted on the source): not carried" in applied.mismatched[-1]
    )
    assert dst.versions("orders-value", deleted=True) == [1]
    assert (
        "orders-value v2 (id 11, soft-deleted on the source: its id must be held) is missing"
        in (parity(src, dst, plan_schemas(src, dst, ["orders"]))[-1])
    )


def test_hard_deleted_versions_are_reported_and_their_ids_named(pair):
    source, _target = pair
    for fields in (("id",), ("id", "a"), ("id", "a", "b")):
        source.seed("orders-value", avro("Order", *fields))
    src, dst = clients(pair)
    src._call("DELETE", "/subjects/orders-value/versions/2")
    src._call("DELETE", "/subjects/orders-value/versions/2", params={"permanent": "true"})
    source.schemas.pop(11)  # a registry that frees the id of a hard-deleted version
    plan = plan_schemas(src, dst, ["orders"])
    assert plan.hard_deleted == [("orders-value", 2)] and plan.summary()["hard_deleted"] == 1
    assert plan.lines()[-1].startswith("orders-value v2: hard-deleted on the source")
    assert unknown_ids(src, {10, 11, 12}) == [11]


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
