from datetime import datetime, timezone

from consumers.call_pairing import decide
from schemas.telephony import CallCompleted, CallEnd, CallStart

A, B = "99988526423", "9933468278"


def start(call_id="71", at="2017-12-11T15:07:13Z", record_id=None, destination=B) -> CallStart:
    return CallStart(id=record_id or f"{call_id}-start", timestamp=at, call_id=call_id, source=A, destination=destination)


def end(call_id="71", at="2017-12-11T15:14:56Z", record_id=None) -> CallEnd:
    return CallEnd(id=record_id or f"{call_id}-end", timestamp=at, call_id=call_id)


def keyed(*records):
    return {(r.call_id, r.type): r for r in records}


def test_both_halves_in_one_batch_complete_the_call():
    decisions = decide({}, [end(), start()])
    assert decisions.rejected == {}
    assert decisions.to_insert == [end(), start()]
    assert decisions.completed() == [
        CallCompleted(
            call_id="71",
            source=A,
            destination=B,
            started_at=datetime(2017, 12, 11, 15, 7, 13, tzinfo=timezone.utc),
            ended_at=datetime(2017, 12, 11, 15, 14, 56, tzinfo=timezone.utc),
        )
    ]


def test_a_lone_half_waits():
    decisions = decide({}, [start()])
    assert decisions.to_insert == [start()] and decisions.completed() == []


def test_second_half_in_a_later_batch_completes_the_stored_one():
    decisions = decide(keyed(start()), [end()])
    assert decisions.to_insert == [end()]
    assert [c.call_id for c in decisions.completed()] == ["71"]


def test_exact_duplicate_is_accepted_without_a_new_row():
    decisions = decide(keyed(start()), [start()])
    assert decisions.rejected == {} and decisions.to_insert == []


def test_duplicate_of_a_complete_call_re_announces_it():
    decisions = decide(keyed(start(), end()), [end()])
    assert decisions.to_insert == [] and decisions.rejected == {}
    assert [c.call_id for c in decisions.completed()] == ["71"]


def test_same_instant_written_with_another_offset_is_a_duplicate():
    decisions = decide(keyed(start()), [start(at="2017-12-11T13:07:13-02:00")])
    assert decisions.rejected == {} and decisions.to_insert == []


def test_in_batch_duplicates_are_inserted_once():
    decisions = decide({}, [start(), start(), end(), end(), start()])
    assert decisions.rejected == {}
    assert decisions.to_insert == [start(), end()]
    assert len(decisions.completed()) == 1


def test_conflict_keeps_the_first_and_names_both():
    kept = start()
    other = start(record_id="other", destination="11987654321")
    decisions = decide(keyed(kept), [other])
    assert decisions.to_insert == []
    reason = decisions.rejected[0]
    assert "conflicting start record for call 71" in reason
    assert "id=other" in reason and "11987654321" in reason  # the rejected one
    assert "id=71-start" in reason and B in reason  # the kept one
    assert decisions.halves[("71", "start")] == kept


def test_conflict_inside_one_batch():
    decisions = decide({}, [end(), end(at="2017-12-11T15:20:00Z", record_id="late")])
    assert decisions.to_insert == [end()]
    assert list(decisions.rejected) == [1]


def test_different_record_id_with_same_facts_is_a_conflict():
    decisions = decide(keyed(end()), [end(record_id="resent")])
    assert "conflicting end record" in decisions.rejected[0]


def test_end_before_start_rejects_a_late_end():
    decisions = decide(keyed(start()), [end(at="2017-12-11T15:00:00Z")])
    assert decisions.to_insert == [] and decisions.completed() == []
    assert "would end before it starts" in decisions.rejected[0]
    assert "end record was" not in decisions.rejected[0]
    assert "start record was received first and is kept" in decisions.rejected[0]


def test_end_before_start_rejects_a_late_start():
    decisions = decide(keyed(end()), [start(at="2017-12-11T16:00:00Z")])
    assert decisions.to_insert == [] and decisions.completed() == []
    assert "end record was received first and is kept" in decisions.rejected[0]


def test_end_before_start_within_one_batch_rejects_the_later_half():
    decisions = decide({}, [end(at="2017-12-11T15:00:00Z"), start(), start()])
    assert decisions.to_insert == [end(at="2017-12-11T15:00:00Z")]
    assert set(decisions.rejected) == {1, 2}


def test_zero_length_call_is_valid():
    decisions = decide({}, [start(at="2017-12-11T15:00:00Z"), end(at="2017-12-11T15:00:00Z")])
    assert decisions.rejected == {} and len(decisions.completed()) == 1


def test_a_rejected_record_does_not_announce_its_call():
    decisions = decide(keyed(start(), end()), [start(record_id="other")])
    assert decisions.completed() == []


def test_calls_are_kept_apart():
    decisions = decide({}, [start("1"), end("2"), end("1"), start("3")])
    assert [c.call_id for c in decisions.completed()] == ["1"]
    assert len(decisions.to_insert) == 4
