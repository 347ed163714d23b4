"""The kinds of record the target loads: for each, its stream names, its mapping and its writer.

This is the one registration a new kind of record needs (besides its mapping and its
writer): sinks find the mapping by stream name, delivery hands each plan to the writer
registered for the plan's type. Nothing else names a kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from target_intercom.delivery.job import Plan as Ordered
from target_intercom.errors import FatalError
from target_intercom.mapping import ContactOptions, MappingWarning, RecordSchema
from target_intercom.stream_names import table_part, unknown_stream_message


class Plan(Ordered, Protocol):
    """What every plan offers beside its own fields: what delivery needs, and warnings."""

    @property
    def warnings(self) -> list[MappingWarning]:
        """What the operator should hear about the record, once per run."""


P = TypeVar("P", bound=Plan)
P_contra = TypeVar("P_contra", bound=Plan, contravariant=True)
Mapper = Callable[[Mapping[str, Any], RecordSchema, ContactOptions], Plan]


class Writer(Protocol[P_contra]):
    """A writer of one kind of plan."""

    def write(self, plan: P_contra) -> str:
        """Applies the plan in Intercom; returns its outcome for the run summary."""

    def settled(self, plan: P_contra) -> str | None:
        """Its outcome when the plan needs no call, found without one; else None."""


class Kinds:
    """Every kind of record of one run: stream names to mappings, plan types to writers."""

    def __init__(self) -> None:
        self._mappers: dict[str, Mapper] = {}
        # Each kind by its first stream name, with all of its names: for the error line.
        self._names: dict[str, tuple[str, ...]] = {}
        self._writers: dict[type[Any], Writer[Any]] = {}

    def register(
        self,
        streams: Iterable[str],
        plan: type[P],
        mapping: Callable[[Mapping[str, Any], RecordSchema, ContactOptions], P],
        writer: Writer[P],
    ) -> None:
        """Records of these streams are mapped by `mapping` to a `plan`, which `writer`
        writes; so are the rests of such plans the writer names in its `rests` (what is left
        of a record that waits for a contact, see delivery/job.py)."""
        streams = tuple(streams)
        self._names[streams[0]] = streams
        for stream in streams:
            self._mappers[stream] = mapping
        self._writers[plan] = writer
        for rest in getattr(writer, "rests", ()):
            self._writers[rest] = writer

    def mapper(self, stream: str) -> Mapper:
        """The mapping of the kind that loads this stream, by its name or the table part of
        a `<schema>-<table>` name (stream_names.py); one error line when none does."""
        mapper = self._mappers.get(stream) or self._mappers.get(table_part(stream))
        if mapper is None:
            raise FatalError(unknown_stream_message(stream, self._names))
        return mapper

    def write(self, plan: Any) -> str:
        """Writes the plan with the writer registered for its type."""
        return self._writers[type(plan)].write(plan)

    def settled(self, plan: Any) -> str | None:
        """Asks the writer registered for the plan's type whether it needs a call."""
        return self._writers[type(plan)].settled(plan)

    def prefetch(self, plans: list[Any]) -> None:
        """Each writer that reads ahead (has a `prefetch`) reads at once for its plans."""
        by_writer: dict[int, tuple[Any, list[Any]]] = {}
        for plan in plans:
            writer = self._writers[type(plan)]
            by_writer.setdefault(id(writer), (writer, []))[1].append(plan)
        for writer, own in by_writer.values():
            prefetch = getattr(writer, "prefetch", None)
            if prefetch is not None:
                prefetch(own)
