from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.pricing import (
    Tariff,
    format_brl,
    format_duration,
    price_call,
    select_tariff,
    standard_minutes,
    standard_stretches,
)

ORIGINAL = Tariff(
    id="original",
    name="Original",
    effective_from=datetime(2000, 1, 1, tzinfo=timezone.utc),
    standing_charge=Decimal("0.36"),
    per_minute=Decimal("0.09"),
)

SAMPLE = {  # call_id: (start, end, price) from specs/telephony.md
    "70": ("2016-02-29T12:00:00Z", "2016-02-29T14:00:00Z", "11.16"),
    "71": ("2017-12-11T15:07:13Z", "2017-12-11T15:14:56Z", "0.99"),
    "72": ("2017-12-12T22:47:56Z", "2017-12-12T22:50:56Z", "0.36"),
    "73": ("2017-12-12T21:57:13Z", "2017-12-12T22:10:56Z", "0.54"),
    "74": ("2017-12-12T04:57:13Z", "2017-12-12T06:10:56Z", "1.26"),
    "75": ("2017-12-13T21:57:13Z", "2017-12-14T22:10:56Z", "86.94"),
    "76": ("2017-12-12T15:07:58Z", "2017-12-12T15:12:56Z", "0.72"),
    "77": ("2018-02-28T21:57:13Z", "2018-03-01T22:10:56Z", "86.94"),
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def price(start: str, end: str, tariff: Tariff = ORIGINAL) -> Decimal:
    return price_call(at(start), at(end), tariff)


@pytest.mark.parametrize("call_id", sorted(SAMPLE))
def test_sample_calls(call_id):
    start, end, expected = SAMPLE[call_id]
    assert price(start, end) == Decimal(expected)


def test_december_2017_total():
    december = [price(s, e) for s, e, _ in SAMPLE.values() if at(e).strftime("%Y-%m") == "2017-12"]
    assert len(december) == 6
    assert sum(december) == Decimal("90.81")


def test_worked_example_from_the_brief():
    assert price("2017-12-12T21:57:13Z", "2017-12-12T22:17:53Z") == Decimal("0.54")


@pytest.mark.parametrize(
    "start, end, expected",
    [
        ("2017-12-12T06:00:00Z", "2017-12-12T06:01:00Z", "0.45"),  # 06:00 is standard
        ("2017-12-12T05:59:00Z", "2017-12-12T06:00:00Z", "0.36"),  # ends where standard begins
        ("2017-12-12T21:59:00Z", "2017-12-12T22:00:00Z", "0.45"),  # last standard minute
        ("2017-12-12T22:00:00Z", "2017-12-12T22:05:00Z", "0.36"),  # 22:00 is reduced
        ("2017-12-12T05:59:30Z", "2017-12-12T06:01:29Z", "0.45"),  # only the standard part counts
    ],
)
def test_window_edges(start, end, expected):
    assert price(start, end) == Decimal(expected)


def test_59_seconds_is_not_a_minute_60_is():
    assert price("2017-12-12T10:00:00Z", "2017-12-12T10:00:59Z") == Decimal("0.36")
    assert price("2017-12-12T10:00:00Z", "2017-12-12T10:01:00Z") == Decimal("0.45")
    assert price("2017-12-12T10:00:00Z", "2017-12-12T10:01:59.999Z") == Decimal("0.45")


def test_zero_length_call_pays_the_standing_charge():
    assert price("2017-12-12T10:00:00Z", "2017-12-12T10:00:00Z") == Decimal("0.36")


def test_across_midnight_is_free_of_minutes():
    assert price("2017-12-12T23:30:00Z", "2017-12-13T00:30:00Z") == Decimal("0.36")


def test_each_standard_stretch_is_floored_separately():
    # 21:59:30-22:00 (30 s) and 06:00-06:00:45 (45 s): no completed minute in either stretch.
    assert price("2017-12-12T21:59:30Z", "2017-12-13T06:00:45Z") == Decimal("0.36")


def test_call_over_24_hours():
    # Two full standard windows (2 x 960 minutes) plus nothing else.
    assert price("2017-12-12T22:00:00Z", "2017-12-14T22:00:00Z") == Decimal("0.36") + 1920 * Decimal("0.09")


def test_across_a_month_end():
    # 2017-12-31 21:00 -> 2018-01-01 07:00: 60 standard minutes before, 60 after.
    assert price("2017-12-31T21:00:00Z", "2018-01-01T07:00:00Z") == Decimal("0.36") + 120 * Decimal("0.09")


def test_across_a_leap_day():
    # 2016-02-28 21:00 -> 2016-03-01 07:00: 60 + 960 (Feb 29) + 60 standard minutes.
    assert price("2016-02-28T21:00:00Z", "2016-03-01T07:00:00Z") == Decimal("0.36") + 1080 * Decimal("0.09")


def test_offsets_are_the_same_instant():
    assert price("2017-12-12T19:00:00-03:00", "2017-12-12T19:10:00-03:00") == Decimal("0.36")  # 22:00 UTC


def test_tariff_time_zone_moves_the_window():
    sao_paulo = Tariff(**{**ORIGINAL.__dict__, "id": "sp", "timezone": "America/Sao_Paulo"})
    # 23:00 UTC is 20:00 in Sao Paulo (UTC-3; DST ended in February 2018): standard there.
    assert price("2018-03-01T23:00:00Z", "2018-03-01T23:10:00Z", sao_paulo) == Decimal("1.26")


def test_end_before_start_is_an_error():
    with pytest.raises(ValueError, match="before it starts"):
        price("2017-12-12T10:00:00Z", "2017-12-12T09:00:00Z")


NEW_TARIFF = Tariff(
    id="2018",
    name="2018 prices",
    effective_from=datetime(2018, 1, 1, tzinfo=timezone.utc),
    standing_charge=Decimal("0.50"),
    per_minute=Decimal("0.1"),
    standard_start=time(8, 0),
    standard_end=time(20, 0),
)


def test_tariff_in_force_at_the_start_of_each_call():
    tariffs = [NEW_TARIFF, ORIGINAL]
    before = at("2017-12-31T23:59:59Z")
    after = at("2018-01-01T00:00:00Z")
    assert select_tariff(tariffs, before) is ORIGINAL
    assert select_tariff(tariffs, after) is NEW_TARIFF
    # Same time of day, one call on each side of the change.
    assert price_call(at("2017-12-31T10:00:00Z"), at("2017-12-31T10:10:00Z"), select_tariff(tariffs, before)) == Decimal("1.26")
    assert price_call(at("2018-01-01T10:00:00Z"), at("2018-01-01T10:10:00Z"), select_tariff(tariffs, after)) == Decimal("1.50")


def test_a_call_crossing_a_tariff_change_keeps_the_tariff_of_its_start():
    started = at("2017-12-31T23:50:00Z")
    assert select_tariff([ORIGINAL, NEW_TARIFF], started) is ORIGINAL


def test_no_tariff_in_force():
    with pytest.raises(LookupError, match="no tariff in force"):
        select_tariff([NEW_TARIFF], at("2017-01-01T00:00:00Z"))


@pytest.mark.parametrize(
    "seconds, text",
    [(0, "0h0m0s"), (59, "0h0m59s"), (463, "0h7m43s"), (2142, "0h35m42s"), (87223, "24h13m43s"), (59.9, "0h0m59s")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_format_duration_of_timedelta():
    assert format_duration(timedelta(days=3, seconds=5)) == "72h0m5s"


@pytest.mark.parametrize(
    "amount, text",
    [("3.96", "R$ 3,96"), ("0.5", "R$ 0,50"), ("90.81", "R$ 90,81"), ("1234.5", "R$ 1.234,50"), ("-1", "-R$ 1,00")],
)
def test_format_brl(amount, text):
    assert format_brl(Decimal(amount)) == text


# --- the fast count of standard minutes agrees with the day-by-day definition -------------

ZONES = ["UTC", "America/Sao_Paulo", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "America/Recife",
         "America/Fortaleza", "Asia/Gaza"]
WINDOWS = [(time(6), time(22)), (time(22), time(6)), (time(0, 30), time(23, 45)), (time(9, 15), time(9, 16))]


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(timezone.utc)),
    length=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=800)),
    zone=st.sampled_from(ZONES),
    window=st.sampled_from(WINDOWS),
)
def test_standard_minutes_equal_the_sum_of_floored_stretches(start, length, zone, window):
    tariff = Tariff("t", "t", datetime(1970, 1, 1, tzinfo=timezone.utc), Decimal("0.36"), Decimal("0.09"),
                    standard_start=window[0], standard_end=window[1], timezone=zone)
    end = start + length
    by_definition = sum(stretch // timedelta(minutes=1) for stretch in standard_stretches(start, end, tariff))
    assert standard_minutes(start, end, tariff) == by_definition


def test_a_call_of_decades_is_priced_without_walking_every_day():
    start, end = datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert standard_minutes(start, end, ORIGINAL) == 20454 * 16 * 60  # every day's full 16 hours


@pytest.mark.parametrize(("zone", "start", "end"), [
    ("America/Recife", datetime(2000, 9, 1), datetime(2000, 12, 1)),  # changes a week apart, Oct 2000
    ("America/Fortaleza", datetime(2000, 9, 1), datetime(2000, 12, 1)),  # two weeks apart
    ("America/Boa_Vista", datetime(2000, 9, 1), datetime(2000, 12, 1)),
])
def test_two_offset_changes_inside_four_weeks_are_both_counted(zone, start, end):
    tariff = Tariff("t", "t", datetime(1970, 1, 1, tzinfo=timezone.utc), Decimal("0.36"), Decimal("0.09"),
                    standard_start=time(0, 30), standard_end=time(23, 45), timezone=zone)
    start, end = start.replace(tzinfo=timezone.utc), end.replace(tzinfo=timezone.utc)
    by_definition = sum(stretch // timedelta(minutes=1) for stretch in standard_stretches(start, end, tariff))
    assert standard_minutes(start, end, tariff) == by_definition
