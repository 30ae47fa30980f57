"""ETA, stalls and polling pace."""

from __future__ import annotations

from bot.kafka.fence import ProducerWatch
from bot.migration.pace import eta_seconds, poll_interval, stalled
from bot.migration.steps import BACK, CUTOVER, FORWARD, ORDER, Step, next_step, rollback_hint


def test_eta_by_regression():
    samples = [(0, 1000), (10, 900), (20, 800), (30, 700)]
    assert round(eta_seconds(samples)) == 70
    assert eta_seconds(samples[:2]) is None  # too few
    assert eta_seconds([(0, 5), (1, 6), (2, 7)]) is None  # growing
    assert eta_seconds([(0, 5), (1, 2), (2, 0)]) == 0.0


def test_stall_means_mm2_copies_nothing_while_records_wait():
    assert stalled([100, 100, 100], lag=50, polls=3)
    assert not stalled([100, 150, 200], lag=50, polls=3)  # hovering lag, but copying
    assert not stalled([100, 100, 100], lag=0, polls=3)
    assert not stalled([100, 100], lag=50, polls=3)


def test_poll_faster_near_zero():
    assert poll_interval(30, 50_000, "wait") == 30
    assert poll_interval(30, 500, "wait") == 15
    assert poll_interval(30, 0, "wait") == 7
    assert poll_interval(2, 0, "gate") == 1
    assert poll_interval(30, 50_000, "wait", cutover=1) == 1  # the cutover's own steps
    assert poll_interval(30, None, "auto", cutover=1) == 1


def test_cutover_steps_are_those_producers_stand_still_in():
    assert Step.PRODUCERS_STOPPED in CUTOVER and Step.HANDOVER_OFFSETS in CUTOVER
    assert Step.CONSUMERS_ON_TARGET in CUTOVER and Step.PRODUCERS_ON_TARGET not in CUTOVER
    assert Step.STOP_PRODUCERS not in CUTOVER and Step.CATCH_UP not in CUTOVER  # people, catch-up
    assert Step.REVERSE_DRAIN in CUTOVER and Step.PRODUCERS_ON_SOURCE not in CUTOVER


def test_a_visible_fence_proves_the_stop_over_a_few_looks_not_the_window():
    ends = {("t", 0): 5}
    watch = ProducerWatch(window_s=120, looks=3)
    assert not watch.observe(ends, now=0).quiet  # first sight
    assert not watch.observe(ends, now=1).quiet
    state = watch.observe(ends, now=2)
    assert state.quiet and state.looks == 3 and state.quiet_for_s == 2
    state = watch.observe({("t", 0): 6}, now=3)  # a write accepted before the fence landed
    assert not state.quiet and state.moved == [("t", 0)] and state.looks == 1
    unfenced = ProducerWatch(window_s=120)
    assert not any(unfenced.observe(ends, now=t).quiet for t in range(0, 120, 10))
    assert unfenced.observe(ends, now=120).quiet


def test_runbook_order_and_rollback_words():
    assert FORWARD[0] == Step.PREFLIGHT and FORWARD[-1] == Step.COMPLETE and len(FORWARD) == 18
    assert next_step(Step.DRAIN) == Step.CONSUMERS_STOPPED and next_step(Step.COMPLETE) is None
    # the soak ends in the migration's completion; finalize and rollback are asked for
    assert next_step(Step.SOAK) == Step.COMPLETE and next_step(Step.FINALIZE) == Step.COMPLETE
    assert BACK[0] == Step.ROLLBACK and next_step(Step.ROLLED_BACK) is None
    assert set(ORDER) == set(FORWARD) | set(BACK) | {Step.FINALIZE}
    assert "Nothing has moved" in rollback_hint(Step.CATCH_UP)
    assert "restart producers" in rollback_hint(Step.PRODUCERS_ON_TARGET)
    assert "replicating back" in rollback_hint(Step.VERIFY)
    assert "`rollback` runs the cutover backwards" in rollback_hint(Step.SOAK, reverse=True)
    assert "Rolling back" in rollback_hint(Step.REVERSE_DRAIN)


def test_a_large_backlog_is_counted_from_offsets_and_its_small_rest_exactly():
    from bot.kafka.records import EXACT_BELOW, EXACT_BUDGET, split_exact

    many = {("t", p): (0, 8_000) for p in range(60)}  # 480,000 offsets behind
    small, large = split_exact(many)
    assert sum(hi - lo for lo, hi in small.values()) <= EXACT_BUDGET and len(small) == 6
    assert set(small) | set(large) == set(many) and not set(small) & set(large)
    tail = {("t", 0): (0, 7), ("t", 1): (5, EXACT_BELOW + 6), ("t", 2): (3, 40)}
    small, large = split_exact(tail)  # smallest first; one range too large to read
    assert list(small) == [("t", 0), ("t", 2)] and list(large) == [("t", 1)]
