"""Topic plan and apply on the real sandbox: diff first, converge, idempotent, refuse safely."""

from __future__ import annotations

import pytest

from bot.errors import UserError
from bot.kafka.cluster import Cluster
from bot.kafka.naming import TopicNaming
from bot.kafka.topics import apply_topics, describe_topic_configs, plan_topics, validate_plan
from tests.kafka_helpers import create_topic


@pytest.fixture(scope="module")
def clusters(sandbox):
    return (
        Cluster("sandbox-source", sandbox.source.client_config()),
        Cluster("sandbox-target", sandbox.target.client_config()),
    )


def test_plan_apply_copies_partitions_and_configs_and_is_idempotent(clusters, unique):
    source, target = clusters
    compacted, plain = f"profiles-{unique}", f"events-{unique}"
    create_topic(
        source.client_config,
        compacted,
        4,
        {
            "cleanup.policy": "compact",
            "min.compaction.lag.ms": "0",
            "delete.retention.ms": "3600000",
            "max.message.bytes": "2097152",
        },
    )
    create_topic(source.client_config, plain, 2, {"retention.ms": "86400000"})

    plan = plan_topics(source, target, [compacted, plain])
    assert plan.problems == []
    by_name = {i.source: i for i in plan.items}
    assert by_name[compacted].actions == ["create"]
    assert by_name[compacted].configs == {
        "cleanup.policy": "compact",
        "min.compaction.lag.ms": "0",
        "delete.retention.ms": "3600000",
        "max.message.bytes": "2097152",
    }
    apply_topics(target, plan)
    assert all(i.forced == {} for i in plan.items)

    meta = target.admin.list_topics(timeout=10)
    assert len(meta.topics[compacted].partitions) == 4
    assert len(meta.topics[plain].partitions) == 2
    configs = describe_topic_configs(target, [compacted, plain])
    assert configs[compacted]["cleanup.policy"].value == "compact"
    assert configs[compacted]["max.message.bytes"].value == "2097152"
    assert configs[plain]["retention.ms"].value == "86400000"

    again = plan_topics(source, target, [compacted, plain])
    assert [i for i in again.items if i.actions] == [] and again.problems == []
    apply_topics(target, again)  # converged: nothing to do, nothing fails


def test_existing_target_topic_grows_partitions_and_config_mismatch_needs_consent(clusters, unique):
    source, target = clusters
    topic = f"grow-{unique}"
    create_topic(source.client_config, topic, 6, {"retention.ms": "3600000"})
    create_topic(target.client_config, topic, 3, {"retention.ms": "60000"})

    blocked = plan_topics(source, target, [topic])
    assert "allow config changes" in blocked.problems[0]
    with pytest.raises(UserError, match="nothing was applied"):
        apply_topics(target, blocked)
    assert len(target.admin.list_topics(timeout=10).topics[topic].partitions) == 3

    plan = plan_topics(source, target, [topic], allow_config_changes=True)
    assert plan.items[0].actions == ["add_partitions", "alter_configs"]
    assert plan.items[0].config_changes == {"retention.ms": ("60000", "3600000")}
    apply_topics(target, plan)
    assert len(target.admin.list_topics(timeout=10).topics[topic].partitions) == 6
    assert describe_topic_configs(target, [topic])[topic]["retention.ms"].value == "3600000"
    assert [i for i in plan_topics(source, target, [topic]).items if i.actions] == []


def test_shrink_and_refused_configs_apply_nothing(clusters, unique):
    source, target = clusters
    small, fine, refused = f"small-{unique}", f"fine-{unique}", f"refused-{unique}"
    create_topic(source.client_config, small, 2)
    create_topic(target.client_config, small, 5)
    create_topic(source.client_config, fine, 1)
    create_topic(source.client_config, refused, 1)

    plan = plan_topics(source, target, [small, fine])
    assert len(plan.problems) == 1 and "cannot shrink" in plan.problems[0]
    with pytest.raises(UserError, match="cannot shrink"):
        apply_topics(target, plan)
    assert fine not in target.admin.list_topics(timeout=10).topics  # nothing half-applied

    plan = plan_topics(source, target, [refused])
    # configs another cluster may carry that this target refuses: let the real broker judge
    plan.items[0].configs.update(
        {"segment.ms": "0", "confluent.placement.constraints": "{}", "retention.ms": "1000"}
    )
    validate_plan(target, plan)
    item = plan.items[0]
    assert set(item.refused) == {"segment.ms", "confluent.placement.constraints"}
    assert "INVALID_CONFIG" in item.refused["segment.ms"]
    with pytest.raises(UserError, match="refuses"):
        apply_topics(target, plan)
    assert refused not in target.admin.list_topics(timeout=10).topics


def test_unknown_topic_and_default_policy_names(clusters, unique):
    source, target = clusters
    with pytest.raises(UserError, match=f"unknown topic.*nope-{unique}"):
        plan_topics(source, target, [f"nope-{unique}"])
    topic = f"renamed-{unique}"
    create_topic(source.client_config, topic, 1)
    plan = plan_topics(source, target, [topic], naming=TopicNaming("default", "onprem"))
    assert plan.items[0].target == f"onprem.{topic}"
    apply_topics(target, plan)
    assert f"onprem.{topic}" in target.admin.list_topics(timeout=10).topics
