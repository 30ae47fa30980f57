"""The moves of connectors between two Connect clusters, each idempotent (a step calls it again
at every poll, and after a restart): stop, create the copy STOPPED, copy the offsets, resume,
and the way back (restore the old ones as they were, delete the copies).

Source connectors' offsets (their own terms: a file and a position, a binlog position...) are
copied through Connect's offsets API; sink connectors' are their consumer group's committed
offsets, which the migration's exact handover carries like any other group's.
"""

from __future__ import annotations

import json
import time

from bot.connect.plan import mask, target_config
from bot.connect.rest import ConnectError, ConnectorState, ConnectRest, Offsets
from bot.kafka.naming import TopicNaming

READ_BACK_WAIT = 10.0  # seconds a PATCHed offset may take to be read back (the worker's topic)


def gone(rest: ConnectRest, name: str) -> ConnectError:
    """A connector a worker does not know: a worker that just started has not read its
    connectors back yet (it passes), or someone deleted it (the patience runs out)."""
    return ConnectError(
        f"connector {name} is not on Kafka Connect {rest.name} (its worker restarting, or the "
        "connector deleted?)",
        retriable=True,
    )


def states(rest: ConnectRest, names: list[str]) -> dict[str, ConnectorState]:
    """Each connector's status; one the worker does not know (yet) is a `gone` error."""
    out = {name: rest.status(name) for name in names}
    for name, state in out.items():
        if state.state == "MISSING":
            raise gone(rest, name)
    return out


def stop(rest: ConnectRest, names: list[str]) -> dict[str, ConnectorState]:
    """Ask each connector not yet STOPPED to stop; their states as seen before asking."""
    seen = states(rest, names)
    for name, state in seen.items():
        if state.state != "STOPPED":
            rest.stop(name)
    return seen


def not_stopped(rest: ConnectRest, names: list[str]) -> list[str]:
    """Those not STOPPED with every task gone yet (the stop commits their last offsets)."""
    return [name for name in names if not rest.status(name).stopped]


def ensure_copy(
    old: ConnectRest,
    new: ConnectRest,
    name: str,
    naming: TopicNaming,
    registry: tuple[str, str] | None,
) -> bool:
    """Create `name` on `new`, STOPPED, with the target config of its config on `old`.
    True if created now; False if this copy was there already (a restart); an existing
    connector with another config is an error (someone else's, or changed by hand)."""
    source_config = old.config(name)
    if source_config is None:
        raise gone(old, name)
    config, _dropped, _mapped, _providers = target_config(source_config, naming, registry)
    if new.create(name, config, "STOPPED"):
        return True
    present = {k: v for k, v in (new.config(name) or {}).items() if k != "name"}
    if present != config:
        changed = sorted(k for k in set(present) | set(config) if present.get(k) != config.get(k))
        raise ConnectError(
            f"connector {name} exists on Kafka Connect {new.name} with another config "
            f"({', '.join(changed[:5])}: {mask({k: str(present.get(k)) for k in changed[:5]})}):"
            " delete it there or leave it out with connectors_exclude="
        )
    return False


def _canonical(offsets: Offsets) -> list[str]:
    return sorted(json.dumps(o, sort_keys=True) for o in offsets)


def copy_offsets(old: ConnectRest, new: ConnectRest, name: str) -> Offsets:
    """Write `name`'s offsets on `old` (STOPPED: they no longer move) to its STOPPED copy on
    `new`, then read them back until they compare equal. Returns the offsets copied."""
    offsets = old.offsets(name)
    if not offsets:
        return []  # never committed: the copy starts as a new connector would
    wanted = _canonical(offsets)
    if _canonical(new.offsets(name)) == wanted:
        return offsets  # copied before a restart
    new.alter_offsets(name, offsets)
    deadline = time.monotonic() + READ_BACK_WAIT
    while True:
        got = _canonical(new.offsets(name))
        if got == wanted:
            return offsets
        if time.monotonic() > deadline:
            raise ConnectError(
                f"connector {name}: the offsets written on Kafka Connect {new.name} read back "
                f"as {got[:3]}, not {wanted[:3]}",
                retriable=True,
            )
        time.sleep(0.2)


def resume(rest: ConnectRest, names: list[str]) -> dict[str, ConnectorState]:
    """Resume each connector not running yet; the states after."""
    states = {}
    for name in names:
        state = rest.status(name)
        if state.state in ("STOPPED", "PAUSED"):
            rest.resume(name)
            state = rest.status(name)
        states[name] = state
    return states


def restore(rest: ConnectRest, before: dict[str, str]) -> list[str]:
    """Put each stopped connector back as it was before (RUNNING or PAUSED); what was done."""
    done = []
    for name, state in before.items():
        now = rest.status(name).state
        if now == "MISSING":
            raise gone(rest, name)
        if state == "PAUSED":
            if now != "PAUSED":
                rest.pause(name)
            done.append(f"{name} PAUSED again")
        elif now in ("STOPPED", "PAUSED"):
            rest.resume(name)
            done.append(f"{name} resumed")
    return done
