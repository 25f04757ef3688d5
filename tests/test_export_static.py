"""export-static: the tourism pages as static files, and the QR landing that sends scans to them.

The crawl of the exported folder in Chromium (served by ``python -m http.server``,
the app not running) is tests/browser/test_export_static.py.
"""
from __future__ import annotations

import hashlib
import json
import posixpath
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from date_community import db as dbmod, demo, i18n
from date_community.cli import cli
from date_community.tourism import scans, sites, static_site, tours

APP = "https://date.example.jp"
STATIC = "https://kanko.example.jp"
LINK = re.compile(r'(?:href|src|data-[\w-]+-src|data-camera-params|data-sites-url)="([^"]*)"')


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("export") / "demo.db"
    database = dbmod.connect(path)
    try:
        demo.load_demo(database)
    finally:
        database.close()
    return path


def make_app(path: Path, **extra):
    from webapp import create_app

    return create_app({"TESTING": True, "DATABASE": str(path), "SECRET_KEY": "test-secret", "BASE_URL": APP,
                       **extra})


@pytest.fixture(scope="module")
def exported(demo_path, tmp_path_factory) -> Path:
    from webapp import static_export

    out = tmp_path_factory.mktemp("static")
    counts = static_export.export(make_app(demo_path), out, static_base=STATIC)
    assert counts["pages"] > 0 and counts["assets"] > 0
    return out


@pytest.fixture(scope="module")
def content(demo_path):
    database = dbmod.connect(demo_path)
    try:
        return {"sites": sites.list_sites(database, "ja"), "tours": tours.list_tours(database, "ja")}
    finally:
        database.close()


def test_every_site_tour_map_and_ar_page_is_written_in_five_languages(exported, content):
    assert content["sites"] and content["tours"]
    for locale in i18n.LOCALES:
        expected = [static_site.site_list(locale), static_site.tour_list(locale), static_site.site_map(locale),
                    static_site.map_script(locale), static_site.nearby_json(locale), static_site.geojson(locale)]
        expected += [static_site.site_page(s["slug"], locale) for s in content["sites"]]
        expected += [static_site.site_ar(s["slug"], locale) for s in content["sites"]]
        expected += [static_site.tour_page(t["slug"], locale) for t in content["tours"]]
        for path in expected:
            assert (exported / path).is_file(), path
        for path in expected:
            if path.endswith(".html"):
                html = (exported / path).read_text(encoding="utf-8")
                assert f'<html lang="{i18n.HTML_LANG[locale]}">' in html, path
    for name in ("tourism.csv", "tourism-i18n.csv", "events.csv"):
        assert (exported / static_site.opendata_file(name)).read_bytes().startswith(b"\xef\xbb\xbf")
    assert (exported / "index.html").is_file()


def _pages(out: Path):
    return sorted(p for p in out.rglob("*.html"))


def test_every_link_is_a_file_of_the_export_or_the_apps_address(exported):
    seen_app_links = set()
    for page in _pages(exported):
        html = page.read_text(encoding="utf-8")
        here = page.relative_to(exported).as_posix()
        for url in LINK.findall(html):
            url = url.split("#")[0]
            if not url or url.startswith(("tel:", "mailto:")):
                continue
            if url.startswith(APP + "/"):
                seen_app_links.add(url)
                continue
            if url.startswith(STATIC + "/"):  # hreflang: absolute on the static host
                target = url[len(STATIC) + 1:]
            elif url.startswith(("http://", "https://")):
                continue  # sources, the licence, map tiles' terms
            else:
                assert not url.startswith("/"), (here, url)  # nothing root-relative is left
                target = posixpath.normpath(posixpath.join(posixpath.dirname(here), url))
            assert (exported / target).is_file(), (here, url)
    # Pages that need the app point at it: the home page, classes, log-in.
    assert {APP + "/", APP + "/classes", APP + "/login"} <= seen_app_links


def test_language_switcher_and_hreflang_point_at_the_static_pages(exported, content):
    slug = content["sites"][0]["slug"]
    html = (exported / static_site.site_page(slug, "ko")).read_text(encoding="utf-8")
    assert f'href="../../../en/sites/{slug}/index.html" hreflang="en" lang="en"' in html
    assert f'<link rel="alternate" hreflang="zh-Hant" href="{STATIC}/zh_Hant/sites/{slug}/index.html">' in html
    assert f'<link rel="alternate" hreflang="x-default" href="{STATIC}/ja/sites/{slug}/index.html">' in html
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
    assert data["url"] == f"{STATIC}/ko/sites/{slug}/index.html"


def test_assets_carry_the_hash_of_their_content(exported):
    assets = [p for p in (exported / "assets").rglob("*") if p.is_file()]
    names = {p.name for p in assets}
    assert any(re.fullmatch(r"app\.[0-9a-f]{12}\.css", n) for n in names), names
    for p in assets:
        match = re.fullmatch(r".+\.([0-9a-f]{12})\.[a-z]+", p.name)
        if match:
            assert hashlib.sha256(p.read_bytes()).hexdigest()[:12] == match.group(1), p
        else:  # kept its name: then its folder carries the hash
            assert re.search(r"\.[0-9a-f]{12}$", p.parent.name), p
    # Leaflet's style sheet names its images in the hashed folder, and the marker images are there.
    css = next(p for p in assets if p.name.startswith("leaflet.") and p.suffix == ".css").read_text()
    folder = re.search(r'url\("(images\.[0-9a-f]{12})/marker-icon\.png"\)', css).group(1)
    for name in ("marker-icon.png", "marker-icon-2x.png", "marker-shadow.png"):
        assert (exported / "assets/vendor/leaflet" / folder / name).is_file()
    # Readable by a web server running as another user.
    for p in [*assets, *_pages(exported)]:
        assert p.stat().st_mode & 0o777 == 0o644, p
    headers = (exported / "_headers").read_text()
    assert "/assets/*\n  Cache-Control: public, max-age=31536000, immutable" in headers


def test_map_scripts_and_the_nearby_list_link_to_the_static_pages(exported, content):
    slug = content["sites"][0]["slug"]
    script = (exported / static_site.map_script("en")).read_text(encoding="utf-8")
    assert '/sites/' not in script.replace("../sites/", "")
    assert f'href=\\"../sites/{slug}/index.html\\"' in script
    nearby = json.loads((exported / static_site.nearby_json("en")).read_text(encoding="utf-8"))
    entry = (nearby["sites"] + nearby["unplaced"])[0]
    # Relative to the list's own address (ar.js resolves them so).
    assert entry["url"] == f"../../sites/{entry['slug']}/index.html"
    target = posixpath.normpath(posixpath.join(posixpath.dirname(static_site.nearby_json("en")), entry["url"]))
    assert (exported / target).is_file()


def test_the_sites_filter_form_is_sent_to_the_app(exported):
    html = (exported / static_site.site_list("en")).read_text(encoding="utf-8")
    assert f'<form method="get" action="{APP}/sites"' in html


def test_without_the_apps_address_nothing_is_written(demo_path, tmp_path):
    from webapp import static_export

    with pytest.raises(static_export.StaticExportError) as caught:
        static_export.export(make_app(demo_path, BASE_URL=""), tmp_path / "out")
    assert caught.value.code == "static_export_failed"
    assert not (tmp_path / "out").exists()


# --- the QR landing ---------------------------------------------------------------------------

def _scan_total(path: Path) -> int:
    database = dbmod.connect(path)
    try:
        return sum(row["count"] for row in database["sign_scans"].rows)
    finally:
        database.close()


def test_a_scan_is_counted_by_the_app_and_sent_to_the_static_page(demo_path, exported, content):
    site = next(s for s in content["sites"] if s.get("code"))
    app = make_app(demo_path, STATIC_BASE_URL=STATIC + "/")
    before = _scan_total(demo_path)
    response = app.test_client().get(f"/q/{site['code']}?lang=zh_Hant", base_url=APP)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{STATIC}/zh_Hant/sites/{site['slug']}/index.html"
    assert "no-store" in response.headers["Cache-Control"]
    assert "Set-Cookie" not in response.headers
    app.extensions["sign_scans"].flush()
    assert _scan_total(demo_path) == before + 1
    # The file it sends the visitor to is one the export wrote.
    assert (exported / static_site.site_page(site["slug"], "zh_Hant")).is_file()


def test_without_the_setting_a_scan_goes_to_the_apps_own_page(demo_path, content):
    site = next(s for s in content["sites"] if s.get("code"))
    response = make_app(demo_path).test_client().get(f"/q/{site['code']}?lang=en", base_url=APP)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/sites/{site['slug']}?lang=en"


# --- the command -------------------------------------------------------------------------------

def test_the_command_writes_the_folder(demo_path, tmp_path, monkeypatch):
    monkeypatch.delenv("DATE_COMMUNITY_BASE_URL", raising=False)
    monkeypatch.setenv("DATE_COMMUNITY_CONFIG", str(tmp_path / "none.toml"))
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", str(demo_path), "--json", "export-static", "--out", str(tmp_path / "a"),
                                 "--app-url", APP, "--base-url", STATIC])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["pages"] > 100 and summary["app_url"] == APP and summary["base_url"] == STATIC
    assert (tmp_path / "a" / "ja" / "sites" / "index.html").is_file()
    # Without the app's address the links to sign-up would point nowhere: a usage error, nothing written.
    result = runner.invoke(cli, ["--db", str(demo_path), "export-static", "--out", str(tmp_path / "b")])
    assert result.exit_code == 2
    assert "--app-url" in result.output
    assert not (tmp_path / "b").exists()


def test_without_a_static_address_hreflang_and_json_ld_are_relative(demo_path, tmp_path, content):
    from webapp import static_export

    static_export.export(make_app(demo_path), tmp_path)
    slug = content["sites"][0]["slug"]
    html = (tmp_path / static_site.site_page(slug, "en")).read_text(encoding="utf-8")
    assert f'<link rel="alternate" hreflang="ko" href="../../../ko/sites/{slug}/index.html">' in html
    assert f'<link rel="alternate" hreflang="x-default" href="../../../ja/sites/{slug}/index.html">' in html
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
    assert data["url"] == "index.html"
    assert STATIC not in html


def test_site_photos_are_copied_with_hashed_names(tmp_path, monkeypatch):
    import shutil

    from PIL import Image

    from date_community import content as contentmod
    from date_community.tourism import content_load
    from webapp import static_export

    folder = tmp_path / "content"
    shutil.copytree(contentmod.content_dir(), folder)
    (folder / "images").mkdir(exist_ok=True)
    Image.new("RGB", (8, 8), (10, 120, 60)).save(folder / "images" / "ryozen-view.png")
    with open(folder / "sites" / "ryozen" / "site.toml", "a", encoding="utf-8") as f:
        f.write('\n[[images]]\nfile = "images/ryozen-view.png"\nalt_ja = "霊山の岩峰"\ncredit = "test"\n')
    path = tmp_path / "photos.db"
    database = dbmod.connect(path)
    try:
        content_load.load_dir(database, folder)
    finally:
        database.close()
    monkeypatch.setattr(contentmod, "content_dir", lambda *args, **kwargs: folder)
    out = tmp_path / "out"
    static_export.export(make_app(path), out)
    html = (out / static_site.site_page("ryozen", "en")).read_text(encoding="utf-8")
    src = re.search(r'<img src="([^"]+)"', html).group(1)
    assert re.fullmatch(r"\.\./\.\./\.\./assets/photos/ryozen-view\.[0-9a-f]{12}\.png", src), src
    exported = out / static_site.site_page("ryozen", "en")
    assert (exported.parent / src).resolve().read_bytes() == (folder / "images" / "ryozen-view.png").read_bytes()
