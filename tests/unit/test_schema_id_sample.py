"""What verify says of the schema ids named by the records sampled on the target."""

from __future__ import annotations

from bot.migration.actions import SchemaIdSample


def test_ids_resolving_alike_are_a_line_of_the_done_message():
    sample = SchemaIdSample(40, [1, 2], [])
    assert sample.ok
    assert str(sample) == "40 sampled record(s) name 2 schema id(s), each the same schema there"


def test_ids_resolving_otherwise_fail_verify_naming_at_most_five():
    differ = [f"id {i}: orders-value v1 here, audit-value v1 there" for i in (7, 8)]
    sample = SchemaIdSample(40, [7, 8], differ * 3)
    assert not sample.ok
    assert str(sample) == (
        "schema ids in target records resolve differently: " + "; ".join((differ * 3)[:5])
    )
