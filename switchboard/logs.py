"""structlog setup: JSON lines off a TTY, readable console on one; stdlib logs share the pipeline.

No password and no personal data at info level or above reaches a log line:
- a value that knows its log form (a dead-letter reason quoting a record,
  `consumers.reasons.Reason`) is logged in that form, without the quoted values;
- the line is scrubbed last, once rendered, so nested values, exception messages and whole
  tracebacks are covered (switchboard/redaction.py): credentials always, e-mail addresses
  and phone numbers at info and above (message bodies are logged at debug only);
- exceptions nobody caught, in any thread, and Python warnings go through the same pipeline;
- pika's own loggers are quiet: they repeat, with whole connection-workflow stack traces,
  what broker/link.py logs in one line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading

import structlog

from switchboard.redaction import mask_personal_data, redact_credentials

# Libraries' own loggers, from the level where they say what our own events do not.
QUIET_LOGGERS = {
    "pika": logging.CRITICAL,  # a callback of ours that raised: amqp_io_thread_died has the traceback
    "amqp": logging.WARNING,
    "kombu": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "alembic.runtime.plugins": logging.WARNING,
}


def scrub(text: str, level: int) -> str:
    """Text as it may be written at `level`: no credentials; at info and above, no e-mail
    addresses or phone numbers."""
    text = redact_credentials(text)
    return mask_personal_data(text) if level >= logging.INFO else text


def scrub_json_line(line: str, level: int) -> str:
    """A rendered JSON line, scrubbed value by value (so the result is still one valid JSON
    object, and an escape such as \\n cannot hide the start of a phone number)."""
    try:
        document = json.loads(line)
    except ValueError:
        return scrub(line, level)
    scrubbed = _scrub_value(document, level)
    return line if scrubbed == document else json.dumps(scrubbed)


def _scrub_value(value, level: int):
    if isinstance(value, str):
        return scrub(value, level)
    if isinstance(value, dict):
        return {scrub(key, level): _scrub_value(item, level) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub_value(item, level) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
        return value if scrub(text, level) == text else scrub(text, level)
    return value


_ANSI_STYLE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ScrubbingFormatter(structlog.stdlib.ProcessorFormatter):
    """Scrubs what the structlog pipeline rendered, which by then includes formatted
    exceptions and the repr of every nested value."""

    def __init__(self, *args, json_lines: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self._json_lines = json_lines

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if self._json_lines:
            return scrub_json_line(line, record.levelno)
        # Scrubbed without its colours, so a styled key or value is not hidden from the
        # patterns; a line that needed scrubbing is written without colours.
        plain = _ANSI_STYLE.sub("", line)
        scrubbed = scrub(plain, record.levelno)
        return line if scrubbed == plain else scrubbed


def _log_forms(_logger, _name, event_dict: dict) -> dict:
    for key, value in event_dict.items():
        for_log = getattr(value, "for_log", None)
        if isinstance(value, str) and isinstance(for_log, str):
            event_dict[key] = for_log
    return event_dict


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _log_forms,
    ]
    renderer = (
        structlog.processors.JSONRenderer()
        if use_json
        # A plain traceback: rich's would show local variables and wrap long lines, which
        # can cut a URL in two where no pattern can find its password.
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = ScrubbingFormatter(
        json_lines=use_json,
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if use_json else (lambda _l, _n, e: e),
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name, quiet_level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet_level)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


_uncaught = structlog.get_logger("switchboard.uncaught")


def _log_uncaught(exc_type, exc_value, traceback) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc_value, traceback)
        return
    _uncaught.critical("uncaught_exception", exc_info=(exc_type, exc_value, traceback))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    _uncaught.critical("uncaught_exception", thread=getattr(args.thread, "name", None),
                       exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
