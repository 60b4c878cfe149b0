"""Pure rules of the runtime: topic matching, which emits are mandatory, failure classes, stop flag."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError, ProgrammingError

from consumers.runtime.failures import Failure, classify, describe
from consumers.runtime.handler import Incoming, Reply
from consumers.runtime.outbox import envelope
from consumers.runtime.stopflag import StopFlag
from schemas.telephony import BillError, CallCompleted, CallPriced
from schemas.topology import FLEET, topic_matches


@pytest.mark.parametrize("pattern, key, matches", [
    ("call.start", "call.start", True),
    ("call.start", "call.end", False),
    ("event.#", "event", True),
    ("event.#", "event.page_interaction.cta_click", True),
    ("event.*", "event.page_interaction.cta_click", False),
    ("event.*.cta_click", "event.page_interaction.cta_click", True),
    ("#", "anything.at.all", True),
    ("#.end", "call.end", True),
    ("order.*", "order", False),
])
def test_topic_matching(pattern, key, matches):
    assert topic_matches(pattern, key) is matches


WORD = st.from_regex(r"[a-z_]{1,6}", fullmatch=True)
PATTERN_WORD = st.one_of(WORD, st.just("*"), st.just("#"))


def _matches_by_table(pattern: list[str], words: list[str]) -> bool:
    """The AMQP topic rule written independently: a table of which pattern prefixes match which
    key prefixes (`#` absorbs zero or more words, `*` exactly one)."""
    table = [[False] * (len(words) + 1) for _ in range(len(pattern) + 1)]
    table[0][0] = True
    for i, part in enumerate(pattern, start=1):
        for j in range(len(words) + 1):
            if part == "#":
                table[i][j] = table[i - 1][j] or (j > 0 and table[i][j - 1])
            elif j > 0:
                table[i][j] = table[i - 1][j - 1] and part in ("*", words[j - 1])
    return table[-1][-1]


@given(st.lists(PATTERN_WORD, min_size=1, max_size=4), st.lists(WORD, min_size=1, max_size=5))
def test_topic_matching_agrees_with_a_regular_expression(pattern_words, key_words):
    assert topic_matches(".".join(pattern_words), ".".join(key_words)) == _matches_by_table(pattern_words, key_words)


CALL = dict(call_id="1", source="99988526423", destination="9933468278",
            started_at="2017-12-11T15:07:13Z", ended_at="2017-12-11T15:14:56Z")


def test_an_emit_some_fleet_queue_binds_is_mandatory_a_broadcast_is_not():
    completed = envelope(CallCompleted(**CALL), FLEET.expects_subscriber)
    priced = envelope(CallPriced(**CALL, price="0.99", tariff_id="original", period="2017-12"), FLEET.expects_subscriber)
    assert (completed.exchange, completed.routing_key, completed.mandatory) == ("telephony", "call.completed", True)
    assert (priced.routing_key, priced.mandatory) == ("call.priced", False)


def test_a_reply_goes_to_the_caller_through_the_default_exchange_never_mandatory():
    request = Incoming(payload=None, routing_key="bill.requested", message_id="m", redelivered=False,
                       reply_to="amq.rabbitmq.reply-to.abc", correlation_id="c-1")
    outgoing = envelope(Reply(BillError(error="no"), to=request), FLEET.expects_subscriber)
    assert (outgoing.exchange, outgoing.routing_key, outgoing.mandatory) == ("", "amq.rabbitmq.reply-to.abc", False)
    assert outgoing.correlation_id == "c-1"


class Driver(Exception):
    """Stands in for a psycopg2 error: what SQLAlchemy wraps, with its SQLSTATE."""

    def __init__(self, pgcode: str | None, text: str = "boom"):
        super().__init__(text)
        self.pgcode = pgcode


@pytest.mark.parametrize("wrapper, pgcode, expected", [
    (OperationalError, None, Failure.OUTAGE),  # server closed the connection unexpectedly
    (InterfaceError, None, Failure.OUTAGE),  # connection already closed
    (OperationalError, "08006", Failure.OUTAGE),
    (OperationalError, "57P01", Failure.OUTAGE),  # admin shutdown
    (OperationalError, "53300", Failure.OUTAGE),  # too many connections
    (ProgrammingError, "42P01", Failure.OUTAGE),  # undefined table: the schema is behind
    (OperationalError, "40001", Failure.CONTENTION),
    (OperationalError, "40P01", Failure.CONTENTION),
    (OperationalError, "55P03", Failure.CONTENTION),
    (OperationalError, "57014", Failure.CONTENTION),  # statement timeout
    (OperationalError, "54000", Failure.MESSAGE),  # program limit exceeded
    (DataError, "22008", Failure.MESSAGE),  # datetime field overflow
    (IntegrityError, "23505", Failure.MESSAGE),
])
def test_database_failures_are_classified_by_sqlstate(wrapper, pgcode, expected):
    assert classify(wrapper("INSERT ...", {}, Driver(pgcode))) is expected


def test_anything_the_handler_raises_itself_is_the_message_s_fault():
    assert classify(OverflowError("date value out of range")) is Failure.MESSAGE


def test_description_is_one_line_with_the_sqlstate_and_what_to_do():
    text = describe(ProgrammingError("SELECT ...", {"p": "11987654321"},
                                     Driver("42P01", 'relation "calls" does not exist\nLINE 1: ...')))
    assert text == ('Driver: relation "calls" does not exist (SQLSTATE 42P01); '
                    "the database schema is behind this code: run `switchboard migrate`")


def test_stop_flag_wakes_a_wait_once_set():
    flag = StopFlag()
    assert flag.wait(0.01) is False
    flag.set(15, None)  # as a signal handler calls it
    assert flag.is_set() and flag.wait(10) is True
