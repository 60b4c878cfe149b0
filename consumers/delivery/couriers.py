"""What a dispatcher sends through, per channel: SMS one by one over a keep-alive connection,
e-mail over one SMTP session per batch."""

from __future__ import annotations

from typing import Sequence

from consumers.delivery.decisions import Attempt
from consumers.delivery.sms_gateway import SmsGateway
from consumers.delivery.smtp import SmtpSender, compose
from storage.deliveries import Due


class SmsCourier:
    def __init__(self, gateway: SmsGateway):
        self._gateway = gateway

    def deliver(self, items: Sequence[tuple[Due, str]]) -> list[Attempt]:
        return [self._gateway.send(phone, due.body, reference=due.notification_id) for due, phone in items]

    def close(self) -> None:
        self._gateway.close()


class EmailCourier:
    def __init__(self, sender: SmtpSender):
        self._sender = sender

    def deliver(self, items: Sequence[tuple[Due, str]]) -> list[Attempt]:
        with self._sender.session() as session:
            return [session.send(compose(due.notification_id, self._sender.sender, due.name, email, due.subject, due.body))
                    for due, email in items]

    def close(self) -> None:
        pass
