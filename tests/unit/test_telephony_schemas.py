import json
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from schemas.telephony import (
    parse_call_record,
    Bill,
    BillError,
    BillLine,
    BillRequest,
    CallCompleted,
    CallEnd,
    CallPriced,
    CallStart,
    decode_call_record,
)
from schemas.periods import Period, PeriodNotEnded, bill_period, ensure_closed, last_closed_period, parse_period

START = {
    "type": "start",
    "id": "r1",
    "timestamp": "2017-12-11T15:07:13Z",
    "call_id": "71",
    "source": "99988526423",
    "destination": "9933468278",
}
END = {"type": "end", "id": "r2", "timestamp": "2017-12-11T15:14:56Z", "call_id": "71"}


def body(data: dict) -> bytes:
    return json.dumps(data).encode()


def test_decodes_both_record_types():
    start = decode_call_record("call.start", body(START))
    end = decode_call_record("call.end", body(END))
    assert isinstance(start, CallStart) and isinstance(end, CallEnd)
    assert start.timestamp == datetime(2017, 12, 11, 15, 7, 13, tzinfo=timezone.utc)
    assert (start.routing_key(), end.routing_key()) == ("call.start", "call.end")


def test_routing_key_must_match_the_type():
    with pytest.raises(ValueError, match="routing key 'call.end' does not match the record type 'start'"):
        decode_call_record("call.end", body(START))


@pytest.mark.parametrize("number", ["9933468278", "99988526423"])
def test_valid_phone_numbers(number):
    assert CallStart.model_validate({**START, "source": number}).source == number


@pytest.mark.parametrize("number", ["993346827", "999885264231", "99 88526423", "+5599885264", "(99)88526423", "", "99988526a23"])
def test_invalid_phone_numbers(number):
    with pytest.raises(ValidationError, match="phone number must be digits only"):
        CallStart.model_validate({**START, "destination": number})


def test_numeric_ids_are_coerced_to_strings():
    record = CallStart.model_validate({**START, "id": 7, "call_id": 71})
    assert (record.id, record.call_id) == ("7", "71")


@pytest.mark.parametrize("field", ["id", "call_id"])
def test_ids_must_not_be_empty(field):
    with pytest.raises(ValidationError):
        CallEnd.model_validate({**END, field: "  "})


def test_naive_timestamps_are_rejected():
    with pytest.raises(ValidationError, match="must carry a time zone"):
        decode_call_record("call.end", body({**END, "timestamp": "2017-12-11T15:14:56"}))


def test_numeric_timestamps_are_rejected():
    with pytest.raises(ValidationError, match="ISO 8601"):
        CallEnd.model_validate({**END, "timestamp": 1513005296})


def test_offsets_are_normalized_to_utc():
    record = CallEnd.model_validate({**END, "timestamp": "2017-12-11T12:14:56-03:00"})
    assert record.timestamp == datetime(2017, 12, 11, 15, 14, 56, tzinfo=timezone.utc)
    assert record.timestamp.utcoffset().total_seconds() == 0
    assert record == CallEnd.model_validate(END)


def test_unknown_fields_and_types_are_rejected():
    with pytest.raises(ValidationError):
        decode_call_record("call.end", body({**END, "source": "99988526423"}))
    with pytest.raises(ValidationError):
        decode_call_record("call.start", body({**START, "type": "middle"}))


def test_record_message_id_follows_the_record_id():
    first = CallStart.model_validate(START)
    assert first.message_id() == CallStart.model_validate({**START, "timestamp": "2017-12-11T15:07:14Z"}).message_id()
    assert first.message_id() != CallStart.model_validate({**START, "id": "r9"}).message_id()


def completed(**changes) -> CallCompleted:
    fields = dict(
        call_id="71",
        source="99988526423",
        destination="9933468278",
        started_at="2017-12-11T15:07:13Z",
        ended_at="2017-12-11T15:14:56Z",
    )
    return CallCompleted.model_validate({**fields, **changes})


def test_completed_call_message_id_is_per_call():
    assert completed().message_id() == completed(ended_at="2017-12-11T15:20:00Z").message_id()
    assert completed().routing_key() == "call.completed"
    assert completed().duration_seconds == 463


def test_completed_call_cannot_end_before_it_starts():
    with pytest.raises(ValidationError, match="ends .* before it starts"):
        completed(ended_at="2017-12-11T15:00:00Z")


def test_priced_call_money_is_a_two_place_string():
    priced = CallPriced(**completed().model_dump(), price=Decimal("0.9"), tariff_id="original", period="2017-12")
    assert json.loads(priced.to_json_bytes())["price"] == "0.90"
    with pytest.raises(ValidationError, match="2 decimal places"):
        CallPriced(**completed().model_dump(), price=Decimal("0.991"), tariff_id="original", period="2017-12")


def test_bill_json_shape():
    bill = Bill(
        subscriber="99988526423",
        period="2017-12",
        total=Decimal("0.99"),
        calls=[
            BillLine(
                destination="9933468278",
                start_date=date(2017, 12, 11),
                start_time=time(15, 7, 13),
                duration="0h7m43s",
                price=Decimal("0.99"),
            )
        ],
    )
    assert json.loads(bill.to_json_bytes()) == {
        "subscriber": "99988526423",
        "period": "2017-12",
        "total": "0.99",
        "calls": [
            {
                "destination": "9933468278",
                "start_date": "2017-12-11",
                "start_time": "15:07:13",
                "duration": "0h7m43s",
                "price": "0.99",
            }
        ],
    }
    assert json.loads(BillError(error="nope").to_json_bytes()) == {"error": "nope"}


def test_bill_request_period_is_optional_and_checked():
    assert BillRequest(subscriber="99988526423").period is None
    with pytest.raises(ValidationError, match="YYYY-MM"):
        BillRequest(subscriber="99988526423", period="12/2017")


def test_parse_period():
    assert parse_period("2017-12") == Period(2017, 12)
    assert str(Period(2017, 1)) == "2017-01"


@pytest.mark.parametrize("text", ["2017-13", "2017-00", "2017-1", "17-12", "2017/12", "", "december"])
def test_bad_periods(text):
    with pytest.raises(ValueError, match="period"):
        parse_period(text)


def test_last_closed_period():
    assert last_closed_period(date(2018, 3, 15)) == Period(2018, 2)
    assert last_closed_period(date(2018, 1, 1)) == Period(2017, 12)  # January -> December


def test_period_bounds():
    assert Period(2017, 12).starts_at == datetime(2017, 12, 1, tzinfo=timezone.utc)
    assert Period(2017, 12).ends_at == datetime(2018, 1, 1, tzinfo=timezone.utc)
    brasilia = timezone(timedelta(hours=-3))
    assert Period.containing(datetime(2018, 1, 31, 23, 0, tzinfo=brasilia)) == Period(2018, 2)  # 02:00 UTC


@pytest.mark.parametrize("period", ["2026-11", "2026-12", "2030-01"])
def test_current_or_future_period_is_an_error(period):
    with pytest.raises(PeriodNotEnded, match=f"period {period} has not ended yet"):
        ensure_closed(parse_period(period), date(2026, 11, 20))


def test_bill_period():
    today = date(2026, 1, 10)
    assert bill_period(None, today) == Period(2025, 12)
    assert bill_period("2025-12", today) == Period(2025, 12)
    with pytest.raises(PeriodNotEnded):
        bill_period("2026-01", today)


# --- a call record is dated between 1970 and now (plus a small clock skew) ----------------

def _start_at(moment: datetime) -> dict:
    return {"type": "start", "id": "1-start", "call_id": "1", "timestamp": moment.isoformat(),
            "source": "99988526423", "destination": "9933468278"}


def test_record_times_at_their_bounds():
    from schemas.telephony import EARLIEST_RECORD, RECORD_CLOCK_SKEW

    now = datetime.now(timezone.utc)
    assert parse_call_record(_start_at(EARLIEST_RECORD)).timestamp == EARLIEST_RECORD
    assert parse_call_record(_start_at(now + RECORD_CLOCK_SKEW - timedelta(seconds=30)))
    with pytest.raises(ValidationError, match="before 1970-01-01T00:00:00Z"):
        parse_call_record(_start_at(EARLIEST_RECORD - timedelta(microseconds=1)))
    with pytest.raises(ValidationError, match="in the future"):
        parse_call_record(_start_at(now + RECORD_CLOCK_SKEW + timedelta(seconds=30)))


def test_an_end_in_the_year_9999_is_refused_with_a_reason():
    with pytest.raises(ValidationError, match="9999-12-31T12:00:00.*in the future"):
        parse_call_record({"type": "end", "id": "9-end", "call_id": "9", "timestamp": "9999-12-31T12:00:00Z"})
