// Admission slips: a small, still map of the venue on each slip.
// The slip reads fine without it (address and QR code are printed anyway).
document.addEventListener("DOMContentLoaded", function () {
  if (typeof L === "undefined") { return; }
  document.querySelectorAll(".slip-map[data-lat]").forEach(function (el) {
    var lat = parseFloat(el.getAttribute("data-lat"));
    var lon = parseFloat(el.getAttribute("data-lon"));
    if (isNaN(lat) || isNaN(lon)) { return; }
    // A picture, not a widget: no dragging, zooming or keyboard focus, so the
    // printed page and screen readers treat it as one image.
    var map = L.map(el, {
      zoomControl: false, dragging: false, scrollWheelZoom: false, doubleClickZoom: false,
      boxZoom: false, keyboard: false, touchZoom: false, tap: false, attributionControl: false
    }).setView([lat, lon], 16);
    // The credit (国土地理院) is printed under the map by the page itself.
    L.tileLayer(el.getAttribute("data-tiles"), { maxZoom: 18 }).addTo(map);
    L.marker([lat, lon], { keyboard: false, interactive: false }).addTo(map);
    el.removeAttribute("tabindex");
  });
});
