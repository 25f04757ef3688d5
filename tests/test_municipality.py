"""The municipality profile: the check digit, the shipped profile, and one-line errors for bad files."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from date_community import municipality
from date_community.municipality import ProfileError

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "content" / municipality.FILE_NAME


@pytest.mark.parametrize("code", [
    "072133",  # 伊達市
    "073032",  # 国見町
    "073016",  # 桑折町
    "072010",  # 福島市
    "011002",  # 札幌市
    "131016",  # 千代田区
    "012335",  # 伊達市 (北海道), the other Date
])
def test_real_codes_have_valid_check_digits(code):
    assert municipality.valid_code(code)


@pytest.mark.parametrize("code", ["072134", "07213", "0721333", "07213X", "", "073031"])
def test_wrong_or_malformed_codes_are_refused(code):
    assert not municipality.valid_code(code)


def test_check_digit_wraps_to_one_digit():
    # Sum ≡ 0 (mod 11) gives 11 → 1; sum ≡ 1 gives 10 → 0.
    assert municipality.check_digit("00000") == 1
    assert municipality.check_digit("00003") == 5  # 6 → 11 - 6
    assert municipality.check_digit("10001") == 3  # 6 + 2 = 8 → 3
    assert municipality.check_digit("00010") == 8  # 3 → 8
    assert municipality.check_digit("20000") == 0  # 12 ≡ 1 → 10 → 0


def test_the_shipped_profile_loads():
    profile = municipality.load(SHIPPED)
    assert profile.code == "072133"
    assert profile.name.get("ja") == "伊達市"
    assert profile.district_keys == ("伊達", "梁川", "保原", "霊山", "月舘")
    assert profile.district("霊山").names.get("en") == "Ryozen"
    assert re.fullmatch(r"0\d+-\d+-\d+", profile.desk.phone)
    for locale in ("ja", "en", "zh_Hans", "zh_Hant", "ko"):
        assert profile.name.get(locale) and profile.desk.name.get(locale)


def test_a_missing_language_falls_back_to_english_then_japanese():
    texts = municipality.Texts({"ja": "伊達市", "en": "Date City"})
    assert texts.get("ko") == "Date City"
    assert municipality.Texts({"ja": "伊達市"}).get("ko") == "伊達市"


def _profile_with(tmp_path: Path, old: str, new: str) -> Path:
    text = SHIPPED.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / municipality.FILE_NAME
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, field", [
    ('code = "072133"', 'code = "072134"', "code"),
    ('code = "072133"', 'code = 72133', "code"),
    ('kana = "だてし"', 'kana = "date-shi"', "name.kana"),
    ('ko = "다테시"', '', "name.ko"),
    ('key = "梁川"', 'key = "伊達"', "districts[1].key"),
    ('phone = "024-577-1111"', 'phone = "call us"', "desk.phone"),
    ('url = "https://www.city.fukushima-date.lg.jp/"', 'url = "javascript:alert(1)"', "tourism_office.url"),
    ('[opendata]\nlicence = "CC BY 4.0"', '[opendata]', "opendata.licence"),
    ('[privacy]', '[brand]\ncolour = "blue"\n\n[privacy]', "brand.colour"),
])
def test_a_bad_profile_names_the_file_and_the_field(tmp_path, old, new, field):
    path = _profile_with(tmp_path, old, new)
    with pytest.raises(ProfileError) as info:
        municipality.load(path)
    assert info.value.code == "invalid_profile"
    assert info.value.params["field"] == field
    assert info.value.params["file"] == str(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("content, problem", [
    (None, "not found"),
    ("code = [", "is not valid TOML"),
    (b"\xff\xfe\x00", "cannot be read"),
])
def test_unreadable_files_are_one_error(tmp_path, content, problem):
    path = tmp_path / "municipality.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        municipality.load(path)
    assert info.value.params["field"] == "(file)"
    assert info.value.params["problem"].startswith(problem)
