"""The public tourism pages as static files (``date-community export-static``).

A tour bus at a sign, or a festival, is a burst of identical reads.  Served as
plain files from any web server, CDN or object store, those reads never reach
the app; only the QR landing ``/q/<code>`` (it counts the scan and picks the
language) and the pages that need the app (sign-up, classes, staff) stay on it.

The pages are not drawn a second time here: each one is requested from the
app itself through Flask's test client (``?lang=`` per language, no cookies),
so the static copy is exactly what a visitor of the app sees.  Then every
link in it is rewritten:

- a link to an exported page or file becomes a relative link to the file
  (``date_community.tourism.static_site`` is the layout), so the folder works
  under any host and sub-path;
- a link to a page that needs the app (home, classes, log-in, a filtered list)
  becomes an absolute link to the app's BASE_URL;
- ``/static/...`` assets are copied with a hash of their content in the name
  (``assets/css/app.3f2a9c1b0d4e.css``), so a server may let browsers keep them
  for a year; files a style sheet refers to keep their names inside a folder
  named for the hash of that folder (Leaflet finds its marker images by name).

With a static base URL the hreflang links and the structured data (JSON-LD)
are absolute on that host, as search engines ask; without one they are
relative too.  The open-data files are written byte for byte as the app
serves them (their links point at the app, which serves those pages too).
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask

from date_community import files, i18n
from date_community.errors import DateCommunityError
from date_community.tourism import sites, static_site, tours

from .database import get_db

OPEN_DATA_FILES = ("tourism.csv", "tourism-i18n.csv", "events.csv")
ASSETS = "assets"
HASH_LENGTH = 12

# Long cache lifetimes for the hashed assets, short ones for pages (Netlify /
# Cloudflare Pages "_headers" format; docs/scaling.md has the same for nginx).
HEADERS_FILE = f"""\
/{ASSETS}/*
  Cache-Control: public, max-age=31536000, immutable
  X-Content-Type-Options: nosniff
/*
  Cache-Control: public, max-age=300
  X-Content-Type-Options: nosniff
"""

# A root-relative or app-absolute URL right after a quote: HTML attributes,
# JSON strings, and the JSON-escaped strings (\"/sites/…\") in the map scripts.
_URL_TEMPLATE = r'(?<=["\'])(?:{app})?/(?![/\s])[^"\'\s<>\\]*'
_ALTERNATE = re.compile(r'<link rel="alternate"[^>]*>')
_X_DEFAULT = 'hreflang="x-default"'
_JSON_LD = re.compile(r'<script type="application/ld\+json">.*?</script>', re.S)
_FORM_ACTION = re.compile(r'(<form\b[^>]*?\baction=")([^"]*)"')
_CSS_URL = re.compile(r'url\(\s*(["\']?)([^)"\']+)\1\s*\)')


class StaticExportError(DateCommunityError):
    """The export could not be completed; ``problem`` says which page and why."""

    def __init__(self, problem: str):
        super().__init__("static_export_failed", problem=problem)


@dataclass(frozen=True)
class Target:
    path: str       # the file in the export
    fetch: str      # the app URL it is rendered from ("" for assets)
    kind: str       # "page" and "text": links rewritten; "data": as served; "asset": a static file


def _content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:HASH_LENGTH]


def _hashed_name(rel: str, data: bytes) -> str:
    folder, name = posixpath.split(rel)
    stem, dot, suffix = name.rpartition(".")
    hashed = f"{stem}.{_content_hash(data)}.{suffix}" if dot and stem else f"{name}.{_content_hash(data)}"
    return posixpath.join(folder, hashed) if folder else hashed


class _Export:
    def __init__(self, app: Flask, static_base: str):
        self.app = app
        self.app_base = (app.config.get("BASE_URL") or "").rstrip("/")
        if not self.app_base:
            raise StaticExportError("the app's BASE_URL is not set: links to sign-up and the other app pages "
                                    "need its public address")
        self.static_base = static_base.rstrip("/")
        self.static_folder = Path(os.path.normpath(os.path.abspath(app.static_folder)))
        self.client = app.test_client(use_cookies=False)
        self.url_pattern = re.compile(_URL_TEMPLATE.format(app=re.escape(self.app_base)))
        with app.app_context():
            db = get_db()
            self.site_slugs = {s["slug"] for s in sites.list_sites(db, i18n.DEFAULT_LOCALE)}
            self.tour_slugs = {t["slug"] for t in tours.list_tours(db, i18n.DEFAULT_LOCALE)}
        self.fetched: dict[str, tuple[Target, bytes, str]] = {}   # path → (target, body, page locale)
        self.assets: dict[str, str] = {}                          # static file (rel) → exported path
        self.photos: dict[str, str] = {}                          # photo URL path → exported path
        self.folders: dict[str, str] = {}                         # folder copied for a style sheet → exported

    # --- where a URL goes ------------------------------------------------------------------------

    def route(self, url: str, page_locale: str) -> Target | None:
        """The exported file for an app URL, or None when the URL must stay on the app."""
        parts = urlsplit(url)
        path = parts.path
        if path.startswith("/static/"):
            return Target(f"static:{unquote(path[len('/static/'):])}", "", "asset")
        if path.startswith("/sites/photos/"):
            return Target(f"photo:{path}", path, "asset")
        query = parse_qs(parts.query, keep_blank_values=True)
        lang = query.pop("lang", [""])[0]
        if query:
            return None  # a filter or a date range: the app answers those
        locale = i18n.normalize_locale(lang) or page_locale
        segments = [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []

        def page(file: str, kind: str = "page") -> Target:
            return Target(file, f"{path}?lang={locale}", kind)

        match segments:
            case ["sites"]:
                return page(static_site.site_list(locale))
            case ["sites", slug] if slug in self.site_slugs:
                return page(static_site.site_page(slug, locale))
            case ["sites", slug, "ar"] if slug in self.site_slugs:
                return page(static_site.site_ar(slug, locale))
            case ["tours"]:
                return page(static_site.tour_list(locale))
            case ["tours", slug] if slug in self.tour_slugs:
                return page(static_site.tour_page(slug, locale))
            case ["tours", slug, "map.js"] if slug in self.tour_slugs:
                return page(static_site.tour_script(slug, locale), "text")
            case ["map"]:
                return page(static_site.site_map(locale))
            case ["map", "sites.js"]:
                return page(static_site.map_script(locale), "text")
            case ["api", "sites", "nearby.json"]:
                return page(static_site.nearby_json(locale), "text")
            case ["api", "sites.geojson"]:
                return page(static_site.geojson(locale), "data")
            case ["opendata"]:
                return page(static_site.opendata_page(locale))
            case ["opendata", name] if name in OPEN_DATA_FILES and not lang:
                return Target(static_site.opendata_file(name), path, "data")
        return None

    # --- fetching --------------------------------------------------------------------------------

    def _get(self, url: str) -> bytes:
        response = self.client.get(url, base_url=self.app_base)
        try:
            if response.status_code != 200:
                raise StaticExportError(f"{url} answered {response.status_code}")
            return response.get_data()
        finally:
            response.close()  # a file response (photos) holds the file open until closed

    def crawl(self, seeds: list[tuple[str, str]]) -> None:
        """Fetch the seeds and everything exported that they link to."""
        queue = deque(seeds)
        while queue:
            url, locale = queue.popleft()
            target = self.route(url, locale)
            if target is None or target.kind == "asset" or target.path in self.fetched:
                continue  # the app's, an asset (copied when a page is written) or done
            body = self._get(target.fetch)
            self.fetched[target.path] = (target, body, locale)
            if target.kind in ("page", "text"):
                for found in self.url_pattern.findall(body.decode("utf-8")):
                    queue.append((found[len(self.app_base):] if found.startswith(self.app_base) else found,
                                  locale))

    # --- assets ----------------------------------------------------------------------------------

    def _static_file(self, rel: str) -> Path:
        # normpath, not resolve(): a vendored folder may be a symbolic link, as Flask allows.
        source = Path(os.path.normpath(self.static_folder / rel))
        if self.static_folder not in source.parents or not source.is_file():
            raise StaticExportError(f"/static/{rel} is not a file of the app")
        return source

    def _folder_for_stylesheet(self, folder: Path) -> str:
        """Copy a folder a style sheet refers to, named for the hash of its files; its exported path."""
        rel = folder.relative_to(self.static_folder).as_posix()
        if rel not in self.folders:
            names = sorted(p for p in folder.iterdir() if p.is_file())
            digest = hashlib.sha256()
            for p in names:
                digest.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
            exported = f"{ASSETS}/{rel}.{digest.hexdigest()[:HASH_LENGTH]}"
            for p in names:
                self.write(f"{exported}/{p.name}", p.read_bytes())
            self.folders[rel] = exported
        return self.folders[rel]

    def _stylesheet(self, source: Path, exported_dir: str) -> bytes:
        text = source.read_text(encoding="utf-8")

        def replace(match: re.Match) -> str:
            ref = match.group(2).strip()
            if ref.startswith(("data:", "#", "http:", "https:", "/")):
                return match.group(0)
            ref_path = Path(os.path.normpath(source.parent / ref.split("?")[0].split("#")[0]))
            if self.static_folder not in ref_path.parents or not ref_path.is_file():
                return match.group(0)
            folder = self._folder_for_stylesheet(ref_path.parent)
            return f'url("{posixpath.relpath(folder + "/" + ref_path.name, exported_dir)}")'

        return _CSS_URL.sub(replace, text).encode("utf-8")

    def asset(self, rel: str) -> str:
        """The exported path of a file from /static/, copied on first use."""
        if rel not in self.assets:
            source = self._static_file(rel)
            exported_dir = posixpath.dirname(f"{ASSETS}/{rel}")
            data = self._stylesheet(source, exported_dir) if source.suffix == ".css" else source.read_bytes()
            path = f"{ASSETS}/{_hashed_name(rel, data)}"
            self.write(path, data)
            self.assets[rel] = path
        return self.assets[rel]

    def photo(self, url_path: str) -> str:
        if not self.photos.get(url_path):
            data = self._get(url_path)
            name = unquote(url_path[len("/sites/photos/"):])
            path = f"{ASSETS}/photos/{_hashed_name(name, data)}"
            self.write(path, data)
            self.photos[url_path] = path
        return self.photos[url_path]

    # --- rewriting -------------------------------------------------------------------------------

    def _link(self, url: str, here: str, locale: str, absolute: bool) -> str:
        local = url[len(self.app_base):] if url.startswith(self.app_base) else url
        target = self.route(local, locale)
        fragment = "#" + urlsplit(local).fragment if "#" in local else ""
        if target is None:
            return self.app_base + local  # a page that needs the app
        if target.kind == "asset":
            path = self.asset(target.path[len("static:"):]) if target.path.startswith("static:") \
                else self.photo(target.fetch)
        else:
            path = target.path
        if absolute and self.static_base:
            return f"{self.static_base}/{path}{fragment}"
        return posixpath.relpath(path, posixpath.dirname(here) or ".") + fragment

    def rewrite(self, text: str, here: str, locale: str, *, absolute: bool = False) -> str:
        return self.url_pattern.sub(lambda m: self._link(m.group(0), here, locale, absolute), text)

    def rewrite_page(self, html: str, here: str, locale: str) -> str:
        def alternate(match: re.Match) -> str:
            tag = match.group(0)
            # x-default is the page without a chosen language: Japanese, as in the app.
            return self.rewrite(tag, here, i18n.DEFAULT_LOCALE if _X_DEFAULT in tag else locale, absolute=True)

        # A form is answered by the app (the sights filter: a file cannot filter), so its
        # action goes to the app's address; kept aside while the other links are rewritten.
        actions: list[str] = []

        def keep_action(match: re.Match) -> str:
            url = match.group(2)
            actions.append(self.app_base + url[len(self.app_base):] if url.startswith(self.app_base)
                           else self.app_base + url if url.startswith("/") else url)
            return f"{match.group(1)}\0{len(actions) - 1}\0\""

        html = _FORM_ACTION.sub(keep_action, html)
        html = _ALTERNATE.sub(alternate, html)
        html = _JSON_LD.sub(lambda m: self.rewrite(m.group(0), here, locale, absolute=True), html)
        html = self.rewrite(html, here, locale)
        return re.sub(r"\0(\d+)\0", lambda m: actions[int(m.group(1))], html)

    # --- writing ---------------------------------------------------------------------------------

    def __call__(self, out: Path) -> dict:
        self.out = out
        seeds: list[tuple[str, str]] = []
        for locale in i18n.LOCALES:
            seeds += [(u, locale) for u in ("/sites", "/tours", "/map", "/opendata", "/api/sites.geojson")]
            seeds += [(f"/sites/{slug}", locale) for slug in sorted(self.site_slugs)]
            seeds += [(f"/sites/{slug}/ar", locale) for slug in sorted(self.site_slugs)]
            seeds += [(f"/tours/{slug}", locale) for slug in sorted(self.tour_slugs)]
        seeds += [(f"/opendata/{name}", i18n.DEFAULT_LOCALE) for name in OPEN_DATA_FILES]
        self.crawl(seeds)
        # Data and assets first, pages last: a server publishing the folder while
        # it is written never serves a page whose files are not there yet.
        for target, body, _locale in self.fetched.values():
            if target.kind == "data":
                self.write(target.path, body)
        for target, body, locale in self.fetched.values():
            if target.kind == "text":
                self.write(target.path, self.rewrite(body.decode("utf-8"), target.path, locale).encode("utf-8"))
        pages = [(t, b, loc) for t, b, loc in self.fetched.values() if t.kind == "page"]
        for target, body, locale in pages:
            self.write(target.path, self.rewrite_page(body.decode("utf-8"), target.path, locale).encode("utf-8"))
        # The folder's own front page: the list of sights in Japanese, links relative to the top.
        front = self.fetched[static_site.site_list(i18n.DEFAULT_LOCALE)][1].decode("utf-8")
        self.write(static_site.INDEX, self.rewrite_page(front, static_site.INDEX, i18n.DEFAULT_LOCALE).encode())
        self.write("_headers", HEADERS_FILE.encode("utf-8"))
        return {"pages": len(pages) + 1, "files": len(self.fetched) - len(pages),
                "assets": len(self.assets) + len([p for p in self.photos.values() if p]) + len(self.folders)}

    def write(self, path: str, data: bytes) -> None:
        target = self.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        files.write_atomic(target, data)
        # Public by nature, and read by a web server running as another user
        # (write_atomic's temporary file is private, 0600).
        os.chmod(target, 0o644)


def export(app: Flask, out: Path, *, static_base: str = "") -> dict:
    """Write every public tourism page of ``app`` (one town's app, as create_app made it) into ``out``.

    Returns counts: ``{"pages": …, "files": …, "assets": …}``.  Raises
    StaticExportError when the app has no BASE_URL or a page does not answer 200.
    """
    return _Export(app, static_base)(Path(out))
