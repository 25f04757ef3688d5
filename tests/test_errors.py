"""Every error code the library raises has an entry in errors.MESSAGES."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from date_community import errors

SRC = Path(errors.__file__).resolve().parent

# ``SomeError("code"`` for every class of the error family, and codes handed to
# the sessions helper ``_int(value, "code")`` that raises them on its behalf.
_RAISED = re.compile(
    r"\b(?:DateCommunityError|NotFound|ValidationError|RuleViolation|PermissionDenied)\(\s*[\"']([A-Za-z0-9_]+)[\"']")
_VIA_HELPER = re.compile(r"\b_int\([^()]*?,\s*[\"']([A-Za-z0-9_]+)[\"']\s*\)")
# Form checks collect codes in a dict (``errors[field] = "code"``) that is later
# raised as ``ValidationError(code)``, and keep defaults in ``*_CODES`` tables.
_VIA_FORM = re.compile(r"\berrors\[[^\]]+\]\s*=\s*[\"']([A-Za-z0-9_]+)[\"']")
_CODES_TABLE = re.compile(r"^_?[A-Z_]*CODES\s*=\s*\{(.*?)\}", re.S | re.M)
_TABLE_VALUE = re.compile(r":\s*[\"']([A-Za-z0-9_]+)[\"']")


def _codes_in_source() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        matches = [m for pattern in (_RAISED, _VIA_HELPER, _VIA_FORM) for m in pattern.finditer(text)]
        for table in _CODES_TABLE.finditer(text):
            matches.extend(_TABLE_VALUE.finditer(text, table.start(1), table.end(1)))
        for match in matches:
            line = text.count("\n", 0, match.start()) + 1
            found.setdefault(match.group(1), []).append(f"{path.relative_to(SRC)}:{line}")
    return found


def test_source_scan_finds_the_codes_it_should():
    # guards the regexes themselves: a scan that finds nothing would pass vacuously
    codes = _codes_in_source()
    assert {"already_booked", "session_not_found", "invalid_phone", "invalid_seats", "invalid_helpers",
            "invalid_database", "helpers_full"} <= set(codes)


def test_every_raised_code_has_a_message():
    codes = _codes_in_source()
    missing = {code: where for code, where in codes.items() if code not in errors.MESSAGES}
    assert {} == missing


def test_messages_never_contain_sql():
    offending = {code: text for code, text in errors.MESSAGES.items()
                 if re.search(r"\b(SELECT|INSERT|UPDATE|DELETE)\b", text)}
    assert {} == offending


def test_unknown_code_raises_value_error():
    with pytest.raises(ValueError, match="no_such_code"):
        errors.DateCommunityError("no_such_code")


@pytest.mark.parametrize("cls", [
    errors.DateCommunityError,  # the base class itself
    errors.NotFound,  # subclasses go through the same check
    errors.ValidationError,
    errors.RuleViolation,
    errors.PermissionDenied,
])
def test_known_code_keeps_code_params_and_message(cls):
    exc = cls("already_booked", session=3)
    assert "already_booked" == exc.code
    assert {"session": 3} == exc.params
    assert errors.MESSAGES["already_booked"] + " (session=3)" == str(exc)
    assert {"error": "already_booked", "message": str(exc)} == exc.as_dict()
    assert isinstance(exc, errors.DateCommunityError)
