"""How many SMS segments a text takes.

A text whose every character is in the GSM 03.38 alphabet is sent in GSM-7: one segment up to
160 septets, else 153 per segment (the other 7 carry the concatenation header). The characters
of the alphabet's extension table (`€ [ ] { } \\ ^ ~ |` and form feed) take two septets each.
Any other character makes the whole text UCS-2: one segment up to 70 UTF-16 code units, else
67 per segment (a character outside the Basic Multilingual Plane, such as an emoji, takes two).
A text that needs more than MAX_SEGMENTS is not sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

MAX_SEGMENTS = 10

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")


@dataclass(frozen=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    count: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)


def segments(text: str) -> Segments:
    if all(char in GSM_BASIC or char in GSM_EXTENSION for char in text):
        septets = len(text) + sum(char in GSM_EXTENSION for char in text)
        return Segments("GSM-7", 1 if septets <= 160 else ceil(septets / 153), septets)
    units = len(text.encode("utf-16-le")) // 2
    return Segments("UCS-2", 1 if units <= 70 else ceil(units / 67), units)


def too_long(text: str) -> str | None:
    """Why the text cannot go out as an SMS, or None."""
    needed = segments(text)
    if needed.count <= MAX_SEGMENTS:
        return None
    return (f"the SMS needs {needed.count} segments ({needed.encoding}, {needed.units} units); "
            f"at most {MAX_SEGMENTS} are sent")
