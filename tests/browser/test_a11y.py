"""Accessibility in a real browser: axe-core (WCAG 2.0–2.2 A and AA rules) on
every page type in all five languages, no horizontal scrolling at 320 px, body
text of at least 18 px, and nothing blocked by the Content-Security-Policy.

Pages are found by crawling links: the public site from the home page, the
volunteer and staff areas after logging in as the demo users.  One page per
page type (numbers in the path count as one type), at most MAX_PAGES per area.
Public forms are also checked after being sent empty, with their errors shown.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import pytest
from axe_playwright_python.sync_playwright import Axe

from .conftest import log_in
from date_community import demo

pytestmark = pytest.mark.browser

LOCALES = ("ja", "en", "zh_Hans", "zh_Hant", "ko")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
MAX_PAGES = 25
MIN_TEXT_PX = 18
NARROW = 320

AREAS = {  # area: (login, where the crawl starts, the prefix it stays in)
    "public": (None, ["/", "/classes", "/login", "/sites", "/tours", "/map"], "/"),
    "volunteer": (demo.VOLUNTEER_LOGIN, ["/volunteer/", "/account/password"], "/volunteer"),
    "staff": (demo.STAFF_LOGIN, ["/staff/", "/staff/accounts", "/staff/accounts/new", "/account/password"],
              "/staff"),
}
# Signed-in forms that are also checked after being sent empty (they change nothing then).
ACCOUNT_FORMS = ["/account/password", "/staff/accounts/new"]
PRIVATE_PREFIXES = ("/staff", "/volunteer", "/static")
SKIP_WORDS = ("logout", "export", "download", "backup", "restore")
SKIP_SUFFIXES = (".ics", ".csv", ".pdf", ".zip", ".json", ".txt", ".xlsx")
# Public forms are sent empty to see their errors; an empty form changes nothing.
PUBLIC_FORM_SUBMIT = "main form[method=post] button[type=submit]"

_axe = Axe()


# --- finding the pages ---------------------------------------------------------------------

def page_type(url: str) -> str:
    """/staff/sessions/12?promoted=3 → /staff/sessions/<n>?promoted"""
    parts = urlsplit(url)
    keys = sorted({k for k, _ in parse_qsl(parts.query) if k != "lang"})
    path = re.sub(r"/\d+(?=/|$)", "/<n>", parts.path)
    # tourist sites and tours are named by slug: one page of each kind is enough
    path = re.sub(r"^/(sites|tours)/[a-z0-9-]+(?=/|$)", r"/\1/<slug>", path)
    return path + ("?" + "&".join(keys) if keys else "")


def without_lang(url: str) -> str:
    parts = urlsplit(url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "lang"])
    return urlunsplit(("", "", parts.path, query, ""))


def with_lang(url: str, locale: str) -> str:
    parts = urlsplit(url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "lang"] + [("lang", locale)])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _wanted(path: str, prefix: str) -> bool:
    if any(word in path for word in SKIP_WORDS) or path.endswith(SKIP_SUFFIXES):
        return False
    if prefix == "/":
        return not path.startswith(PRIVATE_PREFIXES)
    return path == prefix or path.startswith(prefix + "/")


def crawl(context, base: str, starts: list[str], prefix: str) -> list[tuple[str, bool]]:
    """(path, has a public form to send empty) for each page type found."""
    page = context.new_page()
    seen, found, queue = set(), [], list(starts)
    while queue and len(found) < MAX_PAGES:
        path = queue.pop(0)
        if page_type(path) in seen:
            continue
        seen.add(page_type(path))
        head = context.request.get(base + path)
        if head.status != 200 or "text/html" not in head.headers.get("content-type", "") or \
                "attachment" in head.headers.get("content-disposition", ""):
            continue  # feeds, files and redirects away are not pages
        page.goto(base + path)
        has_form = prefix == "/" and page.locator(PUBLIC_FORM_SUBMIT).count() > 0
        found.append((path, has_form))
        hrefs = page.eval_on_selector_all("a[href]:not([download])", "els => els.map(e => e.getAttribute('href'))")
        for href in hrefs:
            target = urlsplit(urljoin(page.url, href))
            if target.scheme not in ("http", "https") or f"{target.scheme}://{target.netloc}" != base:
                continue
            if _wanted(target.path, prefix):
                queue.append(without_lang(urlunsplit(("", "", target.path, target.query, ""))))
    page.close()
    return found


def area_context(browser, base: str, area: str, *, with_axe: bool = False, **options):
    context = browser.new_context(**options)
    if with_axe:
        context.add_init_script(script=_axe.axe_script)
    login = AREAS[area][0]
    if login:
        page = context.new_page()
        log_in(page, base, *login)
        page.close()
    return context


@pytest.fixture(scope="session")
def site_pages(browser, live_server) -> dict[str, list[tuple[str, bool]]]:
    out = {}
    for area, (_, starts, prefix) in AREAS.items():
        context = area_context(browser, live_server, area)
        out[area] = crawl(context, live_server, starts, prefix)
        context.close()
    out["public"].append(("/no-such-page", False))  # the 404 page
    return out


def test_the_crawl_finds_every_area(site_pages):
    # guards the crawl itself: an empty list would pass every check below
    public = {page_type(p) for p, _ in site_pages["public"]}
    assert {"/", "/classes", "/classes/<n>", "/login", "/no-such-page", "/sites", "/tours", "/map"} <= public
    assert any(has_form for _, has_form in site_pages["public"])  # at least the login form
    assert site_pages["volunteer"] and site_pages["staff"]
    staff = {page_type(p) for p, _ in site_pages["staff"]}
    assert {"/staff/accounts", "/staff/accounts/new", "/account/password"} <= staff
    assert "/account/password" in {page_type(p) for p, _ in site_pages["volunteer"]}


# --- visiting them ------------------------------------------------------------------------------

def visits(site_pages, area: str) -> list[tuple[str, str, bool]]:
    """(label, path, send the form empty first) for each page of an area."""
    out = []
    for path, has_form in site_pages[area]:
        out.append((path, path, False))
        if has_form:
            out.append((f"{path} (sent empty, with errors)", path, True))
    return out


def open_page(page, base: str, path: str, locale: str, submit_empty: bool) -> list[str]:
    """Go to the page (and send its form empty); return what is wrong on the way."""
    page.goto(with_lang(base + path, locale))
    if not submit_empty:
        return []
    page.once("dialog", lambda dialog: dialog.accept())  # forms with data-confirm ask first
    with page.expect_navigation():
        page.locator(PUBLIC_FORM_SUBMIT).first.click()
    if page.locator(".error-summary").count() == 0:
        return ["the form was sent empty but no error summary is shown"]
    return []


AXE_OPTIONS = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}


def axe_violations(page) -> list[dict]:
    """axe-core's violations for the page.  Contexts made with ``with_axe=True``
    load axe with every page (faster than Axe.run, which injects it each time)."""
    if page.evaluate("() => typeof axe === 'undefined'"):
        return _axe.run(page, options=AXE_OPTIONS).response["violations"]
    return page.evaluate("options => axe.run(document, options).then(results => results.violations)", AXE_OPTIONS)


def watch_console(page) -> list[str]:
    """Messages about anything the Content-Security-Policy blocked, and script errors."""
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: seen.append(f"script error: {exc}"))
    return seen


def describe(violation: dict) -> str:
    targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:8])
    more = f" (+{len(violation['nodes']) - 8} more)" if len(violation["nodes"]) > 8 else ""
    return f"{violation['id']} [{violation['impact']}]: {violation['help']} -> {targets}{more}"


def report(problems: dict[str, list[str]]) -> str:
    return "\n".join(f"{label}\n" + "\n".join(f"    {p}" for p in lines) for label, lines in problems.items())


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("area", list(AREAS))
def test_axe_finds_no_violations(browser, live_server, site_pages, area, locale):
    context = area_context(browser, live_server, area, with_axe=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    blocked = watch_console(page)
    problems: dict[str, list[str]] = {}
    for label, path, submit in visits(site_pages, area):
        blocked.clear()
        lines = open_page(page, live_server, path, locale, submit)
        lines += [describe(v) for v in axe_violations(page)] + list(blocked)
        if lines:
            problems[f"{label} [{locale}]"] = lines
    context.close()
    assert not problems, f"accessibility problems in the {area} area:\n{report(problems)}"


# --- small screens and large text ------------------------------------------------------------------

LAYOUT_SCRIPT = """(minPx) => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 && box.width > 0 && !el.closest('.table-wrap, .visually-hidden, .skip-link')) {
      wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                (el.className && typeof el.className === 'string' ? '.' + el.className.trim().replace(/\\s+/g, '.') : '') +
                ' ends at ' + Math.round(box.right) + 'px');
    }
  }
  const px = el => parseFloat(getComputedStyle(el).fontSize);
  const small = [];
  if (px(document.body) < minPx) small.push('body: ' + px(document.body) + 'px');
  const text = 'main p, main li, main dd, main dt, main td, main th, main label, main legend, ' +
               'main input, main select, main textarea, main button, main a';
  for (const el of document.querySelectorAll(text)) {
    if (el.closest('.visually-hidden') || el.type === 'hidden' || el.getClientRects().length === 0) continue;
    if (!['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName) && !el.textContent.trim()) continue;
    if (px(el) < minPx - 0.01) {
      small.push(el.tagName.toLowerCase() + ': ' + px(el) + 'px "' + el.textContent.trim().slice(0, 30) + '"');
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 5), small: small.slice(0, 5)};
}"""


def layout_problems(page) -> list[str]:
    layout = page.evaluate(LAYOUT_SCRIPT, MIN_TEXT_PX)
    lines = []
    if layout["scrollWidth"] > NARROW:
        lines.append(f"scrolls sideways: {layout['scrollWidth']}px wide; " + ", ".join(layout["wide"]))
    return lines + [f"text smaller than {MIN_TEXT_PX}px: {s}" for s in layout["small"]]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("area", list(AREAS))
def test_no_sideways_scrolling_at_320px_and_large_text(browser, live_server, site_pages, area, locale):
    context = area_context(browser, live_server, area, viewport={"width": NARROW, "height": 640})
    page = context.new_page()
    problems: dict[str, list[str]] = {}
    for label, path, submit in visits(site_pages, area):
        lines = open_page(page, live_server, path, locale, submit) + layout_problems(page)
        if lines:
            problems[f"{label} [{locale}]"] = lines
    context.close()
    assert not problems, f"layout problems in the {area} area at {NARROW}px:\n{report(problems)}"


# --- the checks themselves catch problems -----------------------------------------------------------

BREAK_THE_PAGE = """() => {
  const main = document.querySelector('main');
  main.insertAdjacentHTML('beforeend', '<img src="/static/css/app.css"><p style="color: red">inline style</p>');
  const wide = document.createElement('div');
  wide.textContent = 'wide';
  wide.style.width = '600px';
  const tiny = document.createElement('p');
  tiny.textContent = 'tiny text';
  tiny.style.fontSize = '12px';
  main.append(wide, tiny);
}"""


def test_the_checks_catch_known_problems(browser, live_server):
    # An image without alt text, a 600px box, 12px text and an inline style attribute.
    context = area_context(browser, live_server, "public", with_axe=True, viewport={"width": NARROW, "height": 640})
    page = context.new_page()
    blocked = watch_console(page)
    page.goto(live_server + "/login?lang=en")
    assert [] == axe_violations(page) and [] == layout_problems(page) and [] == blocked
    page.evaluate(BREAK_THE_PAGE)
    assert "image-alt" in {v["id"] for v in axe_violations(page)}
    assert "image-alt" in {v["id"] for v in _axe.run(page, options=AXE_OPTIONS).response["violations"]}
    problems = layout_problems(page)
    assert any(p.startswith("scrolls sideways") for p in problems), problems
    assert any("tiny text" in p for p in problems), problems
    page.wait_for_timeout(200)  # console messages arrive asynchronously
    assert any("inline style" in m for m in blocked), blocked
    context.close()


@pytest.mark.parametrize("locale", LOCALES)
def test_account_forms_with_their_errors_have_no_violations(browser, live_server, locale):
    context = area_context(browser, live_server, "staff", with_axe=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: dict[str, list[str]] = {}
    for path in ACCOUNT_FORMS:
        page.goto(with_lang(live_server + path, locale))
        with page.expect_navigation():
            page.locator("main form[method=post] button[type=submit]").first.click()
        lines = [] if page.locator(".error-summary").count() else ["no error summary after sending it empty"]
        lines += [describe(v) for v in axe_violations(page)]
        if page.locator(".demo-banner").count() != 1:
            lines.append("no demo-data banner")
        if lines:
            problems[f"{path} (sent empty) [{locale}]"] = lines
    context.close()
    assert not problems, "\n" + report(problems)
