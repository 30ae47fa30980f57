"""The lag chart: replication (and consumer) lag over time, as a PNG."""

from __future__ import annotations

import io
from datetime import datetime


def lag_chart(samples: list[tuple[datetime, int | None, int | None]], title: str) -> bytes:
    """samples: (time, replication lag, consumer lag). Returns PNG bytes. matplotlib is
    imported here, when a chart is drawn: it is slow to import and most processes never draw."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
    try:
        times = [s[0] for s in samples]
        replication = [s[1] for s in samples]
        consumer = [s[2] for s in samples]
        if any(v is not None for v in replication):
            ax.plot(
                times,
                [v if v is not None else float("nan") for v in replication],
                label="replication lag (records)",
                color="#2a6fdb",
            )
        if any(v is not None for v in consumer):
            ax.plot(
                times,
                [v if v is not None else float("nan") for v in consumer],
                label="consumer lag (records)",
                color="#e07b00",
            )
        if not samples:
            ax.text(
                0.5, 0.5, "no lag measured yet", ha="center", va="center", transform=ax.transAxes
            )
        ax.set_title(title)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if samples:
            ax.legend(loc="upper right")
        fig.autofmt_xdate()
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)
