"""The pace of a migration: ETA from lag samples, stall detection, and how often to poll."""

from __future__ import annotations

from collections.abc import Sequence


def eta_seconds(samples: Sequence[tuple[float, int]], window: int = 20) -> float | None:
    """Seconds until lag reaches 0, by least squares over the last `window` (time, lag) samples.

    None when there are too few samples or lag is not falling.
    """
    points = list(samples)[-window:]
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_l = sum(lag for _, lag in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    slope = sum((t - mean_t) * (lag - mean_l) for t, lag in points) / var
    latest_t, latest_lag = points[-1]
    if latest_lag == 0:
        return 0.0
    if slope >= 0:
        return None
    return latest_lag / -slope


def stalled(copied: Sequence[int], lag: int, polls: int) -> bool:
    """Lag above zero while MM2's copied position has not moved over the last `polls` polls.

    `copied` is the sum over partitions of MM2's next offset to copy, one value per poll. A lag
    that merely hovers under a live producer is progress, not a stall.
    """
    recent = list(copied)[-polls:]
    return lag > 0 and len(recent) >= polls and recent[-1] <= recent[0]


def poll_interval(base: int, lag: int | None, step_kind: str, cutover: int | None = None) -> int:
    """Poll faster as lag nears zero and while waiting on people during the cutover; at
    `cutover` seconds during the cutover's own steps (producers stand still meanwhile)."""
    if cutover is not None:
        return min(base, cutover)
    if lag is not None and lag == 0:
        return max(1, base // 4)
    if step_kind == "wait" and lag is not None and lag < 1000:
        return max(1, base // 2)
    return base
