"""MM2's tasks.max without a JVM: the rule (partitions, workers, tasks per worker, the
configured figure), the connector config it goes into, the replicator built from the
configuration, and how the plan says what it chose and why."""

from __future__ import annotations

import json

import pytest

from bot import cli_text, config
from bot.errors import ConfigError
from bot.migration.view import Plan
from bot.replicators import FlowSpec, from_settings
from bot.replicators.connect import ConnectReplicator, connector_configs
from bot.replicators.tasks import TaskSizing, size_tasks
from bot.slack import blocks
from tests.support import CONFIG


@pytest.mark.parametrize(
    ("partitions", "workers", "per_worker", "chosen"),
    [
        (10, 2, 2, 4),  # the workers bound it: 2 workers x 2 tasks
        (10, 1, 4, 4),  # one worker: the 4 the bot always set
        (3, 2, 4, 3),  # the partitions bound it: MM2 never runs more tasks than partitions
        (1, 5, 4, 1),
        (0, 2, 4, 1),  # nothing to copy yet: still one task
        (100, 3, 4, 12),
    ],
)
def test_tasks_max_is_the_partitions_or_the_workers_tasks_whichever_is_fewer(
    partitions, workers, per_worker, chosen
):
    sizing = size_tasks(partitions, workers, tasks_per_worker=per_worker)
    assert sizing.tasks_max == chosen
    assert (sizing.partitions, sizing.workers, sizing.configured) == (partitions, workers, False)


def test_the_text_says_what_was_chosen_and_from_what():
    assert str(size_tasks(10, 2, tasks_per_worker=2)) == (
        "tasks.max 4: 10 partitions, 2 workers × 2 tasks each"
    )
    assert str(size_tasks(3, 2)) == "tasks.max 3: 3 partitions, 2 workers"
    assert str(size_tasks(1, 1)) == "tasks.max 1: 1 partition, 1 worker"
    seen = str(size_tasks(10, 1, workers_seen=True))
    assert seen.startswith("tasks.max 4: 10 partitions, 1 worker × 4 tasks each (as many as run")
    assert "set the replicator's workers" in seen


def test_a_configured_tasks_max_overrides_the_rule_and_asks_no_worker_count():
    sizing = size_tasks(10, None, tasks_max=7)
    assert (sizing.tasks_max, sizing.workers, sizing.configured) == (7, None, True)
    assert str(sizing) == "tasks.max 7: set by the replicator's tasks_max (10 partitions)"


def test_a_sizing_survives_the_state_column_as_it_was():
    sizing = size_tasks(10, 2, tasks_per_worker=2)
    stored = json.loads(json.dumps(sizing.dump()))
    assert TaskSizing.load(stored) == sizing
    assert TaskSizing.load({**stored, "from_a_newer_release": 1}) == sizing


def flow(**extra) -> FlowSpec:
    conf = {"bootstrap.servers": "127.0.0.1:1"}
    return FlowSpec(name="km-x", source=conf, target=conf, topics=["orders"], **extra)


def test_the_figure_goes_to_the_source_connector_only():
    configs = connector_configs(flow(tasks_max=6))
    assert configs["km-x-source"]["tasks.max"] == "6"
    assert configs["km-x-checkpoint"]["tasks.max"] == "1"
    assert configs["km-x-heartbeat"]["tasks.max"] == "1"
    # a flow started before the figure was recorded keeps the 4 it was created with: an
    # upgrade does not rewrite (and restart) its connector
    assert connector_configs(flow())["km-x-source"]["tasks.max"] == "4"
    assert connector_configs(flow(tasks_max=6)) == connector_configs(flow(tasks_max=6))


def settings(tmp_path, extra: str):
    path = tmp_path / "km.toml"
    path.write_text(
        CONFIG.replace('url = "http://127.0.0.1:3"\n', f'url = "http://127.0.0.1:3"\n{extra}')
    )
    return config.load(path)


def test_the_configured_workers_size_the_tasks_without_asking_the_cluster(tmp_path):
    replicator = from_settings(settings(tmp_path, "workers = 2\ntasks_per_worker = 2\n"), "mm2")
    assert isinstance(replicator, ConnectReplicator)
    # nobody listens on 127.0.0.1:3: the configured count needs no call
    assert replicator.size_tasks(10) == size_tasks(10, 2, tasks_per_worker=2)
    fixed = from_settings(settings(tmp_path, "tasks_max = 3\n"), "mm2")
    assert fixed.size_tasks(10).tasks_max == 3


def test_without_a_worker_count_the_cluster_is_asked_and_its_absence_said(tmp_path):
    replicator = from_settings(settings(tmp_path, ""), "mm2")
    from bot.errors import ReplicatorError

    with pytest.raises(ReplicatorError, match="127.0.0.1:3") as raised:
        replicator.size_tasks(10)
    assert raised.value.retriable  # connection refused: the step holds degraded


@pytest.mark.parametrize("extra", ["workers = 0\n", "tasks_max = 0\n", "tasks_per_worker = 0\n"])
def test_a_worker_or_task_count_below_one_is_refused_naming_the_key(tmp_path, extra):
    with pytest.raises(ConfigError, match=extra.split(" ")[0]):
        settings(tmp_path, extra)


def test_the_plan_names_the_choice_in_text_json_and_slack(engine):
    lines = engine.verbs._replication_lines("mm2", 10)  # CONFIG: no workers, nobody listening
    assert lines[0].startswith("tasks.max: not decided (") and "start_replication" in lines[0]
    plan = Plan(
        topics=("orders",),
        excluded=(),
        internal=(),
        topic_lines=(),
        summary={"topics": 1},
        replication_lines=(f"MirrorSourceConnector {size_tasks(10, 2, tasks_per_worker=2)}",),
    )
    text = cli_text.plan(plan)
    assert (
        "replication:\n  MirrorSourceConnector tasks.max 4: 10 partitions, 2 workers × 2 tasks each"
    ) in text
    assert json.loads(cli_text.as_json(plan))["replication_plan"]["lines"] == list(
        plan.replication_lines
    )
    slack = blocks.plan_text(plan)
    assert "*Replication*\n• MirrorSourceConnector tasks.max 4: 10 partitions, 2 workers" in slack
