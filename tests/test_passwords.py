"""The password rules (NIST SP 800-63B rev. 4): length after NFKC, no
composition rules, and a refusal of guessable passwords."""
from __future__ import annotations

import pytest

from date_community import passwords
from date_community.errors import ValidationError


@pytest.mark.parametrize("password", [
    "sunny orchard kettle",          # a passphrase of a few words
    "りんご みかん ぶどう もも なし",   # in Japanese: 13 kana + 4 spaces = 17 characters
    "kettle orchard 2",              # no capitals or symbols required
    "x" * 3 + "correct horse battery staple",
    "739184620573918",               # fifteen random digits
    "date night in fukushima",       # a word of the city's name, with other words
    "a" * 7 + "b" * 8 + "c",         # not one repeated piece
])
def test_accepted(password):
    assert passwords.weakness(password) is None


@pytest.mark.parametrize("password, reason", [
    ("", "too_short"),
    ("fourteen chars", "too_short"),           # 14 code points
    ("ｆｏｕｒｔｅｅｎ ｃｈａｒｓ", "too_short"),  # full-width: still 14 after NFKC
    ("🙂" * 14, "too_short"),                  # code points, not bytes
    ("x" * 257, "too_long"),
    ("passwordpassword", "common"),            # on the list, and repeated
    ("1qaz2wsx3edc4rfv", "common"),            # on the list
    ("PASSWORD-12345678", "common"),           # a listed word plus digits and punctuation
    ("iloveyou iloveyou", "common"),           # a word repeated
    ("aaaaaaaaaaaaaaaa", "common"),
    ("abcdefghijklmnop", "common"),            # a run of letters
    ("987654321098765", "common"),             # digits: a run
    ("111112222211111", "common"),             # digits: hardly any different ones
    ("datecommunity2026", "common"),           # the product's name
    ("Date-City-12345678", "common"),          # the city's name
    ("伊達市伊達市伊達市伊達市伊達市", "common"),
])
def test_refused(password, reason):
    assert passwords.weakness(password) == reason


@pytest.mark.parametrize("password", ["tanaka-2026-tanaka", "Tanaka_12345678901", "tanakapassword12"])
def test_the_user_name_is_refused(password):
    assert passwords.weakness(password, username="tanaka") == "username"
    assert passwords.weakness(password, username="someone") in (None, "common")


def test_no_composition_rules():
    # Lower-case letters and spaces only: accepted.
    assert passwords.weakness("green tea with my neighbour") is None


def test_fifteen_characters_is_the_boundary():
    assert passwords.weakness("kettle orchard") == "too_short"  # 14
    assert passwords.weakness("kettle orchards") is None  # 15
    assert passwords.weakness("x" * 100 + " kettle orchard " + "y" * 140) is None  # 256
    assert len("x" * 100 + " kettle orchard " + "y" * 140) == 256


def test_check_raises_a_code_with_the_field():
    with pytest.raises(ValidationError) as info:
        passwords.check("short")
    assert (info.value.code, info.value.params["field"]) == ("password_too_short", "password")
    assert passwords.check("ｋｅｔｔｌｅ ｏｒｃｈａｒｄｓ") == "kettle orchards"


def test_the_shipped_list_has_its_source_and_thousands_of_entries():
    first = passwords.COMMON_LIST.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("#") and "MIT" in passwords.COMMON_LIST.read_text(encoding="utf-8")[:400]
    common = passwords.common_passwords()
    assert len(common) > 5000
    assert {"password", "123456", "qwerty"} <= common
