"""Notification contracts: contacts and their preferences, and requests to notify one.

A contact update is partial: it carries the contact's `id`, the time the upstream system
changed it (`updated_at`), and only the fields it changes. A field left out stays as it is; a
field sent as null is cleared (an e-mail address or a phone number the contact removed). Each
field keeps the value of the latest update that carried it (by `updated_at`), whatever order
the updates arrive in.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, ClassVar, Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field, StringConstraints, field_validator

from schemas.base import Message
from schemas.fields import Identifier, UtcDatetime
from schemas.topology import NOTIFICATIONS, Exchange

Channel = Literal["email", "sms"]
CHANNELS: tuple[Channel, ...] = ("email", "sms")


def e164(value: str) -> str:
    """A phone number in E.164 (`+5511987654321`): the country code and the national number."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError("phone number must be a valid number in E.164 form, such as +5511987654321")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_address(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValueError(f"not a valid e-mail address: {error}") from None


PhoneE164 = Annotated[str, AfterValidator(e164)]
EmailAddress = Annotated[str, StringConstraints(strip_whitespace=True, max_length=320), AfterValidator(email_address)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ContactUpserted(Message):
    message_type: ClassVar[str] = "contact.upserted.v1"
    exchange: ClassVar[Exchange] = NOTIFICATIONS

    id: Identifier
    updated_at: UtcDatetime
    name: Name | None = None
    email: EmailAddress | None = None
    phone: PhoneE164 | None = None
    email_enabled: bool | None = None
    sms_enabled: bool | None = None

    def changed_fields(self) -> dict[str, object]:
        """The fields this update sets (to a value, or to null to clear it)."""
        return {name: getattr(self, name) for name in CONTACT_FIELDS if name in self.model_fields_set}

    def to_json_bytes(self) -> bytes:
        # Partial: what was not sent stays out (null means "clear", absent means "unchanged").
        return self.model_dump_json(include={"id", "updated_at", *self.changed_fields()}).encode()


CONTACT_FIELDS = ("name", "email", "phone", "email_enabled", "sms_enabled")


class NotificationRequested(Message):
    message_type: ClassVar[str] = "notification.requested.v1"
    exchange: ClassVar[Exchange] = NOTIFICATIONS

    id: Identifier
    contact_id: Identifier
    subject: Subject
    body: Text
    send_at: UtcDatetime | None = None
    channels: list[Channel] | None = Field(None, min_length=1)

    @field_validator("channels")
    @classmethod
    def _no_repeats(cls, channels: list[Channel] | None) -> list[Channel] | None:
        if channels is not None and len(set(channels)) != len(channels):
            raise ValueError(f"channels must not repeat, got {channels}")
        return channels

    def wants(self, channel: Channel) -> bool:
        """No channels given means every channel the contact has enabled."""
        return self.channels is None or channel in self.channels

    def message_id(self) -> str:
        return hashlib.sha256(f"{self.message_type}\0{self.id}".encode()).hexdigest()[:32]


def due_at(request: NotificationRequested, now: datetime) -> datetime:
    """When a request may be sent: its `send_at`, or now when it has none or it has passed."""
    return max(request.send_at or now, now)
