"""E-mail over SMTP, one session per batch (smtplib).

`smtp://[user:password@]host[:port]` uses STARTTLS when the server offers it (`?starttls=required`
refuses a server that does not, `?starttls=never` never asks); `smtps://` is TLS from the first
byte (port 465 by default). The Message-ID is derived from the notification id, so a resend
after a crash carries the same one. 4xx answers and lost connections are transient, 5xx
answers permanent.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from typing import Iterator
from urllib.parse import parse_qs, unquote, urlsplit

from consumers.delivery.decisions import SENT, Attempt, failed, retry

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def message_id(notification_id: str, sender: str) -> str:
    local = notification_id if _SAFE_ID.match(notification_id) else hashlib.sha256(notification_id.encode()).hexdigest()[:32]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "switchboard.local"
    return f"<{local}.notification@{domain}>"


def compose(notification_id: str, sender: str, to_name: str | None, to_address: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((to_name or "", to_address))
    message["Subject"] = subject
    message["Message-ID"] = message_id(notification_id, sender)
    message["Date"] = formatdate(usegmt=True)
    message.set_content(body)
    return message


class SmtpSender:
    def __init__(self, url: str, sender: str, *, timeout_s: float = 10.0):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"an SMTP URL starts with smtp:// or smtps://, got {parts.scheme or 'nothing'}://")
        self._tls = parts.scheme == "smtps"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (465 if self._tls else 25)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._starttls = parse_qs(parts.query).get("starttls", ["auto"])[0]
        self.sender = sender
        self._timeout = timeout_s

    @contextmanager
    def session(self) -> Iterator["SmtpSession"]:
        """One connection for a batch; a connection that cannot be made is transient for all."""
        try:
            server = self._connect()
        except (OSError, smtplib.SMTPException) as error:
            yield SmtpSession(None, f"the SMTP server is not reachable ({type(error).__name__}: {error})")
            return
        session = SmtpSession(server, None)
        try:
            yield session
        finally:
            session.close()

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self._tls:
            server = smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=context)
        else:
            server = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            server.ehlo()
            offered = server.has_extn("starttls")
            if self._starttls == "required" and not offered:
                raise smtplib.SMTPNotSupportedError("STARTTLS required but the server does not offer it")
            if offered and self._starttls != "never":
                server.starttls(context=context)
                server.ehlo()
        if self._user:
            server.login(self._user, self._password or "")
        return server


class SmtpSession:
    def __init__(self, server: smtplib.SMTP | None, broken: str | None):
        self._server = server
        self._broken = broken

    def send(self, message: EmailMessage) -> Attempt:
        if self._server is None:
            return retry(self._broken or "no SMTP session")
        try:
            self._server.send_message(message)
            return SENT
        except smtplib.SMTPRecipientsRefused as error:
            code, answer = next(iter(error.recipients.values()))
            return _answer(code, answer)
        except smtplib.SMTPResponseException as error:
            return _answer(error.smtp_code, error.smtp_error)
        except (OSError, smtplib.SMTPException) as error:  # the connection is gone: the rest of the batch too
            self.close()
            self._broken = f"the SMTP session broke ({type(error).__name__}: {error})"
            return retry(self._broken)

    def close(self) -> None:
        if self._server is not None:
            try:
                self._server.quit()
            except (OSError, smtplib.SMTPException):
                self._server.close()
            self._server = None


def _answer(code: int, text: bytes | str) -> Attempt:
    answer = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    reason = f"the SMTP server answered {code} {answer.strip()[:200]}"
    return retry(reason) if 400 <= code < 500 else failed(reason)
