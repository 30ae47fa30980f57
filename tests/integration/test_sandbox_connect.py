"""The sandbox's two Kafka Connect clusters (one on each side, both with the FileStream
connectors from their plugin directory, the source's asking for basic auth) and extra workers
(a bare one, one with basic auth), on real JVMs."""

from __future__ import annotations

import httpx
import psutil
import pytest
from confluent_kafka.admin import AdminClient

from bot import sandbox as sandbox_mod
from bot.connect.rest import ConnectError, ConnectRest
from bot.sandbox import jars
from tests.connect_helpers import At, client, worker
from tests.kafka_helpers import create_topic, delete_topics, read_partitions
from tests.waits import wait_for

STRING = "org.apache.kafka.connect.storage.StringConverter"
FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"


def plugins(at: At) -> dict[str, dict]:
    with client(at) as connect:
        answer = connect.get("/connector-plugins")
    assert answer.status_code == 200, answer.text
    return {p["class"]: p for p in answer.json()}


def root(at: At) -> dict:
    with client(at) as connect:
        answer = connect.get("/")
    assert answer.status_code == 200, answer.text
    return answer.json()


def cluster_id(endpoint) -> str:
    admin = AdminClient({**endpoint.client_config(), "log_level": 0})
    return admin.describe_cluster(request_timeout=10).result(timeout=15).cluster_id


def topic_names(endpoint) -> set[str]:
    admin = AdminClient({**endpoint.client_config(), "log_level": 0})
    return set(admin.list_topics(timeout=10).topics)


def test_each_worker_is_attached_to_its_cluster_and_has_the_filestream_connectors(sandbox):
    workers = {
        worker(sandbox, "connect"): sandbox.target,
        worker(sandbox, "connect_source"): sandbox.source,
    }
    ids = set()
    for at, endpoint in workers.items():
        info = root(at)
        assert info["kafka_cluster_id"] == cluster_id(endpoint), at.url
        ids.add(info["kafka_cluster_id"])
        found = plugins(at)
        assert set(found) >= sandbox_mod.MIRROR_PLUGINS | sandbox_mod.FILE_PLUGINS, at.url
        for name in sandbox_mod.FILE_PLUGINS:
            assert found[name]["version"] == jars.kafka_version(), found[name]
        assert found[FILE_SOURCE]["type"] == "source"
    assert len(ids) == 2  # two Connect clusters, on two Kafka clusters


def test_a_bare_worker_has_only_the_classpath_plugins_and_is_removed_without_traces(
    sandbox, unique
):
    name = f"bare_{unique}"
    bare = sandbox_mod.start_worker(sandbox, name, "target", plugins=False)
    try:
        assert sandbox_mod.load(sandbox.dir).pids[name] == bare.pid  # `down` would stop it
        found = plugins(bare)
        assert set(found) >= sandbox_mod.MIRROR_PLUGINS
        assert not set(found) & sandbox_mod.FILE_PLUGINS
        assert root(bare)["kafka_cluster_id"] == cluster_id(sandbox.target)
        assert set(bare.topics) <= topic_names(sandbox.target)
    finally:
        sandbox_mod.remove_worker(sandbox, bare)
    assert name not in sandbox.pids and name not in sandbox_mod.load(sandbox.dir).pids
    wait_for(
        lambda: not set(bare.topics) & topic_names(sandbox.target),
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
    with client(worker(sandbox, "connect_source")) as connect:
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
    with client(worker(sandbox, "connect_source")) as connect:
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
            # back with the password it had: the bot config and sandbox.env still hold
            assert sandbox_mod.load(sandbox.dir).connect_auth("connect_source") == (
                sandbox.connect_auth("connect_source")
            )

            def kept():
                answer = connect.get(f"/connectors/{name}/status")
                return answer.status_code == 200 and answer.json()["connector"]["state"]

            assert wait_for(kept, timeout=30, what=f"{name} back") == "STOPPED"
            assert connect.get(f"/connectors/{name}/config").json()["file"] == config["file"]
        finally:
            connect.delete(f"/connectors/{name}")


PATHS = ("/", "/health", "/connectors", "/connector-plugins")


def written(root) -> list:
    """The files the sandbox and its JVMs wrote, outside the brokers' data (whose segments
    the brokers delete as they go)."""
    data = {root / side / "data" for side in ("source", "target")}
    return [
        path
        for path in root.rglob("*")
        if not any(d in path.parents for d in data) and path.is_file()
    ]


def read(path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:  # a file removed meanwhile held nothing
        return ""


def answers(url: str, auth=None) -> dict[str, int]:
    with httpx.Client(base_url=url, auth=auth, timeout=30) as connect:
        return {path: connect.get(path).status_code for path in PATHS}


def test_the_source_worker_asks_for_basic_auth_and_keeps_its_password_private(sandbox):
    url, auth = sandbox.connect_source_url, sandbox.connect_auth("connect_source")
    assert auth is not None and auth[0] == sandbox_mod.CONNECT_USER
    assert answers(url) == dict.fromkeys(PATHS, 401)
    assert answers(url, (auth[0], auth[1] + "x")) == dict.fromkeys(PATHS, 401)
    assert answers(url, ("someone", auth[1])) == dict.fromkeys(PATHS, 401)
    assert answers(url, auth) == dict.fromkeys(PATHS, 200)
    # the worker on the target asks for nothing (MM2 and the bot's replicator call it as is)
    assert sandbox.connect_auth("connect") is None
    assert answers(sandbox.connect_url) == dict.fromkeys(PATHS, 200)

    # where the password is: the state file, sandbox.env and the worker's users file, each
    # readable by its owner only; nowhere else in the sandbox (config, logs, command lines)
    password = auth[1]
    private = {
        sandbox.dir / "sandbox.json",
        sandbox.dir / "sandbox.env",
        sandbox.dir / "connect_source" / "rest-users.properties",
    }
    assert {path for path in written(sandbox.dir) if password in read(path)} == private
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in private)
    assert (
        f"SANDBOX_CONNECT_SOURCE_PASSWORD={password}\n" in (sandbox.dir / "sandbox.env").read_text()
    )
    assert not any(
        password in arg for arg in psutil.Process(sandbox.pids["connect_source"]).cmdline()
    )


def test_an_extra_worker_with_basic_auth_has_a_password_of_its_own(sandbox, unique):
    name = f"guarded_{unique}"
    guarded = sandbox_mod.start_worker(sandbox, name, "target", basic_auth=True)
    try:
        assert (
            guarded.auth
            == sandbox.connect_auth(name)
            == sandbox_mod.load(sandbox.dir).connect_auth(name)
        )
        assert guarded.auth != sandbox.connect_auth("connect_source")
        assert answers(guarded.url) == dict.fromkeys(PATHS, 401)
        assert answers(guarded.url, guarded.auth) == dict.fromkeys(PATHS, 200)
        assert "auth=" not in repr(guarded) and guarded.auth[1] not in repr(guarded)
        # the bot's Connect client: refused by name without the password, answered with it
        user, password = guarded.auth
        with pytest.raises(ConnectError) as caught:
            ConnectRest("guarded", guarded.url, user, "not-" + password).info()
        assert caught.value.status == 401 and not caught.value.retriable
        assert f"refused user '{user}' with HTTP 401" in str(caught.value)
        assert password not in str(caught.value)
        with pytest.raises(ConnectError, match="refused no credentials with HTTP 401"):
            ConnectRest("guarded", guarded.url).plugins()
        assert ConnectRest("guarded", guarded.url, user, password).info()["version"]
    finally:
        sandbox_mod.remove_worker(sandbox, guarded)
    assert sandbox.connect_auth(name) is None
    assert sandbox_mod.load(sandbox.dir).connect_auth(name) is None
