"""Schema migration with schema-id parity.

Records keep their bytes through MirrorMaker 2, and a serialized record names the source
registry's schema id in its first five bytes (magic byte 0, then the id). The target registry
must therefore hold every (subject, version) under the SAME id:

- plan: the subjects of the selected topics (TopicNameStrategy `<topic>-key`/`<topic>-value`,
  or every `<topic>-*` subject with TopicRecordNameStrategy, plus extra subjects), every live
  version with its id, what they reference (recursively), soft-deleted versions (skipped and
  reported); against the target: present (same schema, same id), to create, or a conflict
  (same schema under another id, another schema under that version or that id).
- apply: the subject's compatibility level first, then, where the target takes IMPORT mode,
  every version with its source id and version number (references first, then ascending id),
  and the mode back; elsewhere a normal registration. The id the target answers is always
  compared with the source's (an older Karapace ignores the id it is sent).
- parity: every (subject, version) -> id equal on both sides; the cutover gates check it.
- sample: schema ids read from records on the target resolve to the same schema there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.schemas.client import Registry, RegistryError, Version, canonical

STRATEGIES = ("topic", "topic_record")
NO_IMPORT = {404, 405, 422, 501}  # what a registry without IMPORT mode answers to PUT /mode


@dataclass
class Item:
    source: Version
    action: str  # present | create | conflict
    why: str = ""

    def line(self) -> str:
        v = self.source
        what = f"{v.subject} v{v.version} id {v.id}"
        return f"{what}: {self.action}" + (f" ({self.why})" if self.why else "")


@dataclass
class SchemaPlan:
    items: list[Item] = field(default_factory=list)  # in the order they are applied
    skipped: list[Version] = field(default_factory=list)  # soft-deleted on the source
    levels: dict[str, str] = field(default_factory=dict)  # subject -> source compatibility
    subjects: list[str] = field(default_factory=list)

    @property
    def conflicts(self) -> list[Item]:
        return [i for i in self.items if i.action == "conflict"]

    def summary(self) -> dict[str, int]:
        counts = {"subjects": len(self.subjects), "versions": len(self.items)}
        for action in ("present", "create", "conflict"):
            counts[action] = sum(i.action == action for i in self.items)
        counts["soft_deleted_skipped"] = len(self.skipped)
        return counts

    def lines(self) -> list[str]:
        out = [i.line() for i in self.items]
        out += [f"{v.subject} v{v.version} id {v.id}: soft-deleted, skipped" for v in self.skipped]
        return out


def subjects_for(
    source: Registry, topics: Iterable[str], strategy: str = "topic", extra: Iterable[str] = ()
) -> list[str]:
    """The source subjects of these topics that exist, plus the extra ones (which must)."""
    known = set(source.subjects())
    wanted: list[str] = []
    for topic in topics:
        if strategy == "topic_record":
            wanted += sorted(s for s in known if s.startswith(f"{topic}-"))
        else:
            wanted += [s for s in (f"{topic}-key", f"{topic}-value") if s in known]
    missing = [s for s in extra if s not in known]
    if missing:
        raise RegistryError(
            f"schema registry {source.name} has no subject {', '.join(missing)} (extra subjects)"
        )
    return list(dict.fromkeys([*wanted, *extra]))


def _source_versions(source: Registry, subjects: list[str]) -> tuple[list[Version], list[Version]]:
    """(live versions of the subjects and of everything they reference, soft-deleted ones)."""
    live: dict[tuple[str, int], Version] = {}
    skipped: list[Version] = []
    todo, seen = list(subjects), set()
    while todo:
        subject = todo.pop(0)
        if subject in seen:
            continue
        seen.add(subject)
        current = set(source.versions(subject))
        for number in source.versions(subject, deleted=True):
            v = source.version(subject, number, deleted=True)
            if v is None:
                continue
            if number not in current:
                skipped.append(v)
                continue
            live[(subject, number)] = v
            todo += [ref_subject for _n, ref_subject, _v in v.references]
    return _ordered(list(live.values())), skipped


def _ordered(versions: list[Version]) -> list[Version]:
    """Ascending source id, each version after what it references."""
    by_key = {(v.subject, v.version): v for v in versions}
    out: list[Version] = []
    placed: set[tuple[str, int]] = set()

    def place(v: Version) -> None:
        key = (v.subject, v.version)
        if key in placed:
            return
        placed.add(key)
        for _name, subject, number in v.references:
            if (subject, number) in by_key:
                place(by_key[(subject, number)])
        out.append(v)

    for v in sorted(versions, key=lambda v: (v.id, v.subject, v.version)):
        place(v)
    return out


def plan_schemas(
    source: Registry,
    target: Registry,
    topics: Iterable[str],
    *,
    strategy: str = "topic",
    extra: Iterable[str] = (),
) -> SchemaPlan:
    subjects = subjects_for(source, topics, strategy, extra)
    versions, skipped = _source_versions(source, subjects)
    plan = SchemaPlan(skipped=skipped, subjects=sorted({v.subject for v in versions}))
    default = source.compatibility() or "BACKWARD"
    for subject in plan.subjects:
        plan.levels[subject] = source.compatibility(subject) or default
    for v in versions:
        plan.items.append(_compare(target, v))
    return plan


def _compare(target: Registry, v: Version) -> Item:
    there = target.version(v.subject, v.version)
    if there is not None:
        if there.canonical != v.canonical:
            return Item(v, "conflict", f"version {v.version} holds another schema on the target")
        if there.id != v.id:
            return Item(v, "conflict", f"the target holds it under id {there.id}")
        return Item(v, "present")
    taken = target.by_id(v.id)
    if taken is not None and canonical(*taken) != v.canonical:
        return Item(v, "conflict", f"id {v.id} is another schema on the target")
    return Item(v, "create")


@dataclass
class Applied:
    imported: bool  # the target took ids (IMPORT mode)
    registered: list[Item] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # registered under another id


def apply_schemas(
    target: Registry,
    plan: SchemaPlan,
    record: Callable[[list[list]], None] = lambda _created: None,
    created: list[list] | None = None,
) -> Applied:
    """Create what the plan says, ids preserved where the target allows it. `record` is called
    with every (subject, version, id) BEFORE it is registered (a cleanup deletes exactly those);
    `created` is what earlier runs recorded: a version of ours that the target holds under
    another id (registered before IMPORT was possible) is deleted and imported again."""
    created = [list(c) for c in created or []]
    ours = {(s, int(v)) for s, v, _id in created}
    todo = [i for i in plan.items if i.action == "create"]
    redo = [
        i
        for i in plan.conflicts
        if (i.source.subject, i.source.version) in ours and "under id" in i.why
    ]
    if not todo and not redo:
        return Applied(imported=True)
    subjects = list(dict.fromkeys(i.source.subject for i in [*redo, *todo]))
    for subject in subjects:  # before registering: a stricter target level must not refuse
        if target.compatibility(subject) != plan.levels.get(subject):
            target.set_compatibility(plan.levels[subject], subject)
    imported = _import_mode(target, subjects)
    done = Applied(imported=imported)
    try:
        if redo and not imported:
            done.mismatched += [f"{i.source.subject} v{i.source.version}: {i.why}" for i in redo]
        for item in reversed(redo) if imported else []:  # what references another goes first
            target.delete_version(item.source.subject, item.source.version)
            todo.append(item)
        for item in _in_order(plan, todo):
            v = item.source
            if [v.subject, v.version, v.id] not in created:
                created.append([v.subject, v.version, v.id])
                record(created)
            got = target.register(v, with_id=imported)
            done.registered.append(item)
            if got != v.id:
                done.mismatched.append(
                    f"{v.subject} v{v.version}: registered under id {got}, source id {v.id}"
                )
    finally:
        if imported:
            for subject in subjects:
                target.clear_mode(subject)
    return done


def _in_order(plan: SchemaPlan, items: list[Item]) -> list[Item]:
    wanted = {(i.source.subject, i.source.version) for i in items}
    return [i for i in plan.items if (i.source.subject, i.source.version) in wanted]


def _import_mode(target: Registry, subjects: list[str]) -> bool:
    """Put the subjects in IMPORT mode; False when the registry has no IMPORT mode."""
    try:
        for subject in subjects:
            target.set_mode("IMPORT", subject, force=True)
    except RegistryError as exc:
        if exc.status in NO_IMPORT or exc.code in (42205, 40409):
            for subject in subjects:
                with contextlib.suppress(RegistryError):
                    target.clear_mode(subject)
            return False
        raise
    return True


def parity(source: Registry, target: Registry, plan: SchemaPlan) -> list[str]:
    """Every (subject, version) whose id or schema differs on the target ('' list: parity)."""
    broken = []
    for item in plan.items:
        v = item.source
        there = target.version(v.subject, v.version)
        if there is None:
            broken.append(f"{v.subject} v{v.version} (id {v.id}) is missing on the target")
        elif there.id != v.id or there.canonical != v.canonical:
            broken.append(
                f"{v.subject} v{v.version}: target id {there.id}, source id {v.id}"
                + ("" if there.canonical == v.canonical else " (another schema)")
            )
    return broken


FIXES = (
    "records name the source ids, so consumers on the target would decode them with the wrong "
    "schema or fail. Fix: a target registry with IMPORT mode (Karapace 6.2.4 or later, "
    "Confluent with mode.mutability=true), or an empty target registry; then retry"
)


def schema_ids(values: Iterable[bytes | None]) -> set[int]:
    """Schema ids named by serialized records (magic byte 0 + 4-byte big-endian id)."""
    return {
        int.from_bytes(value[1:5], "big")
        for value in values
        if value is not None and len(value) >= 5 and value[0] == 0
    }


def same_schemas(source: Registry, target: Registry, ids: Iterable[int]) -> list[str]:
    """The ids that the target resolves to another schema than the source (or not at all)."""
    differ = []
    for schema_id in sorted(ids):
        here, there = source.by_id(schema_id), target.by_id(schema_id)
        if here is None:
            continue  # not a schema of the source registry: not ours to judge
        if there is None or canonical(*there) != canonical(*here):
            differ.append(
                f"id {schema_id}: " + ("unknown on the target" if there is None else "differs")
            )
    return differ
