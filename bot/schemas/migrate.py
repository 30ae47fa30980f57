"""Schema migration with schema-id parity.

Records keep their bytes through MirrorMaker 2, and a serialized record names the source
registry's schema id in its first five bytes (magic byte 0, then the id). The target registry
must therefore hold every (subject, version) under the SAME id:

- plan: the subjects of the selected topics (TopicNameStrategy `<topic>-key`/`<topic>-value`,
  or every `<topic>-*` subject with TopicRecordNameStrategy, plus extra subjects), every
  version with its id, what they reference (recursively), and the version numbers missing on
  the source (hard-deleted: gone with their ids, reported); against the target: present (same
  schema, same id), to create, or a conflict (same schema under another id, another schema
  under that version or that id).
- soft-deleted versions are carried too: old records still name their ids and the source
  still resolves `GET /schemas/ids/{id}` for them. They are imported with their ids, then
  soft-deleted on the target, so the id resolves there as on the source and no later
  registration can take it (Confluent and Karapace never hand out an id they hold, deleted or
  not). Without IMPORT mode they cannot be carried: parity says so and the gates stay closed.
- apply: the subject's compatibility level first, then, where the target takes IMPORT mode,
  every version with its source id and version number (references first, then ascending id),
  the soft deletes (referrers first), and the mode back; elsewhere a normal registration of
  the live versions. The id the target answers is always compared with the source's (an older
  Karapace ignores the id it is sent).
- parity: every (subject, version) -> id equal on both sides; the cutover gates check it.
- sample: schema ids read from records on the target resolve to the same schema there; ids
  in records that the source itself no longer resolves are named (hard-deleted schemas).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from bot.schemas.client import Registry, RegistryError, Version, canonical

STRATEGIES = ("topic", "topic_record")
NO_IMPORT = {404, 405, 422, 501}  # what a registry without IMPORT mode answers to PUT /mode
HELD = "imported with its id, then soft-deleted there: the id stays held"
LIVE_HELD = "live on the target: the id is held"


@dataclass
class Item:
    source: Version  # source.deleted: soft-deleted on the source
    action: str  # present | create | conflict
    why: str = ""

    def label(self) -> str:
        v = self.source
        return f"{v.subject} v{v.version} id {v.id}" + (
            " (soft-deleted on the source)" if v.deleted else ""
        )

    def line(self) -> str:
        return f"{self.label()}: {self.action}" + (f" ({self.why})" if self.why else "")


@dataclass
class SchemaPlan:
    items: list[Item] = field(default_factory=list)  # in the order they are applied
    hard_deleted: list[tuple[str, int]] = field(default_factory=list)  # gone on the source
    levels: dict[str, str] = field(default_factory=dict)  # subject -> source compatibility
    subjects: list[str] = field(default_factory=list)

    @property
    def conflicts(self) -> list[Item]:
        return [i for i in self.items if i.action == "conflict"]

    @property
    def soft_deleted(self) -> list[Item]:
        return [i for i in self.items if i.source.deleted]

    def summary(self) -> dict[str, int]:
        counts = {"subjects": len(self.subjects), "versions": len(self.items)}
        for action in ("present", "create", "conflict"):
            counts[action] = sum(i.action == action for i in self.items)
        counts["soft_deleted"] = len(self.soft_deleted)
        counts["hard_deleted"] = len(self.hard_deleted)
        return counts

    def lines(self) -> list[str]:
        out = []
        if self.soft_deleted:
            out.append(
                f"{len(self.soft_deleted)} soft-deleted version(s) on the source, carried: "
                "imported with their ids and soft-deleted on the target, so their ids are held "
                "(old records decode, no new schema takes them)"
            )
        out += [i.line() for i in self.items]
        out += [
            f"{subject} v{number}: hard-deleted on the source (gone with its id: records that "
            "still name it decode on neither side)"
            for subject, number in self.hard_deleted
        ]
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


def _source_versions(
    source: Registry, subjects: list[str]
) -> tuple[list[Version], list[tuple[str, int]]]:
    """(every version of the subjects and of everything they reference, soft-deleted ones
    marked `deleted`; the version numbers missing on the source: hard-deleted)."""
    found: dict[tuple[str, int], Version] = {}
    hard: list[tuple[str, int]] = []
    todo, seen = list(subjects), set()
    while todo:
        subject = todo.pop(0)
        if subject in seen:
            continue
        seen.add(subject)
        current = set(source.versions(subject))
        numbers = source.versions(subject, deleted=True)
        hard += [(subject, n) for n in range(1, max(numbers, default=0)) if n not in numbers]
        for number in numbers:
            v = source.version(subject, number, deleted=True)
            if v is None:
                continue
            found[(subject, number)] = replace(v, deleted=number not in current)
            todo += [ref_subject for _n, ref_subject, _v in v.references]
    return _ordered(list(found.values())), hard


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
    versions, hard = _source_versions(source, subjects)
    plan = SchemaPlan(hard_deleted=hard, subjects=sorted({v.subject for v in versions}))
    default = source.compatibility() or "BACKWARD"
    for subject in plan.subjects:
        plan.levels[subject] = source.compatibility(subject) or default
    for v in versions:
        plan.items.append(_compare(target, v))
    return plan


def _compare(target: Registry, v: Version) -> Item:
    there = target.version(v.subject, v.version, deleted=v.deleted)
    if there is not None:
        if there.canonical != v.canonical:
            return Item(v, "conflict", f"version {v.version} holds another schema on the target")
        if there.id != v.id:
            return Item(v, "conflict", f"the target holds it under id {there.id}")
        if v.deleted and target.version(v.subject, v.version) is not None:
            return Item(v, "present", LIVE_HELD)
        return Item(v, "present", "soft-deleted there too: the id is held" if v.deleted else "")
    taken = target.by_id(v.id)
    if taken is not None and canonical(*taken) != v.canonical:
        return Item(v, "conflict", f"id {v.id} is another schema on the target")
    return Item(v, "create", HELD if v.deleted else "")


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
    another id (registered before IMPORT was possible) is deleted and imported again, and a
    soft-deleted one of ours left live (a run stopped between its import and its delete) is
    soft-deleted."""
    created = [list(c) for c in created or []]
    ours = {(s, int(v)) for s, v, _id in created}
    todo = [i for i in plan.items if i.action == "create"]
    redo = [
        i
        for i in plan.conflicts
        if (i.source.subject, i.source.version) in ours and "under id" in i.why
    ]
    hide = [
        i for i in plan.items if i.why == LIVE_HELD and (i.source.subject, i.source.version) in ours
    ]
    if not todo and not redo:
        for item in reversed(hide):
            target.soft_delete_version(item.source.subject, item.source.version)
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
        if not imported:  # a new id for a soft-deleted version would hold nothing
            lost = [i for i in todo if i.source.deleted]
            done.mismatched += [f"{i.label()}: not carried, the target takes no ids" for i in lost]
            todo = [i for i in todo if not i.source.deleted]
        for item in reversed(redo) if imported else []:  # what references another goes first
            target.delete_version(item.source.subject, item.source.version)
            todo.append(item)
        todo = _in_order(plan, todo)
        for item in todo:
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
        for item in reversed([*hide, *(i for i in todo if i.source.deleted)]):
            target.soft_delete_version(item.source.subject, item.source.version)
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
    """Every (subject, version) whose id or schema differs on the target ('' list: parity).
    A soft-deleted version is looked up among the target's soft-deleted ones too."""
    broken = []
    for item in plan.items:
        v = item.source
        there = target.version(v.subject, v.version, deleted=v.deleted)
        if there is None:
            held = ", soft-deleted on the source: its id must be held" if v.deleted else ""
            broken.append(
                f"{v.subject} v{v.version} (id {v.id}{held}) is missing on the target"
                + (f": {item.why}" if item.action == "conflict" else "")
            )
        elif there.id != v.id or there.canonical != v.canonical:
            broken.append(
                f"{v.subject} v{v.version}: target id {there.id}, source id {v.id}"
                + ("" if there.canonical == v.canonical else " (another schema)")
            )
    return broken


FIXES = (
    "records name the source ids, so consumers on the target would decode them with the wrong "
    "schema or fail. Fix: a target registry with IMPORT mode (Karapace 6.2.4 or later, "
    "Confluent with mode.mutability=true), or an empty target registry; where the target "
    "already holds another schema under a source id, free that id there (that schema was "
    "registered on the target on its own, not by this migration) or use an empty target "
    "registry; then retry"
)


def schema_ids(values: Iterable[bytes | None]) -> set[int]:
    """Schema ids named by serialized records (magic byte 0 + 4-byte big-endian id)."""
    return {
        int.from_bytes(value[1:5], "big")
        for value in values
        if value is not None and len(value) >= 5 and value[0] == 0
    }


def unknown_ids(source: Registry, ids: Iterable[int]) -> list[int]:
    """The ids that the source registry itself does not resolve (hard-deleted schemas)."""
    return [schema_id for schema_id in sorted(ids) if source.by_id(schema_id) is None]


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
