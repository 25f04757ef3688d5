"""Loading sites and tours from content files: errors name file, line and field; all or nothing."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from date_community import content
from date_community.cli import cli
from date_community.content import ContentError
from date_community.i18n import LOCALES
from date_community.tourism import content_load, sites, tours

ALPHA_TOML = """\
code = "DT01"
marker_id = 1
categories = ["history"]
district = "保原"
sort_order = 10

[location]
lat = 37.8
lon = 140.56
quality = "sourced"
source = "test"

[facts]
address = "伊達市保原町"
opens = "09:00"
closes = "17:00"
fee_free = false
sources = ["https://example.jp/"]
"""

ALPHA_JA = """\
+++
name = "アルファ"
kana = "あるふぁ"
summary = "要約です。"
version = 2
+++
本文です。

## 見どころ

- 庭
"""

ALPHA_EN = """\
+++
name = "Alpha"
summary = "Summary."
translates = 2
+++
Body.
"""

BETA_TOML = ALPHA_TOML.replace('"DT01"', '"DT02"').replace("marker_id = 1", "marker_id = 2") \
    .replace("lat = 37.8", "lat = 37.81").replace("sort_order = 10", "sort_order = 20")
BETA_JA = ALPHA_JA.replace("アルファ", "ベータ").replace("version = 2", "version = 1")

WALK = """\
sites = ["alpha", "beta"]
sort_order = 1

[text.ja]
name = "散歩"
summary = "歩きます。"
version = 1

[text.en]
name = "Walk"
translates = 1
"""


def write(base: Path, relative: str, text: str) -> None:
    path = base / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def folder(tmp_path) -> Path:
    base = tmp_path / "content"
    write(base, "sites/alpha/site.toml", ALPHA_TOML)
    write(base, "sites/alpha/ja.md", ALPHA_JA)
    write(base, "sites/alpha/en.md", ALPHA_EN)
    write(base, "sites/beta/site.toml", BETA_TOML)
    write(base, "sites/beta/ja.md", BETA_JA)
    write(base, "tours/walk.toml", WALK)
    return base


def edit(base: Path, relative: str, old: str, new: str) -> None:
    path = base / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_good_folder_loads(db, folder):
    assert content_load.load_dir(db, folder) == {"sites": 2, "tours": 1}
    alpha = sites.get_site(db, "alpha", "en")
    assert (alpha["name"], alpha["code"], alpha["marker_id"], alpha["lat"]) == ("Alpha", "DT01", 1, 37.8)
    assert alpha["body_html"] == "<p>Body.</p>" and alpha["stale"] is False
    ja = sites.get_site(db, "alpha", "ja")
    assert ja["kana"] == "あるふぁ" and "<h2>見どころ</h2>" in ja["body_html"]
    assert ja["sources"] == ["https://example.jp/"] and ja["fee_free"] is False
    status = {s["locale"]: s["state"] for s in sites.translation_status(db, "alpha")}
    assert status == {"ja": "current", "en": "current", "zh_Hans": "missing", "zh_Hant": "missing",
                      "ko": "missing"}
    walk = tours.get_tour(db, "walk", "en")
    assert walk["name"] == "Walk" and [s["slug"] for s in walk["stops"]] == ["alpha", "beta"]


def test_loading_twice_updates_in_place(db, folder):
    content_load.load_dir(db, folder)
    edit(folder, "sites/alpha/ja.md", "version = 2", "version = 3")
    edit(folder, "sites/alpha/ja.md", "要約です。", "新しい要約です。")
    assert content_load.load_dir(db, folder) == {"sites": 2, "tours": 1}
    assert db.execute("SELECT count(*) FROM tourism_sites").fetchone()[0] == 2
    assert sites.get_site(db, "alpha", "ja")["summary"] == "新しい要約です。"
    status = {s["locale"]: s["state"] for s in sites.translation_status(db, "alpha")}
    assert status["en"] == "stale"


def _delete(base, relative):
    (base / relative).unlink()


def _rename_folder(base, old, new):
    shutil.move(base / old, base / new)


# (change to the good folder, expected (file, line, field))
BROKEN = [
    # missing ja.md
    (lambda b: _delete(b, "sites/alpha/ja.md"), ("sites/alpha/ja.md", 0, "-")),
    # bad district
    (lambda b: edit(b, "sites/alpha/site.toml", "保原", "東京"), ("sites/alpha/site.toml", 4, "district")),
    # latitude out of range
    (lambda b: edit(b, "sites/alpha/site.toml", "lat = 37.8", "lat = 97.8"), ("sites/alpha/site.toml", 8, "location.lat")),
    # longitude out of range
    (lambda b: edit(b, "sites/beta/site.toml", "lon = 140.56", "lon = 240.56"), ("sites/beta/site.toml", 9, "location.lon")),
    # lat given while quality says "missing"
    (lambda b: edit(b, "sites/alpha/site.toml", 'quality = "sourced"', 'quality = "missing"'),
     ("sites/alpha/site.toml", 8, "location.lat")),
    # lat given with no quality line at all
    (lambda b: edit(b, "sites/alpha/site.toml", 'quality = "sourced"\n', ""), ("sites/alpha/site.toml", 8, "location.lat")),
    # unknown quality word
    (lambda b: edit(b, "sites/alpha/site.toml", '"sourced"', '"exact"'), ("sites/alpha/site.toml", 10, "location.quality")),
    # tour stop that is not a site folder
    (lambda b: edit(b, "tours/walk.toml", '"beta"', '"gamma"'), ("tours/walk.toml", 1, "sites")),
    # the same sign code twice
    (lambda b: edit(b, "sites/beta/site.toml", '"DT02"', '"DT01"'), ("sites/beta/site.toml", 1, "code")),
    # the same AR marker twice
    (lambda b: edit(b, "sites/beta/site.toml", "marker_id = 2", "marker_id = 1"), ("sites/beta/site.toml", 2, "marker_id")),
    # malformed code
    (lambda b: edit(b, "sites/beta/site.toml", '"DT02"', '"D2"'), ("sites/beta/site.toml", 1, "code")),
    # TOML syntax error in site.toml: value missing
    (lambda b: edit(b, "sites/alpha/site.toml", "sort_order = 10", "sort_order = "), ("sites/alpha/site.toml", 5, "sort_order")),
    # TOML syntax error in front matter: unterminated string (file line = front-matter line + 1)
    (lambda b: edit(b, "sites/alpha/en.md", 'summary = "Summary."', 'summary = "Summary.'), ("sites/alpha/en.md", 3, "summary")),
    # misspelt key
    (lambda b: edit(b, "sites/alpha/site.toml", "address =", "adress ="), ("sites/alpha/site.toml", 14, "facts.adress")),
    # translation claims a Japanese version that does not exist
    (lambda b: edit(b, "sites/alpha/en.md", "translates = 2", "translates = 3"), ("sites/alpha/en.md", 4, "translates")),
    # translation without "translates"
    (lambda b: edit(b, "sites/alpha/en.md", "translates = 2\n", ""), ("sites/alpha/en.md", 2, "translates")),
    # empty Japanese name
    (lambda b: edit(b, "sites/alpha/ja.md", 'name = "アルファ"', 'name = ""'), ("sites/alpha/ja.md", 2, "name")),
    # kana in a translation (Japanese only)
    (lambda b: edit(b, "sites/alpha/en.md", "translates", 'kana = "x"\ntranslates'), ("sites/alpha/en.md", 4, "kana")),
    # no front matter
    (lambda b: edit(b, "sites/alpha/en.md", "+++\n", "", ), ("sites/alpha/en.md", 1, "-")),
    # a Markdown file for an unsupported language
    (lambda b: write(b, "sites/alpha/fr.md", ALPHA_EN), ("sites/alpha/fr.md", 0, "-")),
    # unknown category
    (lambda b: edit(b, "sites/alpha/site.toml", '["history"]', '["castle"]'), ("sites/alpha/site.toml", 3, "categories")),
    # fee_free as text
    (lambda b: edit(b, "sites/alpha/site.toml", "fee_free = false", 'fee_free = "no"'), ("sites/alpha/site.toml", 17, "facts.fee_free")),
    # opening time not HH:MM
    (lambda b: edit(b, "sites/alpha/site.toml", '"09:00"', '"9時"'), ("sites/alpha/site.toml", 15, "facts.opens")),
    # an image file that is not there
    (lambda b: edit(b, "sites/alpha/site.toml", '.jp/"]\n', '.jp/"]\n\n[[images]]\nfile = "images/none.jpg"\nalt_ja = "x"\n'),
     ("sites/alpha/site.toml", 21, "images[0].file")),
    # a folder name that is not a slug
    (lambda b: _rename_folder(b, "sites/beta", "sites/Beta Site"), ("sites/Beta Site", 0, "slug")),
    # tour language that does not exist
    (lambda b: edit(b, "tours/walk.toml", "[text.en]", "[text.fr]"), ("tours/walk.toml", 9, "text.fr")),
    # tour translation without "translates": reported at its table's line
    (lambda b: edit(b, "tours/walk.toml", "translates = 1\n", ""), ("tours/walk.toml", 9, "text.en.translates")),
    # tour translation newer than the Japanese
    (lambda b: edit(b, "tours/walk.toml", "translates = 1", "translates = 4"), ("tours/walk.toml", 11, "text.en.translates")),
]


@pytest.mark.parametrize("breakage, where", BROKEN, ids=[f"{w[0]}:{w[1]}:{w[2]}" for _, w in BROKEN])
def test_broken_content_names_file_line_field(db, folder, breakage, where):
    breakage(folder)
    with pytest.raises(ContentError) as info:
        content_load.load_dir(db, folder)
    assert (info.value.file, info.value.line, info.value.field) == where
    assert info.value.problem
    assert db.execute("SELECT count(*) FROM tourism_sites").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM tourism_tours").fetchone()[0] == 0


def test_error_late_in_the_load_leaves_earlier_records_unchanged(db, folder):
    content_load.load_dir(db, folder)
    edit(folder, "sites/alpha/ja.md", "要約です。", "書き換えた要約です。")   # valid change, loaded first
    edit(folder, "tours/walk.toml", '"beta"', '"gamma"')                     # error, found last
    with pytest.raises(ContentError) as info:
        content_load.load_dir(db, folder)
    assert info.value.file == "tours/walk.toml"
    assert sites.get_site(db, "alpha", "ja")["summary"] == "要約です。"
    assert [s["slug"] for s in tours.get_tour(db, "walk", "ja")["stops"]] == ["alpha", "beta"]


def test_key_lines_follow_tables_and_array_tables():
    keys = content_load.KeyLines('a = 1\n\n[location]\nlat = 2\n\n[[images]]\nfile = "x"\n[[images]]\n'
                                 'file = "y"\ntext = """\nfake = 1\n"""\n[text.ja]\nname = "n"\n', offset=1)
    assert keys.line("a") == 2 and keys.line("location.lat") == 5
    assert keys.line("images[0].file") == 8 and keys.line("images[1].file") == 10
    assert keys.line("images[1].fake") == 9  # inside a multi-line string: not a key, falls back to its table
    assert keys.line("text.ja.name") == 15 and keys.line("text.ja.summary") == 14


# --- the CLI ------------------------------------------------------------------------------------

def test_cli_loads_and_reports(db_path, folder):
    result = CliRunner().invoke(cli, ["--db", str(db_path), "content", "load", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Loaded 2 sites, 1 tours."
    result = CliRunner().invoke(cli, ["--db", str(db_path), "content", "load", str(folder), "--json"])
    assert json.loads(result.stdout) == {"sites": 2, "tours": 1}


def test_cli_error_names_file_line_field(db_path, folder):
    edit(folder, "sites/alpha/site.toml", "保原", "東京")
    result = CliRunner().invoke(cli, ["--db", str(db_path), "content", "load", str(folder)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: sites/alpha/site.toml:4: district: ")
    assert result.stderr.rstrip().endswith("[content_invalid]")
    result = CliRunner().invoke(cli, ["--db", str(db_path), "content", "load", str(folder), "--json"])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert (payload["error"], payload["file"], payload["line"], payload["field"]) == (
        "content_invalid", "sites/alpha/site.toml", 4, "district")


def test_cli_also_loads_the_catalogue(db_path, folder):
    base = content.content_dir()
    shutil.copy(base / "venues.csv", folder / "venues.csv")
    shutil.copy(base / "topics.csv", folder / "topics.csv")
    result = CliRunner().invoke(cli, ["--db", str(db_path), "content", "load", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert counts["sites"] == 2 and counts["venues"] > 0 and counts["topics"] > 0


# --- the real content -------------------------------------------------------------------------------

def test_real_content_loads_complete(db):
    counts = content_load.load_dir(db, content.content_dir())
    assert counts["sites"] >= 12 and counts["tours"] == 2
    for site in sites.list_sites(db, "ja", include_unpublished=True):
        status = {s["locale"]: s["state"] for s in sites.translation_status(db, site["slug"])}
        assert status == {loc: "current" for loc in LOCALES}, site["slug"]
    for tour in tours.list_tours(db, "ja"):
        assert set(tours.get_tour(db, tour["slug"], "ja")["available_locales"]) == set(LOCALES), tour["slug"]
        assert tour["stop_count"] >= 2
