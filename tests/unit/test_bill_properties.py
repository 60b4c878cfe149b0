"""Any arrival order and any duplication of the same records, in any batches, gives the same bills.

The pipeline is simulated with the pure pieces the consumers are made of: call pairing's
`decide` over a dict standing in for the stored halves, billing's `price_completed_call`
(once per call, like the priced_calls primary key) and the bill builder.
"""

from collections import Counter
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.billing import price_completed_call
from consumers.call_pairing import decide
from consumers.pricing import Tariff
from schemas.periods import Period
from schemas.telephony import CallEnd, CallStart
from storage.bills import build_bill

TARIFFS = [
    Tariff("original", "Original", datetime(2000, 1, 1, tzinfo=timezone.utc), Decimal("0.36"), Decimal("0.09")),
    Tariff(
        "2018",
        "2018 prices",
        datetime(2018, 1, 1, tzinfo=timezone.utc),
        Decimal("0.50"),
        Decimal("0.1234"),
        time(8, 0),
        time(20, 0),
    ),
]
SUBSCRIBERS = ["99988526423", "1133334444"]
EPOCH = datetime(2017, 11, 15, tzinfo=timezone.utc)


@st.composite
def call_records(draw):
    """Both halves of a few calls; some calls end before they start (never billable)."""
    records = []
    for number in range(draw(st.integers(1, 6))):
        started = EPOCH + timedelta(seconds=draw(st.integers(0, 90 * 86400)))
        length = timedelta(seconds=draw(st.integers(-3600, 3 * 86400)))
        call_id = str(number)
        records.append(
            CallStart(
                id=f"{call_id}-start",
                timestamp=started,
                call_id=call_id,
                source=draw(st.sampled_from(SUBSCRIBERS)),
                destination="9933468278",
            )
        )
        records.append(CallEnd(id=f"{call_id}-end", timestamp=started + length, call_id=call_id))
    return records


@st.composite
def deliveries(draw, records):
    """Every record at least once, some several times, shuffled, cut into batches."""
    extra = draw(st.lists(st.sampled_from(records), max_size=len(records) * 2))
    arrivals = draw(st.permutations(records + extra))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(arrivals) - 1)), max_size=5)))
    bounds = [0, *cuts, len(arrivals)]
    return [arrivals[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if a < b]


def bills_after(batches) -> dict:
    stored_halves, priced = {}, {}
    for batch in batches:
        decisions = decide(stored_halves, batch)
        stored_halves.update({(r.call_id, r.type): r for r in decisions.to_insert})
        for call in decisions.completed():
            priced.setdefault(call.call_id, price_completed_call(call, TARIFFS))
    by_key = {}
    for call in priced.values():
        by_key.setdefault((call.source, call.period), []).append(call)
    return {key: build_bill(key[0], key[1], calls) for key, calls in by_key.items()}


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_order_and_duplication_gives_the_same_bills(data):
    records = data.draw(call_records())
    reference = bills_after([records])
    assert bills_after(data.draw(deliveries(records))) == reference
    assert bills_after(data.draw(deliveries(records))) == reference


@settings(max_examples=50, deadline=None)
@given(records=call_records())
def test_each_valid_call_is_billed_once_in_the_month_it_ended(records):
    starts = {r.call_id: r for r in records if isinstance(r, CallStart)}
    ends = {r.call_id: r for r in records if isinstance(r, CallEnd)}
    expected = Counter(
        (starts[c].source, str(Period.containing(ends[c].timestamp)))
        for c in starts
        if ends[c].timestamp >= starts[c].timestamp
    )
    bills = bills_after([list(reversed(records))])
    assert Counter({key: len(bill.calls) for key, bill in bills.items()}) == expected
    for bill in bills.values():
        assert bill.total == sum(line.price for line in bill.calls)
