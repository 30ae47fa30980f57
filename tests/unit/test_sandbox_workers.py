"""The sandbox's Connect workers without a JVM: their properties, the plugin directory, and the
names and clusters `start_worker` refuses before it starts anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import sandbox as sandbox_mod
from bot.sandbox import jars, render, workers


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
