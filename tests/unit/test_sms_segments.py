"""SMS segment counts at their boundaries (GSM-7 160/153, UCS-2 70/67, extension characters)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.delivery.segments import GSM_BASIC, GSM_EXTENSION, MAX_SEGMENTS, segments, too_long


@pytest.mark.parametrize("text, encoding, count", [
    ("", "GSM-7", 1),
    ("a" * 160, "GSM-7", 1),
    ("a" * 161, "GSM-7", 2),
    ("a" * 306, "GSM-7", 2),
    ("a" * 307, "GSM-7", 3),
    ("€" * 80, "GSM-7", 1),  # 160 septets
    ("€" * 80 + "a", "GSM-7", 2),
    ("ç" * 70, "UCS-2", 1),  # ç (lower case) is not in GSM 03.38
    ("ç" * 71, "UCS-2", 2),
    ("ç" * 134, "UCS-2", 2),
    ("ç" * 135, "UCS-2", 3),
    ("😀" * 35, "UCS-2", 1),  # 70 code units: an emoji is a surrogate pair
    ("😀" * 35 + "a", "UCS-2", 2),
    ("Café" + "a" * 156, "GSM-7", 1),  # é is in the alphabet
])
def test_boundaries(text, encoding, count):
    found = segments(text)
    assert (found.encoding, found.count) == (encoding, count)


def test_one_foreign_character_makes_the_whole_text_ucs2():
    assert segments("a" * 100).count == 1
    assert segments("a" * 99 + "ç").count == 2


def test_more_than_ten_segments_is_refused_with_the_count():
    assert too_long("a" * 1530) is None  # 10 × 153
    assert too_long("a" * 1531) == "the SMS needs 11 segments (GSM-7, 1531 units); at most 10 are sent"


GSM_TEXT = st.text(alphabet=sorted(GSM_BASIC | GSM_EXTENSION), max_size=2000)


@given(GSM_TEXT)
def test_gsm7_segments_hold_all_septets_and_no_fewer_would(text):
    found = segments(text)
    capacity = 160 if found.count == 1 else 153
    assert found.units <= found.count * capacity
    assert found.count == 1 or found.units > (found.count - 1) * 153 and found.units > 160


@given(st.text(max_size=800).filter(lambda t: any(c not in GSM_BASIC and c not in GSM_EXTENSION for c in t)))
def test_ucs2_segments_hold_all_units_and_no_fewer_would(text):
    found = segments(text)
    assert found.encoding == "UCS-2"
    capacity = 70 if found.count == 1 else 67
    assert found.units <= found.count * capacity
    assert found.count == 1 or found.units > max(70, (found.count - 1) * 67)


def test_max_segments_is_ten():
    assert MAX_SEGMENTS == 10
