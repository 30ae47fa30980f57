"""The Slack side of the notification port: the card, its thread, gate requests, alerts, charts.

The engine's tick must not wait for Slack: notifications go to a queue and one worker thread
sends them. Card updates are coalesced: many changes within `card_interval` seconds become one
`chat.update` of the card's latest state.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.migration import report
from bot.migration.notify import Note, Notification
from bot.migration.steps import GATES, INFO, Status, Step
from bot.migration.store import Store
from bot.models import GateMessage
from bot.slack import blocks
from bot.slack.chart import lag_chart

log = logging.getLogger(__name__)
# what Slack answers when the bot may not post in a channel
UNPOSTABLE = {"channel_not_found", "not_in_channel", "is_archived", "restricted_action"}


class SlackNotifier:
    def __init__(
        self,
        client: WebClient,
        store: Store,
        channel: str,
        approvers: list[str],
        card_interval: float = 2.0,
    ):
        self.client = client
        self.store = store
        self.channel = channel
        self.approvers = approvers
        self.card_interval = card_interval
        self._queue: queue.Queue[Notification] = queue.Queue()
        self._dirty: set[str] = set()
        self._last_card: dict[str, float] = {}
        self._idle = threading.Event()
        self._card_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="slack-notifier", daemon=True)
        self._thread.start()

    # the port ------------------------------------------------------------------------------
    def notify(self, note: Notification) -> None:
        self._idle.clear()
        self._queue.put(note)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """For tests and benchmarks: every queued notification sent, no card update pending."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.empty() and not self._dirty and self._idle.is_set():
                return True
            time.sleep(0.05)
        return False

    # the worker ----------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                note = self._queue.get(timeout=0.2)
            except queue.Empty:
                note = None
            if note is not None:
                try:
                    self._handle(note)
                except Exception:  # noqa: BLE001 - Slack trouble must not stop the worker
                    log.exception("sending %s for %s to Slack failed", note.kind, note.migration_id)
            self._flush_cards()
            if self._queue.empty() and not self._dirty:
                self._idle.set()

    def _flush_cards(self) -> None:
        now = time.monotonic()
        for migration_id in list(self._dirty):
            if now - self._last_card.get(migration_id, 0) < self.card_interval:
                continue
            self._dirty.discard(migration_id)
            self._last_card[migration_id] = now
            try:
                self._update_card(migration_id)
            except Exception:  # noqa: BLE001
                log.exception("updating the card of %s failed", migration_id)

    def _where(self, migration_id: str) -> tuple[str, str]:
        """(channel, card ts) of the migration; the card is posted on first use, in the channel
        the migration was started from, or else in the configured channel."""
        with self._card_lock:
            m = self.store.get(migration_id)
            if m.card_ts:
                return m.channel or self.channel, m.card_ts
            status = report.status(self.store, migration_id)
            candidates = list(dict.fromkeys(c for c in (m.channel, self.channel) if c))
            for i, channel in enumerate(candidates):
                try:
                    posted = self.client.chat_postMessage(
                        channel=channel,
                        text=f"Kafka migration {migration_id}",
                        blocks=blocks.as_dicts(blocks.card(status)),
                    )
                except SlackApiError as exc:
                    if exc.response.get("error") not in UNPOSTABLE or i == len(candidates) - 1:
                        raise
                    log.warning("cannot post in %s (%s): trying %s", channel, exc, candidates[-1])
                    continue
                self.store.set_card(migration_id, channel, posted["ts"])
                self._last_card[migration_id] = time.monotonic()
                return channel, posted["ts"]
            raise AssertionError("unreachable")

    def post_card(self, migration_id: str) -> str:
        """Post the card now (not in the worker); returns its channel. SlackApiError when it
        cannot be posted anywhere."""
        return self._where(migration_id)[0]

    def _update_card(self, migration_id: str) -> None:
        channel, ts = self._where(migration_id)
        status = report.status(self.store, migration_id)
        self.client.chat_update(
            channel=channel,
            ts=ts,
            text=f"Kafka migration {migration_id}",
            blocks=blocks.as_dicts(blocks.card(status)),
        )
        self._follow_gates(migration_id)

    def _follow_gates(self, migration_id: str) -> None:
        """Gate requests whose gate is no longer open lose their buttons and say why."""
        m = self.store.get(migration_id)
        gate = m.state.get("gate") or {}
        for message in self.store.open_gate_messages(migration_id):
            still_open = (
                m.status == Status.ACTIVE
                and m.step == message.step
                and gate.get("step") == message.step
                and gate.get("version") == message.state_version
            )
            if still_open:
                continue
            if m.status in (Status.CANCELLED, Status.COMPLETE, Status.FAILED, Status.PAUSED):
                why = f"the migration is {m.status}" + (f" ({m.reason})" if m.reason else "")
            elif m.step == message.step and gate.get("version"):
                why = f"expired; a new request (version {gate['version']}) replaces it"
            else:
                why = f"the migration moved to {m.step}"
            self._close_gate(message, why)

    def _close_gate(self, message: GateMessage, why: str, follows: bool = False) -> None:
        if self.store.close_gate_message(message.channel, message.ts, why):
            self.client.chat_update(
                channel=message.channel,
                ts=message.ts,
                text=blocks.clip(f"closed: {blocks.escape(why)}"),
                blocks=blocks.as_dicts(blocks.closed(message.text, why, follows)),
            )

    def gate_decided(self, message: GateMessage, decision: str, actor: str) -> None:
        """The gate request after the decision that closed it: who and when, no buttons."""
        if self.store.close_gate_message(message.channel, message.ts, f"{decision} by {actor}"):
            self.client.chat_update(
                channel=message.channel,
                ts=message.ts,
                text=f"{message.step} {decision} by {actor}",
                blocks=blocks.as_dicts(blocks.decided(message.text, decision, actor)),
            )

    def _thread_say(self, migration_id: str, text: str) -> None:
        channel, ts = self._where(migration_id)
        self.client.chat_postMessage(channel=channel, thread_ts=ts, text=blocks.clip(text))

    def _chart(self, migration_id: str, title: str) -> None:
        channel, ts = self._where(migration_id)
        samples = [
            (s.at, s.replication_lag, s.consumer_lag)
            for s in self.store.lag_samples(migration_id, 2000)
        ]
        self.client.files_upload_v2(
            channel=channel,
            thread_ts=ts,
            title=title,
            filename=f"{migration_id}-lag.png",
            content=lag_chart(samples, title),
        )

    def _handle(self, note: Notification) -> None:
        mid = note.migration_id
        if note.kind == Note.CARD_CHANGED:
            self._where(mid)
            self._dirty.add(mid)
            return
        self._dirty.add(mid)
        if note.kind == Note.GATE_OPENED:
            channel, _ts = self._where(mid)
            status = report.status(self.store, mid)
            title = INFO[Step(status["step"])].title
            gate_blocks = blocks.gate_request(status, title, self.approvers, note.text)
            posted = self.client.chat_postMessage(
                channel=channel, text=f"{title} ({mid})", blocks=blocks.as_dicts(gate_blocks)
            )
            self.store.add_gate_message(
                GateMessage(
                    channel=channel,
                    ts=posted["ts"],
                    migration_id=mid,
                    step=status["step"],
                    state_version=status["version"],
                    text=gate_blocks[0].text.text,
                )
            )
        elif note.kind == Note.GATE_CLOSED:
            for message in self.store.open_gate_messages(mid):
                self._close_gate(message, note.text, follows=True)
            self._thread_say(mid, f":leftwards_arrow_with_hook: {blocks.escape(note.text)}")
        elif note.kind == Note.STEP_DONE:
            if note.step in GATES and note.data.get("actor"):
                for message in self.store.open_gate_messages(mid):
                    if message.step == note.step:
                        self.gate_decided(message, "approved", note.data["actor"])
            self._thread_say(mid, f":white_check_mark: {blocks.escape(note.text)}")
        elif note.kind == Note.LAG_ZERO:
            channel, _ts = self._where(mid)
            self.client.chat_postMessage(
                channel=channel,
                text=blocks.clip(
                    f":checkered_flag: {blocks.code(mid)}: {blocks.escape(note.text)}"
                ),
            )
            self._chart(mid, f"{mid}: {note.text[:60]}")
        elif note.kind in (Note.STALL, Note.FAILURE):
            channel, _ts = self._where(mid)
            mark = ":warning:" if note.kind == Note.STALL else ":x:"
            said = blocks.escape(note.text)
            self.client.chat_postMessage(
                channel=channel, text=blocks.clip(f"{mark} {blocks.code(mid)}: {said}")
            )
            self._thread_say(mid, f"{mark} {said}")
        elif note.kind == Note.COMPLETED:
            self.post_report(mid)

    def post_report(self, migration_id: str) -> None:
        data = report.report(self.store, migration_id)
        approvals = (
            "\n".join(
                f"• {a['step']} {a['decision']} by {blocks.mention(a['actor'])} via {a['via']} "
                f"(version {a['version']})"
                for a in data["approvals"]
            )
            or "• none"
        )
        verify = data.get("verify") or {}
        handover = blocks.escape(data.get("handover") or "—")
        text = (
            f"*Report for {blocks.code(migration_id)}*: {data['status']} at "
            f"{blocks.code(data['step'])}"
            + (f" ({blocks.escape(data['reason'])})" if data.get("reason") else "")
            + "\n"
            f"*Approvals*\n{approvals}\n*Handover*: {handover}\n"
            f"*Verify*: {verify.get('partitions', '—')} partition(s), differences: "
            f"{len(verify.get('differences', [])) if verify else '—'}"
        )
        self._thread_say(migration_id, text)
        self._chart(migration_id, f"{migration_id}: lag over the migration")
