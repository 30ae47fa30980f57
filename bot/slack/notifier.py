"""The Slack side of the notification port: the card, its thread, gate requests, alerts, charts.

The engine's tick must not wait for Slack: notifications go to a queue and one worker thread
sends them. Card updates are coalesced: many changes within `card_interval` seconds become one
`chat.update` of the card's latest state. Nothing is lost to a rate limit or an outage: each
notification becomes sends in its migration's lane (bot/slack/retrying.py), retried with backoff
in order, each done once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.migration import view
from bot.migration.notify import Notification, NotificationKind
from bot.migration.steps import GATES, INFO, Status, Step
from bot.migration.store import Store
from bot.models import GateMessage
from bot.slack import blocks
from bot.slack.chart import lag_chart
from bot.slack.retrying import Backoff, Lanes, Send, describe

log = logging.getLogger(__name__)
# what Slack answers when the bot may not post in a channel
UNPOSTABLE = {"channel_not_found", "not_in_channel", "is_archived", "restricted_action"}


@dataclass(frozen=True)
class Work:
    """What the worker is handed: sends for a migration's lane; whether its card changed."""

    migration_id: str
    what: str
    sends: list[Send]
    card_changed: bool = True


class SlackNotifier:
    def __init__(
        self,
        client: WebClient,
        store: Store,
        channel: str,
        approvers: list[str],
        card_interval: float = 2.0,
        backoff: Backoff | None = None,
    ):
        self.client = client
        self.store = store
        self.channel = channel
        self.approvers = approvers
        self.card_interval = card_interval
        self._inbox: queue.Queue[Work | None] = queue.Queue()  # None: close() wakes the worker
        self._lanes = Lanes(backoff)
        self._dirty: set[str] = set()  # migrations whose card is behind (worker thread only)
        self._last_card: dict[str, float] = {}
        self._card_lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slack-notifier", daemon=True)
        self._thread.start()

    # the port ------------------------------------------------------------------------------
    def notify(self, notification: Notification) -> None:
        self._inbox.put(
            Work(
                notification.migration_id,
                f"{notification.kind} for {notification.migration_id}",
                self._sends(notification),
            )
        )

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """For tests and benchmarks: everything sent (no retry pending), no card update pending."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._inbox.unfinished_tasks == 0 and not self._dirty and not self._lanes.pending():
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        """Stop the worker (what is still pending is not sent)."""
        self._closed.set()
        self._inbox.put(None)  # the worker stops now, not at its next look at the inbox
        self._thread.join(timeout=30)

    # the worker ----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._closed.is_set():
            work = self._take(timeout=0.2)
            while work is not None:
                self._lanes.add(work.migration_id, work.what, work.sends)
                if work.card_changed:
                    self._dirty.add(work.migration_id)
                self._inbox.task_done()
                work = self._take()
            if self._closed.is_set():
                return
            self._lanes.run()
            self._flush_cards()

    def _take(self, timeout: float = 0.0) -> Work | None:
        """The next work in the inbox; None when none came within `timeout` or close() woke
        the worker."""
        try:
            work = self._inbox.get(timeout=timeout) if timeout else self._inbox.get_nowait()
        except queue.Empty:
            return None
        if work is None:
            self._inbox.task_done()
        return work

    def _flush_cards(self) -> None:
        now = time.monotonic()
        for migration_id in list(self._dirty):
            if now - self._last_card.get(migration_id, 0) < self.card_interval:
                continue
            if self._lanes.waiting(migration_id):  # Slack is in trouble: after the backoff
                continue
            self._last_card[migration_id] = now
            update = partial(self._update_card, migration_id)
            if self._lanes.attempt(migration_id, f"the card of {migration_id}", update):
                self._dirty.discard(migration_id)

    def _where(self, migration_id: str) -> tuple[str, str]:
        """(channel, card ts) of the migration; the card is posted on first use, in the channel
        the migration was started from, or else in the configured channel."""
        with self._card_lock:
            m = self.store.get(migration_id)
            if m.card_ts:
                return m.channel or self.channel, m.card_ts
            shown = view.migration_view(self.store, migration_id)
            candidates = list(dict.fromkeys(c for c in (m.channel, self.channel) if c))
            for i, channel in enumerate(candidates):
                try:
                    posted = self.client.chat_postMessage(
                        channel=channel,
                        text=f"Kafka migration {migration_id}",
                        blocks=blocks.as_dicts(blocks.card(shown)),
                    )
                except SlackApiError as exc:
                    if exc.response.get("error") not in UNPOSTABLE or i == len(candidates) - 1:
                        raise
                    log.warning(
                        "cannot post in %s (%s): trying %s", channel, describe(exc), candidates[-1]
                    )
                    continue
                self.store.set_card(migration_id, channel, posted["ts"])
                self._last_card[migration_id] = time.monotonic()
                return channel, posted["ts"]
            raise AssertionError("unreachable")

    def post_card(self, migration_id: str) -> str:
        """Post the card now (not in the worker); returns its channel. SlackApiError when it
        cannot be posted anywhere."""
        return self._where(migration_id)[0]

    def _card(self, migration_id: str) -> None:
        self._where(migration_id)

    def _update_card(self, migration_id: str) -> list[Send]:
        channel, ts = self._where(migration_id)
        shown = view.migration_view(self.store, migration_id)
        self.client.chat_update(
            channel=channel,
            ts=ts,
            text=f"Kafka migration {migration_id}",
            blocks=blocks.as_dicts(blocks.card(shown)),
        )
        return self._follow_gates(migration_id)

    def _follow_gates(self, migration_id: str) -> list[Send]:
        """Gate requests whose gate is no longer open lose their buttons and say why."""
        m = self.store.get(migration_id)
        closing = []
        for message in self.store.open_gate_messages(migration_id):
            at_step = m.step == message.step
            if m.status == Status.ACTIVE and at_step and m.state.round_at(m.step, message.version):
                continue  # still open
            if m.status in (
                Status.CANCELLED,
                Status.COMPLETE,
                Status.ROLLED_BACK,
                Status.FAILED,
                Status.PAUSED,
            ):
                why = f"the migration is {m.status}" + (f" ({m.reason})" if m.reason else "")
            elif at_step and (gate := m.state.round_at(m.step)):
                why = f"expired; a new request (version {gate.version}) replaces it"
            else:
                why = f"the migration moved to {m.step}"
            closing += self._close(
                [message], why, partial(self._show_closed, why=why, follows=False)
            )
        return closing

    # gate requests: closed in the store once, then their message updated (retried if need be)
    def _close(self, messages: list[GateMessage], why: str, show: Callable) -> list[Send]:
        return [
            partial(show, message)
            for message in messages
            if self.store.close_gate_message(message.channel, message.ts, why)
        ]

    def _show_closed(self, message: GateMessage, why: str, follows: bool) -> None:
        self.client.chat_update(
            channel=message.channel,
            ts=message.ts,
            text=blocks.clip(f"closed: {blocks.escape(why)}"),
            blocks=blocks.as_dicts(blocks.closed(message.text, why, follows)),
        )

    def _show_decided(self, message: GateMessage, decision: str, actor: str) -> None:
        self.client.chat_update(
            channel=message.channel,
            ts=message.ts,
            text=f"{message.step} {decision} by {actor}",
            blocks=blocks.as_dicts(blocks.decided(message.text, decision, actor)),
        )

    def _gate_closed(self, migration_id: str, why: str) -> list[Send]:
        show = partial(self._show_closed, why=why, follows=True)
        return self._close(self.store.open_gate_messages(migration_id), why, show)

    def _gate_approved(self, migration_id: str, step: str, actor: str) -> list[Send]:
        requests = [g for g in self.store.open_gate_messages(migration_id) if g.step == step]
        show = partial(self._show_decided, decision="approved", actor=actor)
        return self._close(requests, f"approved by {actor}", show)

    def gate_decided(self, message: GateMessage, decision: str, actor: str) -> None:
        """The gate request after the decision that closed it: who and when, no buttons (sent by
        the worker, after what the migration already has to say)."""
        show = partial(self._show_decided, decision=decision, actor=actor)
        sends = self._close([message], f"{decision} by {actor}", show)
        if sends:
            what = f"{message.step} {decision} for {message.migration_id}"
            self._inbox.put(Work(message.migration_id, what, sends, card_changed=False))

    def _post_gate_request(self, migration_id: str, text: str) -> None:
        channel, _ts = self._where(migration_id)
        shown = view.migration_view(self.store, migration_id)
        title = INFO[Step(shown.step)].title
        gate_blocks = blocks.gate_request(shown, title, self.approvers, text)
        posted = self.client.chat_postMessage(
            channel=channel,
            text=f"{title} ({migration_id})",
            blocks=blocks.as_dicts(gate_blocks),
        )
        self.store.add_gate_message(
            GateMessage(
                channel=channel,
                ts=posted["ts"],
                migration_id=migration_id,
                step=shown.step,
                version=shown.version,
                text=gate_blocks[0].text.text,
            )
        )

    # messages ------------------------------------------------------------------------------
    def _thread_say(self, migration_id: str, text: str) -> None:
        channel, ts = self._where(migration_id)
        self.client.chat_postMessage(channel=channel, thread_ts=ts, text=blocks.clip(text))

    def _channel_say(self, migration_id: str, text: str) -> None:
        channel, _ts = self._where(migration_id)
        self.client.chat_postMessage(channel=channel, text=blocks.clip(text))

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

    def _sends(self, notification: Notification) -> list[Send]:
        """What a notification asks of Slack, as sends done in order, each once; nothing is read
        before its turn."""
        mid, said = notification.migration_id, blocks.escape(notification.text)
        if notification.kind == NotificationKind.CARD_CHANGED:
            return [partial(self._card, mid)]
        if notification.kind == NotificationKind.GATE_OPENED:
            return [partial(self._post_gate_request, mid, notification.text)]
        if notification.kind == NotificationKind.GATE_CLOSED:
            return [
                partial(self._gate_closed, mid, notification.text),
                partial(self._thread_say, mid, f":leftwards_arrow_with_hook: {said}"),
            ]
        if notification.kind == NotificationKind.STEP_DONE:
            sends = [partial(self._thread_say, mid, f":white_check_mark: {said}")]
            if notification.step in GATES and notification.data.get("actor"):
                sends.insert(
                    0,
                    partial(
                        self._gate_approved, mid, notification.step, notification.data["actor"]
                    ),
                )
            return sends
        if notification.kind == NotificationKind.LAG_ZERO:
            return [
                partial(self._channel_say, mid, f":checkered_flag: {blocks.code(mid)}: {said}"),
                partial(self._chart, mid, f"{mid}: {notification.text[:60]}"),
            ]
        if notification.kind in (
            NotificationKind.STALL,
            NotificationKind.FAILURE,
            NotificationKind.ALERT,
        ):
            mark = ":x:" if notification.kind == NotificationKind.FAILURE else ":warning:"
            return [
                partial(self._channel_say, mid, f"{mark} {blocks.code(mid)}: {said}"),
                partial(self._thread_say, mid, f"{mark} {said}"),
            ]
        if notification.kind == NotificationKind.COMPLETED:
            return self._report(mid)
        return []

    # the report ----------------------------------------------------------------------------
    def post_report(self, migration_id: str) -> None:
        """Post the report now (not in the worker): `/kafka-migrate report`."""
        for send in self._report(migration_id):
            send()

    def _report(self, migration_id: str) -> list[Send]:
        return [
            partial(self._say_report, migration_id),
            partial(self._chart, migration_id, f"{migration_id}: lag over the migration"),
        ]

    def _say_report(self, migration_id: str) -> None:
        self._thread_say(migration_id, blocks.report_text(view.report(self.store, migration_id)))
