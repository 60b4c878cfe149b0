"""Call pairing: start and end records in (any order, duplicated, sometimes wrong), completed calls out.

Rules (specs/telephony.md), applied in arrival order:
- a record equal in every field to the stored half with its (call_id, type) is a duplicate:
  accepted, nothing written;
- a different record with the same (call_id, type) is a conflict: the first stays, this one
  is dead-lettered with a reason naming both (logged without their phone numbers);
- a half that would make the call end before it starts is dead-lettered (the stored half stays);
- otherwise the half is stored. A call with both halves is complete and announced; it is
  re-announced whenever a batch touches it again (after a crash between commit and publish,
  the redelivered record is a duplicate, and the announcement still goes out). Billing dedupes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from sqlalchemy.engine import Connection

from consumers.reasons import Reason
from consumers.runtime.handler import BatchOutcome, ConsumerSpec, Incoming
from schemas import topology
from schemas.telephony import CallCompleted, CallEnd, CallStart, decode_call_record
from storage import telephony as store

CallRecord = CallStart | CallEnd
HalfKey = tuple[str, str]  # (call_id, type)


@dataclass
class Decisions:
    """What to do with one batch, given the halves already stored."""

    to_insert: list[CallRecord] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)
    halves: dict[HalfKey, CallRecord] = field(default_factory=dict)
    accepted_call_ids: dict[str, None] = field(default_factory=dict)  # an ordered set

    def completed(self) -> list[CallCompleted]:
        """Every complete call that an accepted record of this batch belongs to."""
        return [
            completed_call(self.halves[(call_id, "start")], self.halves[(call_id, "end")])
            for call_id in self.accepted_call_ids
            if (call_id, "start") in self.halves and (call_id, "end") in self.halves
        ]


def decide(existing: Mapping[HalfKey, CallRecord], records: Sequence[CallRecord]) -> Decisions:
    decisions = Decisions(halves=dict(existing))
    for index, record in enumerate(records):
        reason = _rejection(decisions.halves, record)
        if reason:
            decisions.rejected[index] = reason
            continue
        key = (record.call_id, record.type)
        if key not in decisions.halves:
            decisions.halves[key] = record
            decisions.to_insert.append(record)
        decisions.accepted_call_ids[record.call_id] = None
    return decisions


def _rejection(halves: Mapping[HalfKey, CallRecord], record: CallRecord) -> str | None:
    kept = halves.get((record.call_id, record.type))
    if kept is not None:
        if kept == record:
            return None
        return _conflict(record, kept)
    other = halves.get((record.call_id, "end" if record.type == "start" else "start"))
    if other is None:
        return None
    start, end = (record, other) if record.type == "start" else (other, record)
    if end.timestamp < start.timestamp:
        return (
            f"call {record.call_id} would end before it starts: end {end.timestamp.isoformat()} "
            f"(record {end.id}) is earlier than start {start.timestamp.isoformat()} (record {start.id}); "
            f"the {other.type} record was received first and is kept"
        )
    return None


def _conflict(record: CallRecord, kept: CallRecord) -> Reason:
    conflict = f"conflicting {record.type} record for call {record.call_id}"
    fields, other = record.model_dump(), kept.model_dump()
    differing = ", ".join(name for name, value in fields.items() if other[name] != value)
    return Reason(
        f"{conflict}: record {_describe(record)} differs from record {_describe(kept)}, received first and kept",
        for_log=f"{conflict}: it differs in {differing} from record {kept.id}, received first and kept",
    )


def _describe(record: CallRecord) -> str:
    facts = f"id={record.id} timestamp={record.timestamp.isoformat()}"
    if isinstance(record, CallStart):
        facts += f" source={record.source} destination={record.destination}"
    return f"({facts})"


def completed_call(start: CallStart, end: CallEnd) -> CallCompleted:
    return CallCompleted(
        call_id=start.call_id,
        source=start.source,
        destination=start.destination,
        started_at=start.timestamp,
        ended_at=end.timestamp,
    )


def handle_batch(conn: Connection, batch: Sequence[Incoming[CallRecord]]) -> BatchOutcome:
    records = [message.payload for message in batch]
    call_ids = {record.call_id for record in records}
    store.lock_call_ids(conn, call_ids)
    decisions = decide(store.fetch_halves(conn, call_ids), records)
    store.insert_call_records(conn, decisions.to_insert)
    completed = decisions.completed()
    store.insert_calls(conn, completed)
    return BatchOutcome(emits=list(completed), rejected=decisions.rejected)


CONSUMER = ConsumerSpec(
    name="call-pairing",
    queue=topology.CALL_PAIRING,
    decode=decode_call_record,
    handle=handle_batch,
    emits=(CallCompleted,),
)
