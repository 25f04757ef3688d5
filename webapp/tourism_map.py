"""Maps of the tourist sites, built with folium and served without any CDN.

folium writes a whole HTML document: CDN <script>/<link> tags (Leaflet,
jQuery, Bootstrap, Font Awesome, awesome-markers), inline <style> blocks and
an inline <script> that builds the map.  Our Content-Security-Policy allows
neither inline scripts nor inline styles, and the city wants no third-party
code on its pages.  So:

- each map's ``default_js``/``default_css`` are replaced by the app's own copy
  of Leaflet (``/static/vendor/leaflet/``) and nothing else; the page takes its
  <script>/<link> tags from that list, so what folium would load and what the
  page loads cannot drift apart;
- folium's header (inline styles, global switches) is dropped: the map box is
  sized by app.css;
- the script folium generates is served as its own JavaScript response
  (``/map/sites.js``, ``/tours/<slug>/map.js``), loaded with ``defer`` after
  Leaflet.  The page's CSP stays ``script-src 'self'`` with no nonce or hash,
  and the script is an ordinary same-origin file the page cache can keep.

Only the elements used here are allowed, because they need no jQuery: folium's
own Popup and Tooltip call ``$()`` or paste text into a JS template literal,
so popups are bound by the small ``_Popup`` element below, whose content is
escaped HTML inside a JSON string.

Coordinates: only sites whose coordinate comes from a source (``map_ok``) get
a normal pin; approximate ones get a dashed ring labelled "approximate
location"; sites without a coordinate are only in the list beside the map.
"""
from __future__ import annotations

import folium
from folium.template import Template
from folium.elements import MacroElement
from markupsafe import escape

GSI_TILES = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
GSI_TILE_HOST = "https://cyberjapandata.gsi.go.jp"
GSI_TERMS = "https://maps.gsi.go.jp/development/ichiran.html"
# The attribution GSI asks for: 「地理院タイル」 linked to its list of tiles.
GSI_ATTRIBUTION = f'<a href="{GSI_TERMS}">地理院タイル</a>'
GSI_MAX_ZOOM = 18

LEAFLET_JS = "/static/vendor/leaflet/leaflet.js"
LEAFLET_CSS = "/static/vendor/leaflet/leaflet.css"

# Date City hall; the centre when no site has a sourced coordinate.
DATE_CITY_CENTRE = (37.8190, 140.5627)
APPROX_COLOUR = "#8a3b00"   # dark orange, 7:1 on the light map; the dashes say it too
ROUTE_COLOUR = "#0b5a3c"    # the site's brand green


class _Popup(MacroElement):
    """``marker.bindPopup(html)`` without jQuery; ``html`` is already escaped."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "{{ this._parent.get_name() }}.bindPopup({{ this.content|tojson }});"
        "{% endmacro %}"
    )

    def __init__(self, content: str):
        super().__init__()
        self._name = "Popup"
        self.content = str(content)


def _new_map(map_id: str, *, zoom: int) -> folium.Map:
    m = folium.Map(location=DATE_CITY_CENTRE, zoom_start=zoom, tiles=GSI_TILES, attr=GSI_ATTRIBUTION,
                   max_zoom=GSI_MAX_ZOOM, control_scale=True)
    # Our own Leaflet only (see the module docstring).
    m.default_js = [("leaflet", LEAFLET_JS)]
    m.default_css = [("leaflet_css", LEAFLET_CSS)]
    # A fixed element id, so the page's <div id="…"> and the separately
    # served script agree (folium otherwise makes a random one per render).
    m._id = map_id
    return m


def element_id(map_id: str) -> str:
    return f"map_{map_id}"


def assets() -> dict[str, list[str]]:
    """The script and style sheet URLs every folium map here needs (only Leaflet)."""
    m = _new_map("probe", zoom=1)
    return {"js": [url for _, url in m.default_js], "css": [url for _, url in m.default_css]}


def _popup_html(name: str, url: str, note: str = "") -> str:
    html = f'<a href="{escape(url)}">{escape(name)}</a>'
    if note:
        html += f"<br>{escape(note)}"
    return html


def _add_site(m: folium.Map, site: dict, url: str, approx_label: str) -> bool:
    """Put one site on the map; False when it has no usable coordinate."""
    if site["lat"] is None or site["lon"] is None:
        return False
    where = [float(site["lat"]), float(site["lon"])]  # Leaflet order: [lat, lon]
    if site["map_ok"]:
        # Not in the tab order: pins of neighbouring sites overlap, too close
        # together to be separate touch or keyboard targets.  The list beside
        # every map links to the same pages and is the way for keyboard and
        # screen-reader users; the map container itself still pans and zooms
        # from the keyboard.
        pin = folium.Marker(where, alt=site["name"], title=site["name"], keyboard=False)
        pin.add_child(_Popup(_popup_html(site["name"], url)))
        pin.add_to(m)
        return True
    if site["coord_quality"] == "approx":
        ring = folium.CircleMarker(where, radius=14, color=APPROX_COLOUR, weight=3, dash_array="6 5",
                                   fill=True, fill_color="#ffffff", fill_opacity=0.4)
        ring.add_child(_Popup(_popup_html(site["name"], url, approx_label)))
        ring.add_to(m)
        return True
    return False


def _script(m: folium.Map) -> str:
    figure = m.get_root()
    figure.render()  # fills figure.script; the header and its inline styles are not used
    return figure.script.render().strip() + "\n"


def _fit(m: folium.Map, points: list[list[float]]) -> None:
    if len(points) >= 2:
        lats = [p[0] for p in points]
        lons = [p[1] for p in points]
        m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(30, 30))
    elif points:
        m.location = points[0]


def sites_script(sites: list[dict], url_for_site, approx_label: str) -> str:
    """The JavaScript that draws every site with a coordinate on ``#map_sites``.

    ``url_for_site(slug)`` gives the link in each popup; ``approx_label`` is the
    translated words for a position that is only approximate.
    """
    m = _new_map("sites", zoom=11)
    points = []
    for site in sites:
        if _add_site(m, site, url_for_site(site["slug"]), approx_label):
            points.append([site["lat"], site["lon"]])
    _fit(m, points)
    return _script(m)


def tour_script(stops: list[dict], url_for_site, approx_label: str) -> str:
    """The JavaScript for a tour's small map: its stops and the walking line
    through the stops whose position is known from a source."""
    m = _new_map("tour", zoom=14)
    points = []
    for stop in stops:
        if _add_site(m, stop, url_for_site(stop["slug"]), approx_label):
            points.append([stop["lat"], stop["lon"]])
    line = [[s["lat"], s["lon"]] for s in stops if s["map_ok"]]
    if len(line) >= 2:
        folium.PolyLine(line, color=ROUTE_COLOUR, weight=5, opacity=0.8).add_to(m)
    _fit(m, points)
    return _script(m)
