import json
from pathlib import Path

from producers.calls import parse_call_object, read_call_records
from producers.files import LoadReport, publish_file
from schemas.telephony import CallEnd, CallStart

EXAMPLE = Path(__file__).parents[2] / "examples" / "calls.jsonl"
START = '{"type": "start", "timestamp": "2017-12-11T15:07:13Z", "call_id": 71, "source": "99988526423", "destination": "9933468278"}'


def test_example_file_loads_completely():
    result = read_call_records(EXAMPLE.read_text().splitlines())
    assert result.rejected == []
    assert len(result.records) == 16
    assert {r.call_id for r in result.records} == {str(n) for n in range(70, 78)}
    assert sum(isinstance(r, CallStart) for r in result.records) == 8


def test_missing_ids_are_derived_from_call_id_and_type():
    result = read_call_records([START, '{"type": "end", "timestamp": "2017-12-11T15:14:56Z", "call_id": "71"}'])
    assert [r.id for r in result.records] == ["71-start", "71-end"]


def test_loading_twice_gives_the_same_records_and_ids():
    lines = EXAMPLE.read_text().splitlines()
    first, second = read_call_records(lines), read_call_records(lines)
    assert first.records == second.records
    assert [r.message_id() for r in first.records] == [r.message_id() for r in second.records]


def test_given_ids_are_kept():
    line = json.dumps({**json.loads(START), "id": "switch-a-0001"})
    assert read_call_records([line]).records[0].id == "switch-a-0001"


def test_rejected_lines_carry_line_numbers_and_reasons():
    lines = [
        START,
        "",
        "{not json",
        '"a string"',
        START.replace('"99988526423"', '"123"'),
        '{"type": "end", "timestamp": "2017-12-11T15:14:56", "call_id": 71}',
        '{"type": "pause", "call_id": 71}',
        '{"type": "end", "call_id": 71}',
        "   ",
        '{"type": "end", "timestamp": "2017-12-11T15:14:56Z", "call_id": 71}',
    ]
    result = read_call_records(lines)
    assert [r.id for r in result.records] == ["71-start", "71-end"]
    reasons = {rejected.line_number: rejected.reason for rejected in result.rejected}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8]
    assert reasons[3].startswith("invalid JSON")
    assert reasons[4] == "expected a JSON object, got str"
    assert reasons[5].startswith("source: phone number must be digits only")
    assert reasons[6].startswith("timestamp: timestamp must carry a time zone")
    assert reasons[7] == "type: must be 'start' or 'end', got 'pause'"
    assert reasons[8] == "timestamp: Field required"


def test_bad_call_id_is_reported_not_masked_by_the_derived_id():
    result = read_call_records(['{"type": "end", "timestamp": "2017-12-11T15:14:56Z", "call_id": ""}'])
    assert result.records == []
    assert "call_id" in result.rejected[0].reason


class FakePublisher:
    def __init__(self):
        self.published = []

    def publish_many(self, messages, *, on_progress=None):
        for message in messages:
            self.published.append(message)
            if on_progress:
                on_progress(1)
        return len(self.published)


def test_publish_call_file_streams_valid_records(tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_text(EXAMPLE.read_text() + "garbage\n")
    publisher, progress = FakePublisher(), []
    report = publish_file(publisher, path, parse_call_object, on_progress=progress.append)
    assert report == LoadReport(published=16, rejected=report.rejected)
    assert [(r.line_number, r.reason.split(":")[0]) for r in report.rejected] == [(17, "invalid JSON")]
    assert len(progress) == 16
    assert isinstance(publisher.published[1], CallEnd)
