"""The runbook's Aiven parts, for a replicator that has them (bot.replicators.aiven): its
preflight findings, and the MM2 service brought to RUNNING without blocking a tick.
Other replicators have neither (the Replicator base answers no findings and no service), and
these change nothing for them."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.migration.context import Context, Result


@dataclass
class Findings:
    lines: list[str] = field(default_factory=list)  # every finding, "ok: ...", "warning: ..."
    warnings: list[str] = field(default_factory=list)
    problem: Result | None = None  # the step fails with this

    def report(self) -> str:
        """The lines for the preflight report (nothing without findings)."""
        return "".join(f"\n• Aiven: {line}" for line in self.lines)


def preflight(ctx: Context) -> Findings:
    found = ctx.replicator.preflight_findings(ctx.flow, schemas=ctx.registries is not None)
    lines = [str(f) for f in found]
    problems = [f.text for f in found if not f.ok]
    warnings = [f.text for f in found if f.ok and f.warning]
    problem = None
    if problems:
        problem = Result.failed(
            f"{len(problems)} problem(s) on Aiven; fix them, then retry: " + "; ".join(problems),
            aiven=lines,
        )
    return Findings(lines, warnings, problem)


def prepare(ctx: Context) -> Result | None:
    """None when the MM2 service is RUNNING (or there is no such service to wait for); else
    the step waits and says in which state the service is."""
    svc = ctx.replicator.prepare(wait=False)
    if svc is None:
        return None
    state = svc.get("state")
    if state == "RUNNING":
        ctx.state.mm2_service = ctx.replicator.where
        return None
    return Result.waiting(
        f"{ctx.replicator.where} is {state}; waiting until it is RUNNING "
        "(Aiven takes minutes to build a new service)"
    )
