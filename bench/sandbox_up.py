"""How long `sandbox up` takes and what its JVMs weigh: up, measure, down, N times.

Prints per run the seconds from `up` called to every process ready (the jars already fetched)
and the RSS of each process (MiB) once up; then the median seconds.

    .venv/bin/python -m bench.sandbox_up [--runs 3] [--dir /tmp/km-bench-sandbox]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bot import sandbox as sandbox_mod
from bot.sandbox import jars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", default="/tmp/km-bench-sandbox")
    args = parser.parse_args()
    jars.fetch()
    seconds = []
    for run in range(1, args.runs + 1):
        started = time.monotonic()
        box = sandbox_mod.up(args.dir, log=lambda *_: None)
        seconds.append(time.monotonic() - started)
        try:
            rss = ", ".join(f"{name} {mib:.0f}" for name, mib in box.rss_mib().items() if mib)
            print(f"run {run}: up in {seconds[-1]:.1f}s; RSS MiB: {rss}", flush=True)
        finally:
            sandbox_mod.down(args.dir, log=lambda *_: None)
    print(f"median up: {statistics.median(seconds):.1f}s over {len(seconds)} runs")


if __name__ == "__main__":
    main()
