"""`make run` without Slack: a whole rehearsal in the browser, on the real Kafka + MM2 sandbox.

`Rehearsal(box).start()` brings up, around a running sandbox: two schema registry stand-ins
(source and target), the Slack Web API stand-in with three people (a requester, an approver,
and someone who is neither), the demo (topics, ACLs, a schema, two file connectors on the old
Connect cluster, a live producer and two consumer groups), and the real bot (bolt app, engine,
scheduler) with a signing secret made up for this run, serving /slack/events, /healthz,
/metrics and the page on one port; the page suggests the migration (`start_line`), its
connectors included. `stop()` stops exactly what `start()` started, in reverse order.
`rehearse()` is what `kafka-migrate serve` runs when there is neither a config file nor Slack
credentials.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import threading
from pathlib import Path

from bot import config
from bot.service import Bot
from standins.aiven_api import TARGET as AIVEN_TARGET
from standins.aiven_api import AivenStandIn
from standins.demo import Demo
from standins.demo_connectors import NEW as CONNECT_TO
from standins.demo_connectors import OLD as CONNECT_FROM
from standins.page import Page, PageStandIn
from standins.registry import RegistryStandIn

log = logging.getLogger(__name__)
CHANNEL, CHANNEL_NAME = "C0MIGRATE", "kafka-migrations"
USERS = {"U0ALICE": "alice", "U0BOB": "bob", "U0EVE": "eve"}
# alice starts migrations and approves others' (so the two-person rule is what refuses her)
REQUESTER, APPROVERS = "U0ALICE", ["U0ALICE", "U0BOB"]
REGISTRIES = ("registry-source", "registry-target")
# `via=aiven-mm2 target=aiven-target`: the same rehearsal through the Aiven API stand-in (its
# flows become MM2 connectors on the sandbox's Connect worker)
AIVEN_PROJECT, AIVEN_MM2, AIVEN_TOKEN_ENV = "rehearsal", "mm2-rehearsal", "KM_REHEARSAL_AIVEN_TOKEN"
TIMING = """
[timing]
poll_interval_seconds = 1
quiet_window_seconds = 3
drain_window_seconds = 2
"""


def start_line(demo: Demo, name: str = "rehearsal") -> str:
    """The rehearsal's migration in one command, as the page suggests it: the demo's topics
    with their schemas, and its connectors moving from the old Connect cluster to the
    target's."""
    return (
        f"/kafka-migrate start {name} source=sandbox-source target=sandbox-target "
        f"topics={demo.pattern} exclude={demo.exclude} via=sandbox-mm2 "
        f"source_registry={REGISTRIES[0]} target_registry={REGISTRIES[1]} "
        f"connect_from={CONNECT_FROM} connect_to={CONNECT_TO}"
    )


class Rehearsal:
    def __init__(
        self,
        box,
        *,
        prefix: str = "orders",
        host: str = "127.0.0.1",
        port: int = 0,
        demo_clients: bool = True,
    ):
        self.box = box
        self.prefix = prefix
        self.host, self.port = host, port
        self.demo_clients = demo_clients
        self._stack = contextlib.ExitStack()
        self.url = ""

    def _aiven(self, aiven: AivenStandIn) -> str:
        """The Aiven target (the sandbox's target as Aiven service `target-kafka`; `localhost`
        names it apart from `sandbox-target`) and the Aiven replicator, whose MM2 service the
        bot creates."""
        target = self.box.target
        port = target.bootstrap_servers.rsplit(":", 1)[1]
        return f"""
[clusters.aiven-target]
aiven_project = "{AIVEN_PROJECT}"
aiven_service = "{AIVEN_TARGET}"
aiven_token_env = "{AIVEN_TOKEN_ENV}"
aiven_api_url = "{aiven.url}"
bootstrap_servers = "localhost:{port}"
security_protocol = "{target.security_protocol}"
sasl_mechanism = "{target.sasl_mechanism}"
sasl_username = "admin"
sasl_password_env = "SANDBOX_TARGET_PASSWORD"

[replicators.aiven-mm2]
kind = "aiven"
project = "{AIVEN_PROJECT}"
service = "{AIVEN_MM2}"
token_env = "{AIVEN_TOKEN_ENV}"
api_url = "{aiven.url}"
create_service = true
plan = "startup-4"
"""

    def _config(self, registries: dict[str, RegistryStandIn], aiven: AivenStandIn) -> Path:
        """The sandbox's clusters and replicator, the registries, fast timing, the channel and
        the approvers; beside the sandbox's config, so its env_file (the passwords) is found."""
        base = self.box.config_file.read_text()
        base = base[: base.index("[timing]")] if "[timing]" in base else base
        for name, side in zip(REGISTRIES, ("source", "target"), strict=True):
            base += f'\n[schema_registries.{name}]\nurl = "{registries[side].url}"\n'
        slack = f'\n[slack]\nchannel = "{CHANNEL}"\napprovers = {APPROVERS!r}\n'.replace("'", '"')
        path = self.box.dir / f"rehearsal-{self.prefix}.toml"
        path.write_text(base + self._aiven(aiven) + TIMING + slack)
        return path

    def start(self) -> Rehearsal:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        stack = self._stack
        registries = {}
        for side in ("source", "target"):
            registries[side] = RegistryStandIn().start()
            stack.callback(registries[side].stop)
        secret = secrets.token_hex(32)  # this run's signing secret: never shown
        token = "xoxb-rehearsal-" + secrets.token_hex(12)
        self.standin = PageStandIn(token=token, channels=(CHANNEL,), users=USERS).start()
        stack.callback(self.standin.stop)
        aiven_token = "aivenv1-rehearsal-" + secrets.token_hex(12)  # read from the environment
        os.environ[AIVEN_TOKEN_ENV] = aiven_token
        stack.callback(os.environ.pop, AIVEN_TOKEN_ENV, None)
        self.aiven = AivenStandIn.on_sandbox(self.box, token=aiven_token, project=AIVEN_PROJECT)
        self.aiven.start()
        stack.callback(self.aiven.stop)
        path = self._config(registries, self.aiven)
        self.demo = Demo(self.box, prefix=self.prefix, registry=registries["source"]).seed()
        stack.callback(self.demo.stop)
        if self.demo_clients:
            self.demo.start()
        database = self.box.dir / f"rehearsal-{self.prefix}.db"
        for leftover in database.parent.glob(database.name + "*"):
            leftover.unlink()  # each rehearsal starts with no migrations
        self.bot = Bot(
            config.load(str(path)),
            token=token,
            signing_secret=secret,
            api_url=self.standin.api_url,
            db_url=f"sqlite:///{database}",
            card_interval=0.5,
        )
        stack.callback(self.bot.stop)
        self.bot.start_scheduler()
        self.page = Page(
            self.standin,
            signing_secret=secret,
            channel=CHANNEL,
            channel_name=CHANNEL_NAME,
            approvers=APPROVERS,
            requester=REQUESTER,
            demo=self.demo,
            suggestion=start_line(self.demo),
        )
        self.server = self.bot.http_server(self.host, self.port, routes=self.page.routes())
        stack.callback(self.server.close)
        port = self.server.effective_port
        self.page.events_url = f"http://127.0.0.1:{port}/slack/events"
        self.url = f"http://{self.host}:{port}/"

        def serve() -> None:
            with contextlib.suppress(OSError):  # the socket closes under it at the end
                self.server.run()

        threading.Thread(target=serve, name="rehearsal-http", daemon=True).start()

    def stop(self) -> None:
        self._stack.close()


def rehearse(directory: str) -> int:
    """Start the sandbox (unless one runs in `directory`), the rehearsal, print the page's URL,
    and stop everything that was started on Ctrl-C or SIGTERM."""
    from bot import sandbox

    existing = sandbox.load(directory)
    reuse = existing is not None and sandbox.current(existing) and all(existing.running().values())
    print(
        "No config and no Slack credentials: a local rehearsal on a real Kafka + MirrorMaker 2 "
        f"sandbox ({'running' if reuse else 'starting'} in {directory})."
    )
    box = existing if reuse else sandbox.up(directory, log=log.debug)  # one URL printed: ours
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    rehearsal = None
    try:
        port = int(os.environ.get("PORT", "3000"))
        try:
            rehearsal = Rehearsal(box, port=port).start()
        except OSError:  # the port is taken: any free one
            rehearsal = Rehearsal(box, port=0).start()
        print(f"Rehearsal ready: open {rehearsal.url}  (Ctrl-C stops it)", flush=True)
        stop.wait()
    finally:
        print("stopping the rehearsal…", flush=True)
        if rehearsal is not None:
            rehearsal.stop()
        if not reuse:
            sandbox.down(directory, log=log.debug)
    return 0
