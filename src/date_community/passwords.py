"""Which passwords are accepted: NIST SP 800-63B rev. 4, section 3.1.1.2.

A password used alone must have at least 15 characters, counted as Unicode
code points after NFKC normalisation (so a full-width ｐａｓｓ counts the same as
pass).  There are no composition rules: no "one digit, one capital".  Instead
a password is refused when it is easy to guess:

* it is on the list of common and breached passwords shipped in
  ``data/common_passwords.txt`` (also once digits, spaces and punctuation are
  removed, so ``password-12345678`` is refused like ``password``);
* it is the user name, or the user name plus digits and punctuation;
* it is the service's or the city's name, or that plus digits and punctuation;
* it is one short piece repeated (``passwordpassword``, ``aaaaaaaaaaaaaaa``)
  or a run of consecutive characters (``abcdefghijklmnop``).

A passphrase of a few ordinary words ("ringo mikan budou momo") passes.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

from .errors import ValidationError

MIN_LENGTH = 15
MAX_LENGTH = 256
COMMON_LIST = Path(__file__).resolve().parent / "data" / "common_passwords.txt"
# Names a user might build a password from: the product's and the city's.
PRODUCT_NAMES = ("datecommunity", "date", "community", "datecity", "datecityhall", "dateshi", "伊達市", "伊達",
                 "smartphone", "smartphonesupport")
_SEPARATORS = re.compile(r"[\W_]+")
_DIGITS = re.compile(r"\d+")


def normalize(password: str) -> str:
    """The form that is measured and hashed: NFKC, as NIST recommends."""
    return unicodedata.normalize("NFKC", password or "")


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def _is_repeated(text: str) -> bool:
    """One piece of at most half the length, repeated (and perhaps cut short)."""
    n = len(text)
    for size in range(1, n // 2 + 1):
        unit = text[:size]
        if (unit * (n // size + 1))[:n] == text:
            return True
    return False


def _is_run(text: str) -> bool:
    """abcdef…, 98765…: each character one code point from the one before."""
    if len(text) < 4:
        return False
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:])}
    if text.isdigit():  # 7890123…: digits wrap around
        steps = {step % 10 for step in steps}
        return steps in ({1}, {9})
    return steps in ({1}, {-1})


def _guessable(core: str) -> bool:
    """True when what is left of a password (letters only, lower case) adds nothing."""
    return not core or core in common_passwords() or _is_repeated(core) or _is_run(core)


def _without(text: str, names: tuple[str, ...]) -> str:
    for name in sorted(names, key=len, reverse=True):
        if name:
            text = text.replace(name, "")
    return text


def weakness(password: str, *, username: str = "", extra_words: tuple[str, ...] = ()) -> str | None:
    """The reason a password is refused ("too_short", "too_long", "username",
    "common"), or None when it is fine.  ``extra_words`` are refused like the
    list (the demo logins' published passwords, for instance)."""
    text = normalize(password)
    if len(text) < MIN_LENGTH:
        return "too_short"
    if len(text) > MAX_LENGTH:
        return "too_long"
    low = text.casefold()
    squashed = _SEPARATORS.sub("", low)
    letters = _DIGITS.sub("", squashed)
    user = _SEPARATORS.sub("", normalize(username).casefold())
    if len(user) >= 2 and user in squashed:
        rest = _DIGITS.sub("", squashed.replace(user, ""))
        if _guessable(rest):
            return "username"
    if low in common_passwords() or squashed in common_passwords() or low in extra_words:
        return "common"
    if _is_repeated(squashed) or _is_run(squashed) or (letters and _is_repeated(letters) and len(letters) >= 4):
        return "common"
    if any(name in squashed for name in PRODUCT_NAMES):
        rest = _DIGITS.sub("", _without(squashed, PRODUCT_NAMES))
        if _guessable(rest):
            return "common"
    if not letters and len(set(squashed)) < 5:
        return "common"  # digits only, from four or fewer different digits
    if letters and letters != squashed and _guessable(letters):
        return "common"  # a common word with digits and punctuation around it
    return None


CODES = {"too_short": "password_too_short", "too_long": "password_too_long",
         "username": "password_like_username", "common": "password_too_common"}


def check(password: str, *, username: str = "", extra_words: tuple[str, ...] = ()) -> str:
    """The normalised password, or ValidationError(password_too_short, …) with field="password"."""
    reason = weakness(password, username=username, extra_words=extra_words)
    if reason:
        raise ValidationError(CODES[reason], field="password", min_length=MIN_LENGTH, max_length=MAX_LENGTH)
    return normalize(password)
