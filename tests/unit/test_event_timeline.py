"""The ordering rule of a session (schemas.events.timeline): by the time events happened, ties by
id, each event once, whatever order and how many times they arrived."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from schemas.events import StoredEvent, timeline

BASE = datetime(2021, 1, 1, 9, tzinfo=timezone.utc)


@st.composite
def distinct_events(draw) -> list[StoredEvent]:
    """Events of one session from a few applications; few distinct times, so ties are common."""
    keys = draw(st.lists(st.tuples(st.sampled_from(["shop", "blog", "app"]), st.text("abcAB-_09é", min_size=1, max_size=4)),
                         unique=True, max_size=30))
    return [StoredEvent(id=event_id, application=application, category="page interaction", name="pageview",
                        timestamp=BASE + timedelta(milliseconds=draw(st.integers(0, 5))),
                        data={"host": "shop.example.com", "path": f"/{event_id}"})
            for application, event_id in keys]


@given(distinct_events(), st.data())
def test_any_arrival_order_and_duplication_gives_the_same_timeline(events, data):
    arrivals = data.draw(st.permutations(events + data.draw(st.lists(st.sampled_from(events), max_size=20)
                                                             if events else st.just([]))))
    assert timeline(arrivals) == timeline(events)


@given(distinct_events())
def test_the_timeline_is_ordered_by_time_then_id_and_holds_each_event_once(events):
    ordered = timeline(events)
    assert len(ordered) == len(events)
    for earlier, later in itertools.pairwise(ordered):
        assert earlier.timestamp <= later.timestamp
        if earlier.timestamp == later.timestamp:
            assert (earlier.id, earlier.application) < (later.id, later.application)
