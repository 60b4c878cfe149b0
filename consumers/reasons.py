"""Dead-letter reasons that quote the message's personal data.

A reason that names what is wrong with a record by quoting it (a conflicting call record with
its phone numbers, later an e-mail address or a message text) is a `Reason`: as a string it is
the whole reason, which goes into the dead letter's `x-switchboard-reason` header (it travels
with the message, which holds the same data); its `for_log` says the same without the quoted
values, and that is what the logs show (switchboard/logs.py logs any string with a `for_log`
that way). A plain string reason must quote no personal data.
"""

from __future__ import annotations


class Reason(str):
    for_log: str

    def __new__(cls, text: str, *, for_log: str) -> "Reason":
        reason = super().__new__(cls, text)
        reason.for_log = for_log
        return reason
