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
      boxZoom: false, keyboard: false, touchZoom: false, tap: false, attributionControl: true
    }).setView([lat, lon], 16);
    L.tileLayer(el.getAttribute("data-tiles"), {
      maxZoom: 18, attribution: el.getAttribute("data-attribution")
    }).addTo(map);
    L.marker([lat, lon], { keyboard: false, interactive: false }).addTo(map);
    el.removeAttribute("tabindex");
  });
});
