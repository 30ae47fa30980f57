"""The sandbox's Connect workers without a JVM: their properties, the plugin directory, and the
names and clusters `start_worker` refuses before it starts anything."""

from __future__ import annotations

import json
from dataclasses import replace as dataclasses_replace
from pathlib import Path

import pytest

from bot import sandbox as sandbox_mod
from bot.sandbox import jars, render, state, workers


def props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def worker(name: str, plugin_path: Path | None) -> dict[str, str]:
    return props(
        render.connect_worker(
            name=name,
            bootstrap="127.0.0.1:1",
            rest_port=2,
            admin_password="pw",
            plugin_path=plugin_path,
        )
    )


def test_each_worker_is_a_connect_cluster_of_its_own_and_only_some_get_the_plugin_path():
    target = worker("connect", Path("/lib/plugins"))
    assert target["group.id"] == "kafka-migrate-sandbox-connect"
    assert [target[f"{k}.storage.topic"] for k in ("config", "offset", "status")] == [
        "connect-configs",
        "connect-offsets",
        "connect-status",
    ]
    assert target["plugin.path"] == "/lib/plugins"
    source = worker("connect_source", Path("/lib/plugins"))
    assert source["group.id"] == "kafka-migrate-sandbox-connect-source"
    assert source["config.storage.topic"] == "connect-source-configs"
    bare = worker("bare", None)
    assert "plugin.path" not in bare
    assert bare["value.converter"] == render.BYTES  # connectors that want strings say so
    assert render.worker_topics("bare") == (
        bare["config.storage.topic"],
        bare["offset.storage.topic"],
        bare["status.storage.topic"],
    )


def test_the_plugin_jars_leave_the_classpath_directory_for_their_plugin_directory(tmp_path):
    for jar in ("connect-file-4.3.1.jar", "connect-runtime-4.3.1.jar", "kafka-clients-4.3.1.jar"):
        (tmp_path / jar).write_bytes(b"")
    jars._move_plugins(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.jar")) == [
        "connect-runtime-4.3.1.jar",
        "kafka-clients-4.3.1.jar",
    ]
    home = jars.plugin_path(tmp_path) / "connect-file"
    assert [p.name for p in home.iterdir()] == ["connect-file-4.3.1.jar"]


@pytest.fixture
def stopped_box(tmp_path):
    users = {"admin": "pw"}
    return sandbox_mod.Sandbox(
        tmp_path,
        sandbox_mod.Endpoint("127.0.0.1:1", users),
        sandbox_mod.Endpoint("127.0.0.1:2", users),
        connect_url="http://127.0.0.1:3",
        connect_source_url="http://127.0.0.1:4",
        pids={},
        ports={},
    )


@pytest.mark.parametrize(
    ("name", "cluster", "plugins", "says"),
    [
        ("Bare Worker", "target", False, "cannot name a worker"),
        ("target", "target", False, "cannot name a worker"),
        ("source_controller", "source", False, "cannot name a worker"),
        ("bare", "middle", False, "no sandbox cluster 'middle'"),
        ("connect", "source", True, "the sandbox's worker on the target"),
        ("connect_source", "source", False, "the sandbox's worker on the source"),
    ],
)
def test_start_worker_refuses_before_it_starts_anything(stopped_box, name, cluster, plugins, says):
    with pytest.raises(ValueError, match=says):
        sandbox_mod.start_worker(stopped_box, name, cluster, plugins=plugins)
    assert stopped_box.pids == {} and not (stopped_box.dir / "sandbox.json").exists()
    assert not (stopped_box.dir / name).exists()


@pytest.mark.parametrize("name", ["connect", "connect_source"])
def test_the_sandbox_workers_start_only_as_they_are(stopped_box, name):
    """connect_source asks for basic auth, connect does not: neither starts the other way."""
    own = workers.OWN[name]
    assert own.basic_auth == (name == "connect_source")
    with pytest.raises(ValueError, match="the sandbox's worker on the"):
        sandbox_mod.start_worker(
            stopped_box, name, own.cluster, plugins=True, basic_auth=not own.basic_auth
        )
    assert stopped_box.pids == {} and not (stopped_box.dir / name).exists()


def test_a_worker_asking_for_basic_auth_names_the_extension_and_its_users():
    guarded = props(
        render.connect_worker(
            name="connect_source",
            bootstrap="127.0.0.1:1",
            rest_port=2,
            admin_password="pw",
            plugin_path=None,
            basic_auth=True,
        )
    )
    assert guarded["rest.extension.classes"] == (
        "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension"
    )
    assert "rest.extension.classes" not in worker("connect", None)
    jaas = render.rest_jaas(Path("/box/connect_source/rest-users.properties"))
    assert jaas.startswith("KafkaConnect {\n")
    assert "PropertyFileLoginModule required" in jaas
    assert 'file="/box/connect_source/rest-users.properties";' in jaas
    assert render.rest_users({"connect-admin": "s3cr3t"}) == "connect-admin=s3cr3t\n"


def test_only_the_sandbox_workers_can_be_stopped_and_started_by_name(stopped_box):
    with pytest.raises(ValueError, match="no sandbox worker 'bare'"):
        sandbox_mod.stop_connect(stopped_box, "bare")
    extra = workers.Worker("connect", "target", True, "http://x", 1, 1, "g", ("a", "b", "c"))
    with pytest.raises(ValueError, match="one of the sandbox's own workers"):
        sandbox_mod.remove_worker(stopped_box, extra)


def test_the_workers_of_the_connect_cluster_share_its_group_and_topics_each_on_a_port():
    first = worker("connect", None)
    second = props(
        render.connect_worker(
            name="connect_2",
            bootstrap="127.0.0.1:1",
            rest_port=5,
            admin_password="pw",
            plugin_path=None,
            joins="connect",
            exactly_once=True,
        )
    )
    same = ("group.id", "config.storage.topic", "offset.storage.topic", "status.storage.topic")
    assert {k: second[k] for k in same} == {k: first[k] for k in same}
    assert (second["listeners"], second["rest.advertised.port"]) == ("http://127.0.0.1:5", "5")
    assert second["exactly.once.source.support"] == "enabled"
    assert "exactly.once.source.support" not in first  # at-least-once unless asked


def box_of(stopped_box, count: int, exactly_once: bool = False):
    ports = {name: 100 + i for i, name in enumerate(state.connect_names(count))}
    return dataclasses_replace(
        stopped_box,
        connect_workers=count,
        exactly_once=exactly_once,
        ports={**ports, "connect_source": 99},
    )


def test_a_sandbox_of_three_connect_workers_knows_them_by_name_first_one_first(stopped_box):
    box = box_of(stopped_box, 3, exactly_once=True)
    own = workers.own_specs(box)
    assert list(own) == ["connect", "connect_2", "connect_3", "connect_source"]
    assert [own[n].joins for n in own] == [None, "connect", "connect", None]
    assert [own[n].exactly_once for n in own] == [True, True, True, False]
    assert all(own[n].cluster == "target" and own[n].plugins for n in box.connect_names)
    assert box.connect_urls == [f"http://127.0.0.1:{p}" for p in (100, 101, 102)]
    # one of them started another way is refused before anything starts
    with pytest.raises(ValueError, match="the sandbox's worker on the target"):
        sandbox_mod.start_worker(box, "connect_2", "target", plugins=False)
    with pytest.raises(ValueError, match="no sandbox worker 'connect_4'"):
        sandbox_mod.kill_connect(box, "connect_4")
    with pytest.raises(ValueError, match="no sandbox worker 'connect_2'"):
        sandbox_mod.stop_connect(box_of(stopped_box, 1), "connect_2")
    assert box.pids == {} and not (box.dir / "connect_2").exists()


def test_the_state_file_and_the_bot_config_keep_the_connect_cluster_as_started(stopped_box):
    box = box_of(stopped_box, 2, exactly_once=True)
    box.dir.mkdir(parents=True, exist_ok=True)
    state.save(box)
    again = sandbox_mod.load(box.dir)
    assert (again.connect_workers, again.exactly_once) == (2, True)
    assert again.connect_urls == box.connect_urls
    assert again.status()["connect"]["workers"] == box.connect_urls
    sandbox_mod._write_bot_config(dataclasses_replace(box, connect_url=box.connect_urls[0]))
    from bot import config

    replicator = config.load(box.config_file).config.replicators["sandbox-mm2"]
    assert (str(replicator.url).rstrip("/"), replicator.workers) == (box.connect_urls[0], 2)
    old = dict(json.loads(state.state_path(box.dir).read_text()))
    old["connect"] = {"url": box.connect_url}  # written before the cluster could grow
    state.write_private(state.state_path(box.dir), json.dumps(old))
    assert (sandbox_mod.load(box.dir).connect_workers, sandbox_mod.load(box.dir).exactly_once) == (
        1,
        False,
    )
