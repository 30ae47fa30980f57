"""The card, every gate request and the report of a large migration stay within Slack's limits
and say the totals: 2,000 topics of 5 partitions, 1,000 consumer groups (half caught up, a
quarter part-way, a quarter stale), thousands of ACLs, foreign writes on many partitions, gaps,
handover and handback plans for every group. Rendered from the read model built by the store,
as the notifier renders them; checked by one checker of Slack's limits (`within_slack`)."""

from __future__ import annotations

import re

import pytest
from standins.blockkit import check_blocks, too_long

from bot.db import open_database
from bot.dbmigrations import init_db
from bot.kafka.progress import PartitionProgress, Progress
from bot.migration import checks, view
from bot.migration.actions import listed
from bot.migration.steps import GATES, INFO, Status, Step
from bot.migration.store import Store
from bot.models import Approval
from bot.slack import blocks
from tests.support import migration

MESSAGE_TEXT = 40_000  # a message's `text`: Slack truncates what is longer
MID = "orders-big"
TOPICS = [f"orders.region-{i % 7}.customer-events-v2.t{i:04d}" for i in range(2000)]
PARTITIONS = [(t, p) for t in TOPICS for p in range(5)]
GROUPS = [f"svc-{i:04d}.orders-consumer-group" for i in range(1000)]
APPROVERS = ["U0BOB", "S0SRE"]


def within_slack(rendered, text: str = "") -> list[str]:
    """Every limit Slack holds a message to: the blocks (count, text and field lengths, element
    counts, button texts and values, ids: the stand-in's checker, which refuses what Slack
    refuses), their total size (msg_blocks_too_long) and the message's text."""
    found = list(check_blocks(blocks.as_dicts(rendered))) if rendered else []
    if rendered and too_long(blocks.as_dicts(rendered)):
        found.append("msg_blocks_too_long")
    if len(text) > MESSAGE_TEXT:
        found.append(f"text of {len(text)} characters")
    return found


def shown(rendered) -> str:
    """All the text a person reads in the blocks."""
    out = []

    def walk(obj) -> None:
        if isinstance(obj, dict):
            if isinstance(obj.get("text"), str):
                out.append(obj["text"])
            for value in obj.values():
                walk(value)
        elif isinstance(obj, list):
            for value in obj:
                walk(value)

    walk(blocks.as_dicts(rendered))
    return "\n".join(out)


def kinds(i: int) -> tuple[dict[str, int], int]:
    """Group i's offsets by kind and its records read twice: half caught up (exact), a quarter
    part-way (translated, some read twice), a quarter stale (not located)."""
    if i % 4 in (0, 1):
        return {"exact": 10}, 0
    if i % 4 == 2:
        return {"exact": 4, "translated": 6}, 10 * i
    return {"unknown": 10}, 0


PREVIEW = {g: {"kinds": kinds(i)[0], "duplicates": kinds(i)[1]} for i, g in enumerate(GROUPS)}
HANDED = {g: kinds(i)[0] for i, g in enumerate(GROUPS)}
FOREIGN = [[t, p, 1 + (i * 7919) % 5000] for i, (t, p) in enumerate(PARTITIONS[::3])]
CONNECTORS = {
    "moves": {
        f"orders-sink-{i:02d}": {
            "kind": "sink",
            "cls": "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "topics": TOPICS[i::40],
            "state": "STOPPED",
            "target_state": "RUNNING",
            "offsets": [],
            "group": f"connect-orders-sink-{i:02d}",
        }
        for i in range(40)
    }
}


def progress() -> Progress:
    """Replication of the 10,000 partitions: most caught up, some behind, some with gaps."""
    rows = []
    for i, (t, p) in enumerate(PARTITIONS):
        lag = (i * 37) % 1000 if i % 10 == 0 else 0
        gap = 50 if i % 97 == 0 else 0
        rows.append(
            PartitionProgress(t, p, 0, 10_000, 10_000 - lag, lag, True, gap, 3.0 if lag else None)
        )
    return Progress(rows, 0.0)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    db = open_database(f"sqlite:///{tmp_path_factory.mktemp('big') / 'km.db'}")
    init_db(db)
    store = Store(db)
    m = migration(
        MID,
        topics=TOPICS,
        groups=GROUPS,
        options={"reverse_via": "mm2-back"},
    )
    store.create(m, "U0ALICE")
    m = store.get(MID)
    m.state.partitions = [list(tp) for tp in PARTITIONS]
    m.state.created_topics = TOPICS
    m.state.created_acls = [
        ["TOPIC", t, "LITERAL", f"User:svc-{i % 300}", "*", "READ", "ALLOW"]
        for i, t in enumerate(TOPICS * 3)
    ]
    m.state.fence = [["TOPIC", t, "LITERAL", "User:*", "*", "WRITE", "DENY"] for t in TOPICS]
    m.state.connectors = CONNECTORS
    m.state.connector_copies = list(CONNECTORS["moves"])
    m.state.handover = HANDED
    m.state.handback = HANDED
    m.state.foreign_writes = FOREIGN
    m.state.verify = {"partitions": len(PARTITIONS), "differences": []}
    m.state.schemas = {
        "imported": True,
        "subjects": [f"{t}-value" for t in TOPICS],
        "parity": [
            f"{t}-value v1: id 10{i} on the source, 20{i} on the target"
            for i, t in enumerate(TOPICS[:50])
        ],
    }
    m.state.replication = "orders-big-mm2"
    m.state.reverse = "orders-big-back"
    store.save(m, m.version, actor="bot", kind="created", message="state of a big migration")
    for i in range(200):
        store.add_lag(MID, 10_000 - 50 * i, 5_000_000 - 25_000 * i, 1000)
    for step in GATES:
        for who in APPROVERS[:1] + ["U0CAROL"]:
            store.add_approval(
                Approval(
                    migration_id=MID,
                    step=step,
                    decision="approved",
                    actor=who,
                    interface="slack",
                    version=3,
                )
            )
    return store


def at(store: Store, step: Step, status: Status = Status.ACTIVE, **state) -> view.MigrationView:
    """The big migration at `step`, its gate open when `step` is a gate, as the view shows it."""
    m = store.get(MID)
    m.step, m.status = step, status
    m.waiting_for = state.pop("waiting_for", None)
    m.reason = state.pop("reason", None)
    m.state.gate = None
    if step in GATES:
        decided = {"replication_lag": 0, "at": 1_700_000_000.0}
        if step in (Step.ROLLBACK, Step.REPOINT_TO_SOURCE):
            decided["foreign_writes"] = FOREIGN
        m.state.gate = {
            "step": step,
            "opened_at": 1_700_000_000.0,
            "version": m.version + 1,
            "decided": decided,
            "preview": PREVIEW if step in (Step.REPOINT_CLIENTS, Step.REPOINT_TO_SOURCE) else None,
        }
    store.save(m, m.version, actor="bot", kind="gate_opened", message=f"at {step}")
    if m.waiting_for:
        store.set_waiting_for(MID, m.waiting_for)
    return view.migration_view(store, MID)


def figures(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)]


def test_the_card_at_catch_up_says_the_totals_and_the_worst_partitions(store):
    p = progress()
    v = at(store, Step.CATCH_UP, waiting_for=checks.describe_progress(p))
    card = blocks.card(v)
    assert within_slack(card, f"Kafka migration {v.id}") == []
    text = shown(card)
    assert f"{len(TOPICS):,} topic(s)" in text
    assert f"{p.lag:,} records" in text  # the total, in the Now line
    assert f"on {sum(1 for x in p.partitions if x.lag):,} partition(s)" in text
    assert f"{sum(x.gap for x in p.gaps):,} records deleted before copy" in text
    most = max(x.lag for x in p.partitions)
    named = [x for x in p.partitions if x.lag == most and f"{x.topic}[{x.partition}]" in text]
    assert named  # a partition furthest behind is named


def test_the_card_at_drain_names_the_groups_furthest_behind_and_counts_the_rest(store):
    behind = {g: 10 * i for i, g in enumerate(GROUPS) if i % 4 == 2}
    idle = {g: 1000 + i for i, g in enumerate(GROUPS) if i % 4 == 3}
    v = at(store, Step.DRAIN, waiting_for=checks.describe_consumers(behind, idle))
    card = blocks.card(v)
    assert within_slack(card) == []
    text = shown(card)
    worst = max(behind, key=behind.get)
    assert worst in text and f"{behind[worst]:,}" in text
    assert f"{len(behind):,} group(s) behind, {sum(behind.values()):,} records" in text
    assert f"{len(idle):,} group(s) without members" in text


@pytest.mark.parametrize("status", [Status.ACTIVE, Status.PAUSED, Status.FAILED])
def test_the_card_in_the_soak_and_when_stopped_stays_within_the_limits(store, status):
    v = at(store, Step.SOAK, status, reason="x" * 5000 if status == Status.FAILED else None)
    card = blocks.card(v)
    assert within_slack(card) == []
    assert "40 connector(s)" in shown(card)  # the connectors that move, counted


@pytest.mark.parametrize("step", GATES)
def test_every_gate_request_stays_within_the_limits_and_says_the_totals(store, step):
    v = at(store, step)
    title = INFO[step].title
    request = blocks.gate_request(v, title, APPROVERS, "x" * 400)
    assert within_slack(request, f"{title} ({MID})") == []
    text = shown(request)
    if step in (Step.REPOINT_CLIENTS, Step.REPOINT_TO_SOURCE):
        assert f"{len(GROUPS):,} group(s)" in text
        assert "500 exact" in text and "250 translated" in text and "250 unknown" in text
        assert "status orders-big --json" in text  # where the rest is
    if step in (Step.ROLLBACK, Step.REPOINT_TO_SOURCE):
        total = sum(n for _t, _p, n in FOREIGN)
        assert f"{total:,} record(s) on {len(FOREIGN):,} partition(s)" in text
        worst = max(FOREIGN, key=lambda f: f[2])
        assert f"{worst[0]}[{worst[1]}]" in text
    # the request as decided and as closed keeps its first block, within the limits too
    first = request[0].text.text
    assert within_slack(blocks.decided(first, "approved", "U0BOB")) == []
    assert within_slack(blocks.closed(first, "y" * 3000)) == []


def test_the_report_says_the_totals_and_points_to_the_rest(store):
    at(store, Step.COMPLETE, Status.COMPLETE)
    report = view.report(store, MID)
    text = blocks.report_text(report)
    assert within_slack([], text) == []
    assert len(text) <= blocks.MAX_TEXT
    assert f"*Handover*: {len(GROUPS):,} group(s): 500 exact" in text
    assert f"*Handback*: {len(GROUPS):,} group(s)" in text
    assert f"{len(PARTITIONS):,} partition(s)" in text
    assert f"{len(TOPICS):,} subject(s)" in text
    assert "report orders-big --json" in text
    assert "…" not in text  # summarized, not cut off mid-line


def test_the_acl_step_says_its_thousands_of_bindings_in_one_thread_message():
    bindings = [
        f"ALLOW User:svc-{i % 300} READ TOPIC {t} (LITERAL) on host * — created"
        for i, t in enumerate(TOPICS * 3)
    ]
    said = ":white_check_mark: " + blocks.escape("6,000 ACL(s) on the selection" + listed(bindings))
    assert len(said) <= blocks.MAX_TEXT  # the thread message, as the notifier sends it
    shown_lines = said.count("\n• ") - 1
    assert 0 < shown_lines <= 40 and bindings[0] in said
    assert said.endswith(f"• and {len(bindings) - shown_lines:,} more")
