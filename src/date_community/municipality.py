"""The municipality profile: who this installation serves.

A town is described by one TOML file (``content/municipality.toml``): its
全国地方公共団体コード, prefecture, names in the five languages with kana, its
districts, the smartphone desk, the tourism office, the purpose-of-use text
for forms and the web, the open-data licence and optional brand colours.
:func:`load` validates the whole file and raises :class:`ProfileError` naming
the file and the field, so a bad profile stops start-up with one line.

The profile is plain data (frozen dataclasses); nothing here touches the
database.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DateCommunityError
from .i18n import LOCALES

FILE_NAME = "municipality.toml"
_KANA = re.compile(r"^[\u3041-\u309f\u30a0-\u30ff\u30fc・ 　]+$")  # hiragana, katakana, ー, ・, spaces
_PHONE = re.compile(r"^0\d{1,4}-\d{1,4}-\d{3,4}$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class ProfileError(DateCommunityError):
    """A municipality profile that cannot be used; ``field`` is a dotted path."""


def check_digit(first_five: str) -> int:
    """The sixth digit of a 全国地方公共団体コード (JIS X 0402).

    Weights 6, 5, 4, 3, 2 on the five digits; the check digit is
    11 minus the sum modulo 11, keeping only its last digit.
    """
    if not re.fullmatch(r"\d{5}", first_five):
        raise ValueError("five digits expected")
    total = sum(int(d) * w for d, w in zip(first_five, (6, 5, 4, 3, 2)))
    return (11 - total % 11) % 10


def valid_code(code: str) -> bool:
    return bool(re.fullmatch(r"\d{6}", code or "")) and check_digit(code[:5]) == int(code[5])


@dataclass(frozen=True)
class Texts:
    """One text in the languages it is given in; Japanese is always there."""

    values: dict[str, str]

    def get(self, locale: str) -> str:
        return self.values.get(locale) or self.values.get("en") or self.values["ja"]


@dataclass(frozen=True)
class District:
    key: str
    kana: str
    names: Texts


@dataclass(frozen=True)
class Contact:
    name: Texts
    phone: str
    hours: Texts | None = None
    address: Texts | None = None
    url: str = ""


@dataclass(frozen=True)
class Profile:
    code: str
    prefecture: Texts
    prefecture_kana: str
    name: Texts
    kana: str
    districts: tuple[District, ...]
    desk: Contact
    tourism_office: Contact
    purpose: Texts
    licence: str
    licence_url: str
    brand_colour: str = ""
    logo: str = ""
    path: Path | None = None

    @property
    def district_keys(self) -> tuple[str, ...]:
        return tuple(d.key for d in self.districts)

    def district(self, key: str) -> District | None:
        return next((d for d in self.districts if d.key == key), None)


class _Reader:
    """Walks the parsed TOML, turning every problem into a ProfileError with its field path."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, field: str, problem: str):
        raise ProfileError("invalid_profile", file=str(self.path), field=field, problem=problem)

    def table(self, data: Any, field: str) -> dict:
        if not isinstance(data, dict):
            self.fail(field, "missing" if data is None else "must be a table")
        return data

    def text(self, data: dict, key: str, field: str, *, required: bool = True) -> str:
        value = data.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.fail(field, "missing" if value is None else "must be a non-empty string")
        return value.strip()

    def texts(self, data: dict, key: str, field: str, *, all_locales: bool, required: bool = True) -> Texts | None:
        value = data.get(key)
        if value is None and not required:
            return None
        value = self.table(value, field)
        wanted = LOCALES if all_locales else ("ja",)
        for locale in wanted:
            self.text(value, locale, f"{field}.{locale}")
        unknown = set(value) - set(LOCALES) - {"kana"}
        if unknown:
            self.fail(f"{field}.{sorted(unknown)[0]}", "unknown language")
        return Texts({k: v.strip() for k, v in value.items() if k in LOCALES and isinstance(v, str) and v.strip()})

    def kana(self, data: dict, key: str, field: str) -> str:
        value = self.text(data, key, field)
        if not _KANA.match(value):
            self.fail(field, "must be written in kana")
        return value

    def phone(self, data: dict, key: str, field: str) -> str:
        value = self.text(data, key, field)
        if not _PHONE.match(value):
            self.fail(field, "must be a Japanese phone number such as 024-577-1111")
        return value

    def url(self, data: dict, key: str, field: str, *, required: bool = True) -> str:
        value = self.text(data, key, field, required=required)
        if value and not re.match(r"^https?://[^\s/]+", value):
            self.fail(field, "must be an http or https URL")
        return value

    def contact(self, data: Any, field: str, *, desk: bool) -> Contact:
        data = self.table(data, field)
        return Contact(
            name=self.texts(data, "name", f"{field}.name", all_locales=desk),
            phone=self.phone(data, "phone", f"{field}.phone"),
            hours=self.texts(data, "hours", f"{field}.hours", all_locales=desk, required=desk),
            address=self.texts(data, "address", f"{field}.address", all_locales=False, required=desk),
            url=self.url(data, "url", f"{field}.url", required=not desk),
        )


def load(path: str | Path) -> Profile:
    """Read and validate a profile; :class:`ProfileError` names the file and the field."""
    path = Path(path)
    r = _Reader(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        r.fail("(file)", "not found")
    except (OSError, UnicodeDecodeError) as exc:
        r.fail("(file)", f"cannot be read ({type(exc).__name__})")
    except tomllib.TOMLDecodeError as exc:
        r.fail("(file)", f"is not valid TOML: {exc}")

    code = data.get("code")
    if not isinstance(code, str) or not re.fullmatch(r"\d{6}", code):
        r.fail("code", "must be the six-digit 全国地方公共団体コード as a string, such as \"072133\"")
    if not valid_code(code):
        r.fail("code", f"check digit is wrong (expected {code[:5]}{check_digit(code[:5])})")

    prefecture = r.table(data.get("prefecture"), "prefecture")
    name = r.table(data.get("name"), "name")
    districts_data = data.get("districts")
    if not isinstance(districts_data, list) or not districts_data:
        r.fail("districts", "at least one [[districts]] entry is needed")
    districts = []
    for i, entry in enumerate(districts_data):
        field = f"districts[{i}]"
        entry = r.table(entry, field)
        key = r.text(entry, "key", f"{field}.key")
        if any(d.key == key for d in districts):
            r.fail(f"{field}.key", f"duplicate district {key}")
        districts.append(District(key=key, kana=r.kana(entry, "kana", f"{field}.kana"),
                                  names=r.texts(entry, "names", f"{field}.names", all_locales=True)))

    privacy = r.table(data.get("privacy"), "privacy")
    opendata = r.table(data.get("opendata"), "opendata")
    brand = data.get("brand") or {}
    brand = r.table(brand, "brand")
    colour = r.text(brand, "colour", "brand.colour", required=False)
    if colour and not _COLOUR.match(colour):
        r.fail("brand.colour", "must be a colour such as #1a5e9a")
    logo = r.text(brand, "logo", "brand.logo", required=False)
    if logo and not (path.parent / logo).is_file():
        r.fail("brand.logo", "file not found next to the profile")

    return Profile(
        code=code,
        prefecture=r.texts(data, "prefecture", "prefecture", all_locales=True),
        prefecture_kana=r.kana(prefecture, "kana", "prefecture.kana"),
        name=r.texts(data, "name", "name", all_locales=True),
        kana=r.kana(name, "kana", "name.kana"),
        districts=tuple(districts),
        desk=r.contact(data.get("desk"), "desk", desk=True),
        tourism_office=r.contact(data.get("tourism_office"), "tourism_office", desk=False),
        purpose=r.texts(privacy, "purpose", "privacy.purpose", all_locales=False),
        licence=r.text(opendata, "licence", "opendata.licence"),
        licence_url=r.url(opendata, "licence_url", "opendata.licence_url"),
        brand_colour=colour,
        logo=logo,
        path=path,
    )
