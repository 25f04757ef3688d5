"""Staff: tourist sites and walking tours, with each language's translation status.

Registered on the ``staff`` blueprint (URLs under /staff/tourism).  The
versioning rule (a Japanese change makes the translations stale, saving a
translation makes it current) lives in ``date_community.tourism``; these
views only read the form, call the library and render.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from date_community import i18n
from date_community.errors import DateCommunityError, NotFound
from date_community.schema import DISTRICTS
from date_community.tourism import sites, tours

from .auth import role_required
from .database import get_db
from .locale import select_locale
from .messages import error_text
from .staff import bp

LANGUAGE_NAMES = {"ja": _l("Japanese"), "en": _l("English"), "zh_Hans": _l("Simplified Chinese"),
                  "zh_Hant": _l("Traditional Chinese"), "ko": _l("Korean")}
# Said in words (and marked with a border), never by colour alone.
STATE_LABELS = {"current": _l("Up to date"), "stale": _l("Out of date"), "missing": _l("Missing")}
COORD_LABELS = {"sourced": _l("From an official source"), "approx": _l("Approximate"), "missing": _l("Not known")}
CATEGORY_LABELS = {
    "nature": _l("Nature"), "history": _l("History"), "shrine": _l("Shrines and temples"),
    "museum": _l("Museums"), "park": _l("Parks"), "food": _l("Food"), "roadside-station": _l("Roadside stations"),
    "flowers": _l("Flowers"), "hiking": _l("Hiking"), "kids": _l("For children"),
    "information": _l("Tourist information"),
}

FACT_FORM_FIELDS = ("code", "marker_id", "district", "sort_order", "categories", "lat", "lon", "coord_quality",
                    "coord_source", "address", "address_note", "open_days", "opens", "closes", "fee_free",
                    "contact_name", "contact_phone", "contact_ext", "sources", "published")
SITE_TEXT_FIELDS = ("name", "kana", "summary", "body_md", "hours", "closed", "fee", "access", "parking",
                    "barrier_free")
TEXT_LABELS = {"name": _l("Name"), "kana": _l("Name in kana"), "summary": _l("Summary"),
               "body_md": _l("Description"), "hours": _l("Opening hours"), "closed": _l("Closed"),
               "fee": _l("Fee"), "access": _l("Getting there"), "parking": _l("Parking"),
               "barrier_free": _l("Step-free access"), }
# Library validation messages that are clearer for one field than the generic text.
FIELD_MESSAGES = {
    ("invalid_value", "marker_id"): _l("Enter the AR marker number as a whole number from 0 to 63, or leave it empty."),
    ("duplicate_code", "marker_id"): _l("Another place already uses this AR marker number."),
    ("duplicate_code", "code"): _l("Another place already uses this sign code."),
    ("invalid_value", "sort_order"): _l("Enter the order as a whole number, like 40."),
    ("invalid_value", "open_days"): _l("Enter the open days as weekday characters, like 月水木金土日."),
    ("invalid_time", "opens"): _l("Enter the time as hours and minutes, like 09:00."),
    ("invalid_time", "closes"): _l("Enter the time as hours and minutes, like 09:00."),
    ("invalid_coordinates", "lat"): _l("Enter the latitude as a number from -90 to 90, like 37.8191. "
                                       "If the position is not known, choose “Not known” and leave it empty."),
    ("invalid_coordinates", "lon"): _l("Enter the longitude as a number from -180 to 180, like 140.5629. "
                                       "If the position is not known, choose “Not known” and leave it empty."),
    ("invalid_name", "name"): _l("Enter the name."),
}


def _actor() -> str:
    return current_user.actor


def _render(template: str, **context):
    return render_template(f"staff/tourism/{template}", language_names=LANGUAGE_NAMES, state_labels=STATE_LABELS,
                           coord_labels=COORD_LABELS, category_labels=CATEGORY_LABELS, **context)


def _message(exc: DateCommunityError) -> str:
    key = (exc.code, str(exc.params.get("field", "")))
    return str(FIELD_MESSAGES[key]) if key in FIELD_MESSAGES else error_text(exc)


def _ordered(errors: dict[str, str], order: tuple[str, ...]) -> dict[str, str]:
    rank = {name: i for i, name in enumerate(order)}
    return dict(sorted(errors.items(), key=lambda item: rank.get(item[0], -1)))


def _site_or_404(slug: str) -> dict:
    try:
        return sites.get_site(get_db(), slug, "ja")
    except NotFound:
        abort(404)


def _locale_or_404(locale: str) -> str:
    if locale not in i18n.LOCALES:
        abort(404)
    return locale


# --- sites ----------------------------------------------------------------------------

@bp.get("/tourism/sites")
@role_required("staff")
def tourism_sites():
    db = get_db()
    listed = sites.list_sites(db, select_locale(), include_unpublished=True)
    status = sites.all_translation_status(db)
    return _render("sites.html", title=_("Tourist sites"), sites=listed, status=status)


@bp.get("/tourism/sites/<site_slug>")
@role_required("staff")
def tourism_site(site_slug: str):
    site = _site_or_404(site_slug)
    return _render("site.html", title=site["name"], site=site,
                   status=sites.translation_status(get_db(), site_slug))


def _facts_values(site: dict) -> dict[str, str]:
    values = {}
    for key in FACT_FORM_FIELDS:
        value = site.get(key)
        if key == "categories":
            values[key] = list(value or [])
        elif key == "sources":
            values[key] = "\n".join(value or [])
        elif key in ("fee_free", "published"):
            values[key] = bool(value)
        else:
            values[key] = "" if value is None else str(value)
    return values


@bp.route("/tourism/sites/<site_slug>/facts", methods=["GET", "POST"])
@role_required("staff")
def tourism_site_facts(site_slug: str):
    site = _site_or_404(site_slug)
    if request.method == "GET":
        return _facts_page(site, _facts_values(site), {})
    form = request.form
    values = {key: form.get(key, "").strip() for key in FACT_FORM_FIELDS}
    values["categories"] = [c for c in form.getlist("categories") if c]
    values["fee_free"] = form.get("fee_free") == "yes"
    values["published"] = form.get("published") == "yes"
    errors: dict[str, str] = {}
    fields = {
        "code": values["code"], "marker_id": values["marker_id"] or None, "district": values["district"],
        "sort_order": values["sort_order"], "categories": values["categories"], "lat": values["lat"] or None,
        "lon": values["lon"] or None, "coord_quality": values["coord_quality"],
        "sources": values["sources"].split(), "fee_free": values["fee_free"], "published": values["published"],
        **{k: values[k] for k in ("coord_source", "address", "address_note", "open_days", "opens", "closes",
                                  "contact_name", "contact_phone", "contact_ext")},
    }
    if values["coord_quality"] not in ("sourced", "approx", "missing"):
        errors["coord_quality"] = _("Choose where the map position comes from.")
    else:
        try:
            sites.update_site_facts(get_db(), site_slug, fields, actor=_actor())
        except DateCommunityError as exc:
            field = str(exc.params.get("field", ""))
            errors[field if field in FACT_FORM_FIELDS else "_form"] = _message(exc)
        else:
            flash(_("The facts have been saved."))
            return redirect(url_for("staff.tourism_site", site_slug=site_slug))
    return _facts_page(site, values, _ordered(errors, FACT_FORM_FIELDS))


def _facts_page(site: dict, values: dict, errors: dict):
    return _render("facts_form.html", title=_("Change the facts: %(name)s", name=site["name"]), site=site,
                   values=values, errors=errors, district_options=[(d, d) for d in DISTRICTS],
                   coord_options=[(k, str(v)) for k, v in COORD_LABELS.items()],
                   categories=[(c, str(CATEGORY_LABELS.get(c, c))) for c in sites.CATEGORIES])


@bp.route("/tourism/sites/<site_slug>/text/<locale>", methods=["GET", "POST"])
@role_required("staff")
def tourism_site_text(site_slug: str, locale: str):
    locale = _locale_or_404(locale)
    site = _site_or_404(site_slug)
    db = get_db()
    fields = [f for f in SITE_TEXT_FIELDS if f != "kana" or locale == "ja"]
    return _edit_text(
        locale, fields, texts=sites.site_texts(db, site_slug), name=site["name"], site=site, labels=TEXT_LABELS,
        save=lambda values, minor: sites.update_site_text(db, site_slug, locale, values, actor=_actor(), minor=minor),
        status=lambda: sites.translation_status(db, site_slug),
        back_url=url_for("staff.tourism_site", site_slug=site_slug))


def _edit_text(locale: str, fields: list[str], *, texts: dict, name: str, site: dict | None, labels: dict,
               save, status, back_url: str):
    """The text form of one language, shared by sites and tours: show, validate, save, re-show."""
    errors: dict[str, str] = {}
    if request.method == "GET":
        values = {f: (texts.get(locale) or {}).get(f, "") for f in fields}
    else:
        values = {f: request.form.get(f, "").strip() for f in fields}
        if "body_md" in values:
            # Keep the author's line breaks in the Markdown body, only trim the ends.
            values["body_md"] = request.form.get("body_md", "").replace("\r\n", "\n").strip()
        try:
            save(values, locale == "ja" and request.form.get("minor") == "yes")
        except DateCommunityError as exc:
            field = str(exc.params.get("field", ""))
            errors[field if field in fields else "_form"] = _message(exc)
        else:
            flash(_("The %(language)s text has been saved.", language=LANGUAGE_NAMES[locale]))
            return redirect(back_url)
    current = {s["locale"]: s for s in status()}[locale]
    return _render("text_form.html", title=_("%(language)s text: %(name)s", language=LANGUAGE_NAMES[locale],
                                              name=name),
                   site=site, locale=locale, text_lang=i18n.HTML_LANG[locale], fields=fields, values=values,
                   errors=_ordered(errors, tuple(fields)), ja=texts.get("ja", {}), status=current,
                   text_labels=labels, minor=request.form.get("minor") == "yes", back_url=back_url)


# --- tours ----------------------------------------------------------------------------

def _tour_or_404(slug: str) -> dict:
    try:
        return tours.get_tour(get_db(), slug, "ja")
    except NotFound:
        abort(404)


@bp.get("/tourism/tours")
@role_required("staff")
def tourism_tours():
    db = get_db()
    listed = tours.list_tours(db, select_locale())
    status = {t["slug"]: tours.tour_translation_status(db, t["slug"]) for t in listed}
    return _render("tours.html", title=_("Walking tours"), tours=listed, status=status)


@bp.route("/tourism/tours/<tour_slug>", methods=["GET", "POST"])
@role_required("staff")
def tourism_tour(tour_slug: str):
    tour = _tour_or_404(tour_slug)
    db = get_db()
    errors: dict[str, str] = {}
    if request.method == "GET":
        stops_text = "\n".join(s["slug"] for s in tour["stops"])
    else:
        stops_text = request.form.get("stops", "").strip()
        try:
            tours.set_tour_stops(db, tour_slug, stops_text.split(), actor=_actor())
        except DateCommunityError as exc:
            if exc.code == "tour_unknown_site":
                errors["stops"] = _("There is no place with the short name %(slug)s.", slug=exc.params.get("site"))
            else:
                errors["stops"] = _("Enter at least one place, each once, one short name per line.")
        else:
            flash(_("The stops have been saved."))
            return redirect(url_for("staff.tourism_tour", tour_slug=tour_slug))
    return _render("tour.html", title=tour["name"], tour=tour, stops_text=stops_text, errors=errors,
                   status=tours.tour_translation_status(db, tour_slug),
                   all_sites=sites.list_sites(db, select_locale(), include_unpublished=True))


@bp.route("/tourism/tours/<tour_slug>/text/<locale>", methods=["GET", "POST"])
@role_required("staff")
def tourism_tour_text(tour_slug: str, locale: str):
    locale = _locale_or_404(locale)
    tour = _tour_or_404(tour_slug)
    db = get_db()
    return _edit_text(
        locale, ["name", "summary"], texts=tours.tour_texts(db, tour_slug), name=tour["name"], site=None,
        labels={"name": _l("Name"), "summary": _l("Summary")},
        save=lambda values, minor: tours.tour_update_text(db, tour_slug, locale, values, actor=_actor(), minor=minor),
        status=lambda: tours.tour_translation_status(db, tour_slug),
        back_url=url_for("staff.tourism_tour", tour_slug=tour_slug))
