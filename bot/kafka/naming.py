"""How MirrorMaker 2 names a flow's topics on the target: `TopicNaming`, the replication policy
and the source cluster's alias, which always travel together."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import UserError
from bot.kafka.cluster import TP

POLICIES = ("identity", "default")


@dataclass(frozen=True)
class TopicNaming:
    """Identity keeps a source topic's name on the target; Default prefixes the source alias."""

    replication_policy: str = "identity"  # identity | default
    source_alias: str = "source"

    def __post_init__(self) -> None:
        if self.replication_policy not in POLICIES:
            raise UserError(
                f"replication_policy: {self.replication_policy!r} is not one of "
                + ", ".join(POLICIES)
            )

    def target_name(self, topic: str) -> str:
        """The target name MM2 gives a source topic."""
        if self.replication_policy == "default":
            return f"{self.source_alias}.{topic}"
        return topic

    def target_partition(self, tp: TP) -> TP:
        """The target partition a source partition is copied to."""
        return (self.target_name(tp[0]), tp[1])

    @property
    def checkpoints_topic(self) -> str:
        """MM2's checkpoints topic on the target (both policies name it after the alias)."""
        return f"{self.source_alias}.checkpoints.internal"


IDENTITY_NAMING = TopicNaming()  # the default: every target topic named as on the source
