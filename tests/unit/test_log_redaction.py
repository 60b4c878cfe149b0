"""What never reaches a log line: credentials (always), e-mail addresses and phone numbers (at
info and above), a dead-letter reason's quoted values; and what must survive the masking."""

from __future__ import annotations

import io
import json
import logging
import string
import sys
import threading
import uuid
from datetime import datetime

import pytest
import structlog
from hypothesis import given, settings, strategies as st

from consumers.reasons import Reason
from switchboard.logs import QUIET_LOGGERS, ScrubbingFormatter, configure_logging, scrub, scrub_json_line
from switchboard.redaction import mask_personal_data, redact_credentials

SCHEMES = ["amqp", "amqps", "postgresql", "postgresql+psycopg2", "smtp", "smtps", "http", "https"]
NOT_SPACE = st.characters(blacklist_categories=("Z", "C"))
passwords = st.text(NOT_SPACE, min_size=1, max_size=40)
users = st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=20)


# --- credentials -------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_password_of_a_url_of_any_scheme_is_redacted(scheme):
    text = f"connect to {scheme}://switchboard:s3cr%2Ft@db.example.com:5432/switchboard failed"
    assert redact_credentials(text) == f"connect to {scheme}://switchboard:***@db.example.com:5432/switchboard failed"


@settings(max_examples=300)
@given(scheme=st.sampled_from(SCHEMES), user=users, password=passwords)
def test_any_password_in_a_url_is_redacted_whole(scheme, user, password):
    """Even one with a raw @, / or quote in it: everything up to the last @ goes."""
    url = f"{scheme}://{user}:{password}@host.example:5672/vhost"
    expected = f"{scheme}://{user}:***@host.example:5672/vhost"
    assert redact_credentials(f"error: {url} refused") == f"error: {expected} refused"
    assert f"{user}:***@host.example:5672/vhost" in redact_credentials(repr({"url": url}))


@settings(max_examples=200)
@given(scheme=st.sampled_from(SCHEMES), user=users, password=passwords)
def test_a_url_password_never_survives_a_json_line(scheme, user, password):
    line = json.dumps({"event": "amqp_link_failed", "error": f"bad {scheme}://{user}:{password}@h/v", "level": "error"})
    scrubbed = json.loads(scrub_json_line(line, logging.ERROR))
    assert scrubbed["error"] == f"bad {scheme}://{user}:***@h/v"


@pytest.mark.parametrize("text, expected", [
    ("host=db dbname=switchboard user=sb password=s3cret sslmode=require",
     "host=db dbname=switchboard user=sb password=*** sslmode=require"),
    ("host=db password='it\\'s a secret' user=sb", "host=db password=*** user=sb"),
    ("PGPASSWORD=s3cret psql", "PGPASSWORD=*** psql"),
    ("Driver={PostgreSQL};Uid=sb;Pwd=s3cret;", "Driver={PostgreSQL};Uid=sb;Pwd=***"),
    ("{'user': 'sb', 'password': 's3cret', 'port': 5432}", "{'user': 'sb', 'password': ***, 'port': 5432}"),
    ('{"user": "sb", "password": "s3\\"cret", "port": 5432}', '{"user": "sb", "password": ***, "port": 5432}'),
    ('"{\\"password\\": \\"s3cret\\", \\"user\\": \\"sb\\"}"', '"{\\"password\\": ***, \\"user\\": \\"sb\\"}"'),
    ("FATAL:  password authentication failed for user \"sb\"", "FATAL:  password authentication failed for user \"sb\""),
])
def test_password_fragments_are_redacted(text, expected):
    assert redact_credentials(text) == expected


@settings(max_examples=200)
@given(password=st.text(NOT_SPACE.filter(lambda c: c not in "'\"\\"), min_size=1, max_size=40))
def test_any_libpq_password_is_redacted(password):
    dsn = f"host=db dbname=switchboard password={password} user=sb"
    assert redact_credentials(dsn) == "host=db dbname=switchboard password=*** user=sb"


@pytest.mark.parametrize("text, expected", [
    ("Authorization: Basic c2I6czNjcmV0", "Authorization: Basic ***"),
    ("{'Authorization': 'Basic c2I6czNjcmV0', 'Accept': '*/*'}", "{'Authorization': 'Basic ***', 'Accept': '*/*'}"),
    ('{"authorization": "Bearer abc.def-ghi"}', '{"authorization": "Bearer ***"}'),
    ("proxy-authorization: Basic c2I6czNjcmV0", "proxy-authorization: Basic ***"),
    ("authorization=c2I6czNjcmV0", "authorization=***"),
])
def test_http_authorization_credentials_are_redacted(text, expected):
    assert redact_credentials(text) == expected


# --- personal data -----------------------------------------------------------------------

phones = st.one_of(
    st.from_regex(r"[1-9][0-9]{9,10}", fullmatch=True),  # the telephony contract: 10 or 11 digits
    st.from_regex(r"\+[1-9][0-9]{9,13}", fullmatch=True),  # E.164
    st.from_regex(r"\([1-9][0-9]\) 9?[0-9]{4}-[0-9]{4}", fullmatch=True),  # (11) 98765-4321
    st.from_regex(r"\+55 [1-9][0-9] 9?[0-9]{4}[ -][0-9]{4}", fullmatch=True),
)
emails = st.builds(
    "{}@{}.{}".format,
    st.from_regex(r"[A-Za-z0-9_%+-]([A-Za-z0-9._%+-]{0,20}[A-Za-z0-9_%+-])?", fullmatch=True),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,15}[a-z0-9])?(\.[a-z0-9]{1,10}){0,2}", fullmatch=True),
    st.from_regex(r"[a-z]{2,6}", fullmatch=True),
)
around = st.sampled_from(["{}", "source={}", "'{}'", '"{}"', "to {} now", "({})", "x: {}.", "[{}, 1]", "line\\n{}",
                          "record {}-start"])


@settings(max_examples=300)
@given(phone=phones, template=around)
def test_phone_numbers_are_masked(phone, template):
    masked = mask_personal_data(template.format(phone))
    assert masked == template.format("<phone>")


@settings(max_examples=300)
@given(email=emails, template=around)
def test_email_addresses_are_masked(email, template):
    masked = mask_personal_data(template.format(email))
    assert masked == template.format("<email>")


@settings(max_examples=300)
@given(value=st.one_of(
    st.datetimes(min_value=datetime(1000, 1, 1)).map(lambda moment: moment.isoformat()),
    st.datetimes(min_value=datetime(1000, 1, 1)).map(lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S")),
    st.uuids().map(str),
    st.binary(min_size=16, max_size=16).map(lambda raw: raw.hex()),  # message ids
    st.ip_addresses(v=4).map(str),
    st.floats(allow_nan=False).map(repr),
    st.integers(-9_999_999, 9_999_999).map(str),
    st.integers(0, 10**6).map(lambda n: f"{n // 3600}h{n // 60 % 60}m{n % 60}s"),
))
def test_what_is_not_personal_survives(value):
    assert mask_personal_data(f"value={value} next") == f"value={value} next"


def test_a_url_whose_password_is_redacted_keeps_its_host():
    assert mask_personal_data("amqp://guest:***@rabbit.example.com:5672/") == "amqp://guest:***@rabbit.example.com:5672/"
    assert mask_personal_data("postgresql://sb@db.example.com/x") == "postgresql://sb@db.example.com/x"


def test_personal_data_is_masked_at_info_and_above_only():
    line = "from 11987654321 to ana@example.com via amqp://sb:s3cret@h/v"
    assert scrub(line, logging.DEBUG) == "from 11987654321 to ana@example.com via amqp://sb:***@h/v"
    for level in (logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL):
        assert scrub(line, level) == "from <phone> to <email> via amqp://sb:***@h/v"


def test_a_json_line_stays_one_valid_object_whatever_is_masked():
    line = json.dumps({"source": 11987654321, "text": "a\nana@example.com\n11987654321", "n": 5, "ok": True})
    assert json.loads(scrub_json_line(line, logging.INFO)) == {
        "source": "<phone>", "text": "a\n<email>\n<phone>", "n": 5, "ok": True}
    assert scrub_json_line(line, logging.DEBUG) == line


# --- the pipeline ------------------------------------------------------------------------

@pytest.fixture
def logs(capsys):
    """configure_logging(level, fmt) as the application does, undone afterwards; returns a
    function giving what was written to stderr since the last call."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, sys.excepthook, threading.excepthook,
             {name: logging.getLogger(name).level for name in QUIET_LOGGERS})

    def written() -> str:
        return capsys.readouterr().err

    yield written
    root.handlers[:], level, sys.excepthook, threading.excepthook, levels = saved
    root.setLevel(level)
    for name, quiet_level in levels.items():
        logging.getLogger(name).setLevel(quiet_level)
    logging.captureWarnings(False)
    structlog.reset_defaults()


CANARY_PASSWORD = "Cnry0pw9x"
CANARY_PHONE = "11987650123"


def _leak_everything(log) -> None:
    url = f"postgresql://postgres:{CANARY_PASSWORD}@127.0.0.1:5432/switchboard"
    log.warning("message_dead_lettered", message_id="m-1",
                error=Reason(f"conflict: source={CANARY_PHONE}", for_log="conflict: it differs in source"))
    log.info("nested", detail={"urls": [url], "record": {"source": int(CANARY_PHONE)}})
    try:
        raise RuntimeError(f"cannot reach {url} for {CANARY_PHONE}")
    except RuntimeError:
        log.exception("handler_crashed")
    logging.getLogger("some.library").error("connecting to %s", f"amqps://sb:{CANARY_PASSWORD}@broker/")


@pytest.mark.timeout(10)
@pytest.mark.parametrize("fmt", ["json", "console"])
def test_the_pipeline_scrubs_values_nested_values_and_tracebacks(logs, fmt):
    configure_logging("INFO", fmt)
    _leak_everything(structlog.get_logger("test"))
    written = logs()
    assert "handler_crashed" in written and "RuntimeError: cannot reach postgresql://postgres:***@127.0.0.1" in written
    assert "connecting to amqps://sb:***@broker/" in written
    assert "conflict: it differs in source" in written
    assert CANARY_PASSWORD not in written and CANARY_PHONE not in written


@pytest.mark.timeout(10)
def test_bodies_logged_at_debug_keep_personal_data_but_never_passwords(logs):
    configure_logging("DEBUG", "json")
    structlog.get_logger("test").debug("body", body=f'{{"source": "{CANARY_PHONE}"}}',
                                       url=f"amqp://sb:{CANARY_PASSWORD}@h/v")
    written = logs()
    assert CANARY_PHONE in written and CANARY_PASSWORD not in written


@pytest.mark.timeout(10)
def test_uncaught_exceptions_in_main_and_threads_are_logged_scrubbed(logs):
    configure_logging("INFO", "json")
    try:
        raise ValueError(f"bad URL amqp://sb:{CANARY_PASSWORD}@h/v for {CANARY_PHONE}")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    thread = threading.Thread(target=_raise_in_thread, name="worker-1")
    thread.start()
    thread.join(5)
    events = [json.loads(line) for line in logs().splitlines()]
    assert [event["event"] for event in events] == ["uncaught_exception", "uncaught_exception"]
    assert events[1]["thread"] == "worker-1"
    assert all("Traceback" in event["exception"] and "amqp://sb:***@h/v" in event["exception"] for event in events)
    assert CANARY_PASSWORD not in json.dumps(events) and CANARY_PHONE not in json.dumps(events)


def _raise_in_thread() -> None:
    raise ValueError(f"bad URL amqp://sb:{CANARY_PASSWORD}@h/v for {CANARY_PHONE}")


@pytest.mark.timeout(10)
def test_pikas_own_loggers_are_quiet(logs):
    configure_logging("INFO", "json")
    logging.getLogger("pika.adapters.utils.connection_workflow").error("AMQPConnector - reporting failure")
    logging.getLogger("pika.adapters.base_connection").error("Full-stack connection workflow failed")
    logging.getLogger("pika.callback").error("Calling <bound method> failed")  # amqp_io_thread_died says it
    assert logs() == ""


def test_coloured_console_lines_are_scrubbed_too():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ScrubbingFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.dev.ConsoleRenderer(colors=True)],
        json_lines=False))
    logger = logging.getLogger(f"test-colours-{uuid.uuid4().hex}")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    log = structlog.wrap_logger(logger, processors=[structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
                                wrapper_class=structlog.stdlib.BoundLogger)
    log.info("coloured", source=CANARY_PHONE, password=CANARY_PASSWORD)
    log.info("harmless", queue="billing")
    first, second = stream.getvalue().splitlines()
    assert CANARY_PHONE not in first and CANARY_PASSWORD not in first and "source=<phone>" in first
    assert "\x1b[" in second, "a line with nothing to scrub keeps its colours"


def test_a_pairing_conflict_is_logged_without_the_numbers_its_dead_letter_quotes():
    from consumers.call_pairing import decide
    from schemas.telephony import CallStart

    kept = CallStart(id="71-start", type="start", call_id="71", timestamp="2017-12-11T15:07:13Z",
                     source="99988526423", destination="9933468278")
    conflicting = kept.model_copy(update={"id": "71-start-again", "destination": CANARY_PHONE})
    reason = decide({("71", "start"): kept}, [conflicting]).rejected[0]
    assert CANARY_PHONE in reason and "9933468278" in reason, "the dead letter says exactly what conflicts"
    assert reason.for_log == ("conflicting start record for call 71: it differs in id, destination "
                              "from record 71-start, received first and kept")
