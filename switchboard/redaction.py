"""What must never be written to a log line, found in rendered text.

The rules work on text (a rendered log line, a whole traceback), not on structured values,
so they hold wherever a secret or a phone number ended up: a nested value, an exception
message, the repr of an object in a traceback. They work on JSON-rendered text too (a
JSON string escapes `"` and `\\`, which the patterns allow for).

- `redact_credentials`: the password of a URL of any scheme (`amqp://user:***@host`),
  `password=...`/`pwd=...` fragments (libpq DSNs, keyword arguments, dict reprs), and the
  credentials of an HTTP `Authorization` header.
- `mask_personal_data`: e-mail addresses and phone-number-like runs of digits, for lines at
  info level and above.
"""

from __future__ import annotations

import re

MASK = "***"
PHONE = "<phone>"
EMAIL = "<email>"

# scheme://user:password@ -- everything up to the last @ before a space, so a password with a
# raw @, / or quote in it is covered too (at worst, more than the password is hidden).
_URL_PASSWORD = re.compile(r"(?P<prefix>\b[a-z][a-z0-9+.-]*://[^\s:/@\"'<>]*:)(?P<password>\S*)(?=@)", re.IGNORECASE)
# password=secret, PGPASSWORD=secret, pwd: 'secret', "password": "secret", password='it\'s' (libpq)
_KEYWORD_PASSWORD = re.compile(
    r"""(?P<prefix>(?:password|passwd|pwd)(?:\\?["'])?\s*[=:]\s*)(?P<password>"""
    r"'(?:[^'\\]|\\.)*'"  # 'quoted', with \' escapes
    r'|"(?:[^"\\]|\\.)*"'  # "quoted", with \" escapes
    r'|\\"(?:[^\\]|\\[^"])*?\\"'  # \"quoted\" inside a JSON string
    r"""|(?:[^\s"'\\]|\\[^"'])+)""",  # bare, up to a space or quote (an escape stays whole)
    re.IGNORECASE,
)
# Authorization: Basic dXNlcjpwYXNz / 'Authorization': 'Bearer abc' / authorization=abc
_AUTH_SCHEMES = r"(?:basic|bearer|digest|token|negotiate|ntlm|hoba|mutual|vapid|aws4-hmac-sha256|scram-sha-\d+)"
_AUTHORIZATION = re.compile(
    r"""(?P<prefix>(?:proxy-)?authorization(?:\\?["'])?\s*[=:]\s*(?:\\?["'])?"""
    rf"""(?:{_AUTH_SCHEMES}\s+)?)(?P<credentials>[^\s"',;\\]+)""",
    re.IGNORECASE,
)

# Where a word starts: after a character that cannot be part of it, or after a \n, \t or \r
# escape (a repr shows a newline that way, and the n must not count as part of the word).
_AFTER_ESCAPE = r"(?<=\\[ntr])"
_EMAIL_ADDRESS = re.compile(
    rf"(?:{_AFTER_ESCAPE}|(?<![\w.+%/\\-]))[\w.+%-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{{2,}}\b", re.IGNORECASE
)
# A candidate: digits, optionally led by + and grouped by parentheses, single spaces or dashes;
# not a piece of a longer word, number, UUID or IP address (the lookarounds).
_PHONE_CANDIDATE = re.compile(
    rf"(?:{_AFTER_ESCAPE}|(?<![\w.+]))(?<![0-9a-f]-)"  # not inside a word, a decimal number, a UUID
    r"\+?(?:\(\d{1,4}\) ?|\d)(?:[ -]?(?:\(\d{1,4}\)|\d))*"  # (11) is an area code
    r"(?!\w|\.\d|-[0-9a-f])",
    re.IGNORECASE,
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 8, 15  # a local number without area code .. E.164


def redact_credentials(text: str) -> str:
    """`text` with every password and HTTP credential replaced by ***."""
    text = _URL_PASSWORD.sub(rf"\g<prefix>{MASK}", text)
    text = _KEYWORD_PASSWORD.sub(rf"\g<prefix>{MASK}", text)
    return _AUTHORIZATION.sub(rf"\g<prefix>{MASK}", text)


def mask_personal_data(text: str) -> str:
    """`text` with e-mail addresses replaced by <email> and phone numbers by <phone>."""
    text = _EMAIL_ADDRESS.sub(EMAIL, text)
    return _PHONE_CANDIDATE.sub(_mask_phone, text)


def _mask_phone(match: re.Match) -> str:
    candidate = match.group()
    digits = sum(char.isdigit() for char in candidate)
    if not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS or _DATE.search(candidate):
        return candidate
    return PHONE
