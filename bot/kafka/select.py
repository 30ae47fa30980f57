"""Topic selection with MirrorMaker 2's semantics.

`topics` and `exclude` are comma-separated lists of Java regexes (as MM2's `topics` and
`topics.exclude`); a topic is selected when some allow item matches its whole name and no
deny item does. Internal topics (Kafka's, Connect's, MM2's, Schema Registry's) are left out
unless an allow item names them literally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.errors import UserError
from bot.kafka.javaregex import compile_java

INTERNAL_NAMES = frozenset(
    {
        "__consumer_offsets",
        "__transaction_state",
        "__share_group_state",
        "__cluster_metadata",
        "_schemas",
        "heartbeats",
        "connect-configs",
        "connect-offsets",
        "connect-status",
    }
)
# MM2's own topics end in .internal (offset syncs, checkpoints, mm2-offsets/configs/status),
# remote heartbeats are <alias>.heartbeats, Kafka-internal ones start with "__".
INTERNAL_PATTERNS = (
    re.compile(r"__.*"),
    re.compile(r".*[.-]internal"),
    re.compile(r".*\.replica"),
    re.compile(r"(.+\.)?heartbeats"),
    re.compile(r"mm2-(offsets|configs|status)\..*"),
    re.compile(r"_confluent.*"),
)
_META = set("\\^$.|?*+()[]{}")


def is_internal(topic: str) -> bool:
    return topic in INTERNAL_NAMES or any(p.fullmatch(topic) for p in INTERNAL_PATTERNS)


def is_literal(item: str) -> bool:
    return not (_META & set(item))


def split_list(text: str, key: str) -> list[str]:
    """Split an MM2 list (commas, surrounding blanks trimmed) and reject a comma cut inside {}."""
    items = [item.strip() for item in text.split(",")] if text.strip() else []
    for index, item in enumerate(items):
        if item.count("{") > item.count("}"):
            joined = item + "," + items[index + 1] if index + 1 < len(items) else item
            raise UserError(
                f"{key}: {joined!r} contains a comma inside {{...}}; MM2 splits {key} on every "
                "comma, so write the repetition without a comma or use alternatives"
            )
    return [item for item in items if item]


def group_patterns(text: str) -> list[re.Pattern[str]]:
    """`groups_exclude`: comma-separated Java regexes, each matched against a whole group id."""
    return [compile_java(item) for item in split_list(text, "groups_exclude")]


def excluded_groups(groups: list[str], text: str) -> list[str]:
    patterns = group_patterns(text)
    return sorted(g for g in groups if any(p.fullmatch(g) for p in patterns))


@dataclass(frozen=True)
class Preview:
    selected: list[str]
    excluded: list[str]  # matched an allow item, then a deny item
    internal: list[str]  # matched an allow item, left out as internal
    unmatched: list[str] = field(default_factory=list)  # allow items that matched nothing


class TopicSelection:
    """The allow/deny lists of a migration, validated once, applied to topic names."""

    def __init__(self, topics: str, exclude: str = ""):
        self.topics_text = topics
        self.exclude_text = exclude
        self.allow = split_list(topics, "topics")
        self.deny = split_list(exclude, "exclude")
        if not self.allow:
            raise UserError(
                "topics: give at least one topic name or regex, e.g. topics=orders\\..*"
            )
        self._allow = [compile_java(item) for item in self.allow]
        self._deny = [compile_java(item) for item in self.deny]

    def __repr__(self) -> str:
        return f"TopicSelection(topics={self.topics_text!r}, exclude={self.exclude_text!r})"

    def _allowed_by(self, topic: str) -> list[str]:
        return [
            item for item, rx in zip(self.allow, self._allow, strict=True) if rx.fullmatch(topic)
        ]

    def matches(self, topic: str) -> bool:
        allowed = self._allowed_by(topic)
        if not allowed or any(rx.fullmatch(topic) for rx in self._deny):
            return False
        return not is_internal(topic) or any(item == topic for item in allowed)

    def preview(self, topics: list[str]) -> Preview:
        selected, excluded, internal = [], [], []
        used: set[str] = set()
        for topic in sorted(topics):
            allowed = self._allowed_by(topic)
            if not allowed:
                continue
            used.update(allowed)
            if any(rx.fullmatch(topic) for rx in self._deny):
                excluded.append(topic)
            elif is_internal(topic) and topic not in allowed:
                internal.append(topic)
            else:
                selected.append(topic)
        unmatched = [item for item in self.allow if item not in used]
        return Preview(selected, excluded, internal, unmatched)

    def resolve(self, topics: list[str]) -> list[str]:
        """The selected topics; an allow item naming a topic literally must find it."""
        preview = self.preview(topics)
        missing = [item for item in preview.unmatched if is_literal(item)]
        if missing:
            raise UserError(f"topics: no topic named {', '.join(map(repr, missing))} on the source")
        if not preview.selected:
            raise UserError(
                f"topics={self.topics_text!r}"
                + (f" exclude={self.exclude_text!r}" if self.exclude_text else "")
                + " selects no topic on the source"
            )
        return preview.selected
