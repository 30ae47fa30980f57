"""The sandbox's two Kafka Connect clusters (one on each side, both with the FileStream
connectors from their plugin directory) and an extra bare worker, on real JVMs."""

from __future__ import annotations

import httpx
from confluent_kafka.admin import AdminClient

from bot import sandbox as sandbox_mod
from bot.sandbox import jars
from tests.kafka_helpers import create_topic, delete_topics, read_partitions
from tests.waits import wait_for

STRING = "org.apache.kafka.connect.storage.StringConverter"
FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"


def plugins(url: str) -> dict[str, dict]:
    answer = httpx.get(f"{url}/connector-plugins", timeout=10)
    assert answer.status_code == 200, answer.text
    return {p["class"]: p for p in answer.json()}


def cluster_id(endpoint) -> str:
    admin = AdminClient({**endpoint.client_config(), "log_level": 0})
    return admin.describe_cluster(request_timeout=10).result(timeout=15).cluster_id


def topic_names(endpoint) -> set[str]:
    admin = AdminClient({**endpoint.client_config(), "log_level": 0})
    return set(admin.list_topics(timeout=10).topics)


def test_each_worker_is_attached_to_its_cluster_and_has_the_filestream_connectors(sandbox):
    workers = {
        sandbox.connect_url: sandbox.target,
        sandbox.connect_source_url: sandbox.source,
    }
    ids = set()
    for url, endpoint in workers.items():
        root = httpx.get(url, timeout=10).json()
        assert root["kafka_cluster_id"] == cluster_id(endpoint), url
        ids.add(root["kafka_cluster_id"])
        found = plugins(url)
        assert set(found) >= sandbox_mod.MIRROR_PLUGINS | sandbox_mod.FILE_PLUGINS, url
        for name in sandbox_mod.FILE_PLUGINS:
            assert found[name]["version"] == jars.kafka_version(), found[name]
        assert found[FILE_SOURCE]["type"] == "source"
    assert len(ids) == 2  # two Connect clusters, on two Kafka clusters


def test_a_bare_worker_has_only_the_classpath_plugins_and_is_removed_without_traces(
    sandbox, unique
):
    name = f"bare_{unique}"
    worker = sandbox_mod.start_worker(sandbox, name, "target", plugins=False)
    try:
        assert sandbox_mod.load(sandbox.dir).pids[name] == worker.pid  # `down` would stop it
        found = plugins(worker.url)
        assert set(found) >= sandbox_mod.MIRROR_PLUGINS
        assert not set(found) & sandbox_mod.FILE_PLUGINS
        root = httpx.get(worker.url, timeout=10).json()
        assert root["kafka_cluster_id"] == cluster_id(sandbox.target)
        assert set(worker.topics) <= topic_names(sandbox.target)
    finally:
        sandbox_mod.remove_worker(sandbox, worker)
    assert name not in sandbox.pids and name not in sandbox_mod.load(sandbox.dir).pids
    wait_for(
        lambda: not set(worker.topics) & topic_names(sandbox.target),
        timeout=30,
        what="the bare worker's internal topics deleted",
    )
    assert all(sandbox.running().values())


def test_a_file_source_on_the_source_worker_stops_with_its_file_position(sandbox, unique, tmp_path):
    topic = f"file-{unique}"
    lines = [f"line {i} of {unique}" for i in range(50)]
    source_file = tmp_path / "input.txt"
    source_file.write_text("".join(f"{line}\n" for line in lines))
    create_topic(sandbox.source.client_config(), topic)
    name = f"file-source-{unique}"
    config = {
        "connector.class": FILE_SOURCE,
        "file": str(source_file),
        "topic": topic,
        "tasks.max": "1",
        "key.converter": STRING,
        "value.converter": STRING,
    }
    with httpx.Client(base_url=sandbox.connect_source_url, timeout=30) as connect:
        created = connect.post("/connectors", json={"name": name, "config": config})
        assert created.status_code == 201, created.text
        try:
            records = read_partitions(
                sandbox.source.client_config(), topic, 1, expected=len(lines), timeout=60
            )
            assert [value.decode() for _o, _k, value, _h in records[0]] == lines
            assert connect.put(f"/connectors/{name}/stop").status_code == 204

            def stopped():
                status = connect.get(f"/connectors/{name}/status").json()
                return status["connector"]["state"] == "STOPPED" and not status["tasks"]

            wait_for(stopped, timeout=30, what=f"{name} STOPPED with no task")
            offsets = wait_for(
                lambda: connect.get(f"/connectors/{name}/offsets").json()["offsets"],
                timeout=30,
                what=f"{name}'s offsets",
            )
            assert offsets == [
                {
                    "partition": {"filename": str(source_file)},
                    "offset": {"position": source_file.stat().st_size},
                }
            ]
        finally:
            connect.delete(f"/connectors/{name}")
            delete_topics(sandbox.source.client_config(), [topic])


def test_the_source_worker_stops_and_starts_alone_and_keeps_its_connectors(
    sandbox, unique, tmp_path
):
    name = f"kept-{unique}"
    config = {
        "connector.class": FILE_SOURCE,
        "file": str(tmp_path / "never-read.txt"),
        "topic": f"kept-{unique}",
        "key.converter": STRING,
        "value.converter": STRING,
    }
    with httpx.Client(base_url=sandbox.connect_source_url, timeout=30) as connect:
        body = {"name": name, "config": config, "initial_state": "STOPPED"}
        assert connect.post("/connectors", json=body).status_code == 201
        try:
            sandbox_mod.stop_connect(sandbox, "connect_source")
            try:
                assert sandbox.running()["connect_source"] is False
                assert sandbox.running()["connect"] is True
                assert httpx.get(f"{sandbox.connect_url}/health", timeout=10).status_code == 200
            finally:
                sandbox_mod.start_connect(sandbox, "connect_source")
            assert all(sandbox.running().values())
            assert sandbox_mod.load(sandbox.dir).pids == sandbox.pids

            def kept():
                answer = connect.get(f"/connectors/{name}/status")
                return answer.status_code == 200 and answer.json()["connector"]["state"]

            assert wait_for(kept, timeout=30, what=f"{name} back") == "STOPPED"
            assert connect.get(f"/connectors/{name}/config").json()["file"] == config["file"]
        finally:
            connect.delete(f"/connectors/{name}")
