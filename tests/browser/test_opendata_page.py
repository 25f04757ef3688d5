"""The /opendata page in a real browser: axe finds nothing, in every language,
and the page fits a 320 px screen (long file and column names wrap)."""
from __future__ import annotations

import pytest

from .test_a11y import LOCALES, _axe, axe_violations, describe, layout_problems, watch_console

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("locale", LOCALES)
def test_opendata_page_is_accessible_and_fits_320px(browser, live_server, locale):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(script=_axe.axe_script)
    page = context.new_page()
    blocked = watch_console(page)
    page.goto(f"{live_server}/opendata?lang={locale}")
    problems = [describe(v) for v in axe_violations(page)] + list(blocked)
    # the licence is stated on the page
    assert "CC BY 4.0" in page.inner_text("main")
    page.set_viewport_size({"width": 320, "height": 640})
    problems += layout_problems(page)
    context.close()
    assert not problems, "\n".join(problems)
