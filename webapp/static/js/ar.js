// The AR page (/sites/<slug>/ar): the camera view over the sign's barcode
// marker, and the list of sites near the visitor.
//
// Nothing here runs until the visitor taps a button: the camera and the
// position are asked for only then, and A-Frame and AR.js (several megabytes)
// are loaded only then.  Every text comes translated from data- attributes;
// without a camera, permission or HTTPS the page says so and the content above
// stays as it is.
(function () {
  "use strict";

  // --- small helpers ---------------------------------------------------------------------

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : all;
    });
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.async = false;  // keep the order: AR.js needs A-Frame first
      script.onload = resolve;
      script.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(script);
    });
  }

  // Same formulas as date_community.tourism.geo, so the list agrees with the pages.
  var EARTH_RADIUS_M = 6371008.8;
  var POINTS = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"];

  function rad(deg) { return deg * Math.PI / 180; }

  function haversine(lat1, lon1, lat2, lon2) {
    var dphi = rad(lat2 - lat1), dlam = rad(lon2 - lon1);
    var a = Math.pow(Math.sin(dphi / 2), 2) +
      Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.pow(Math.sin(dlam / 2), 2);
    return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
  }

  function bearing(lat1, lon1, lat2, lon2) {
    var phi1 = rad(lat1), phi2 = rad(lat2), dlam = rad(lon2 - lon1);
    var y = Math.sin(dlam) * Math.cos(phi2);
    var x = Math.cos(phi1) * Math.sin(phi2) - Math.sin(phi1) * Math.cos(phi2) * Math.cos(dlam);
    return ((Math.atan2(y, x) * 180 / Math.PI) % 360 + 360) % 360;
  }

  function compass(deg) {
    return POINTS[Math.floor(((deg % 360) + 22.5) / 45) % 8];
  }

  // --- the label drawn over the marker ------------------------------------------------------

  function wrap(ctx, text, width, maxLines) {
    // Words where the text has spaces, single characters otherwise (Japanese, Chinese).
    var tokens = text.match(/\S+\s*/g) || [];
    var pieces = [];
    tokens.forEach(function (token) {
      if (ctx.measureText(token).width <= width) { pieces.push(token); return; }
      Array.prototype.forEach.call(token, function (ch) { pieces.push(ch); });
    });
    var lines = [], line = "";
    pieces.forEach(function (piece) {
      if (line && ctx.measureText(line + piece).width > width) { lines.push(line.trim()); line = ""; }
      line += piece;
    });
    if (line.trim()) { lines.push(line.trim()); }
    if (lines.length > maxLines) {
      lines = lines.slice(0, maxLines);
      var last = lines[maxLines - 1];
      while (last && ctx.measureText(last + "…").width > width) { last = last.slice(0, -1); }
      lines[maxLines - 1] = last + "…";
    }
    return lines;
  }

  function drawArrow(ctx, cx, cy, r, deg) {
    ctx.save();
    ctx.lineWidth = 6;
    ctx.strokeStyle = "#0b5a3c";
    ctx.beginPath(); ctx.arc(cx, cy, r, 0, 2 * Math.PI); ctx.stroke();
    ctx.fillStyle = "#1b1b1b";
    ctx.font = "bold 34px sans-serif";
    ctx.textAlign = "center";
    ctx.fillText("N", cx, cy - r - 10);
    ctx.translate(cx, cy);
    ctx.rotate(rad(deg));
    ctx.fillStyle = "#0b5a3c";
    ctx.beginPath();
    ctx.moveTo(0, -r + 8); ctx.lineTo(r * 0.45, r * 0.5); ctx.lineTo(0, r * 0.25); ctx.lineTo(-r * 0.45, r * 0.5);
    ctx.closePath(); ctx.fill();
    ctx.restore();
  }

  function drawLabel(canvas, data) {
    var ctx = canvas.getContext("2d");
    var w = canvas.width, h = canvas.height, pad = 36;
    var family = window.getComputedStyle(document.body).fontFamily || "sans-serif";
    var hasArrow = data.bearing !== "";
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "rgba(255, 255, 255, 0.92)";
    ctx.fillRect(0, 0, w, h);
    ctx.lineWidth = 12;
    ctx.strokeStyle = "#0b5a3c";
    ctx.strokeRect(6, 6, w - 12, h - 12);
    ctx.fillStyle = "#1b1b1b";
    ctx.textBaseline = "top";
    ctx.font = "bold 68px " + family;
    var y = pad;
    wrap(ctx, data.labelName, w - 2 * pad, 1).forEach(function (line) { ctx.fillText(line, pad, y); y += 84; });
    ctx.font = "40px " + family;
    wrap(ctx, data.labelText, w - 2 * pad, 3).forEach(function (line) { ctx.fillText(line, pad, y); y += 52; });
    if (data.labelNext) {
      ctx.font = "bold 40px " + family;
      var textWidth = w - 2 * pad - (hasArrow ? 140 : 0);
      var lines = wrap(ctx, data.labelNext, textWidth, 2);
      var top = h - pad - lines.length * 52;
      lines.forEach(function (line, i) { ctx.fillText(line, pad, top + i * 52); });
      if (hasArrow) { drawArrow(ctx, w - pad - 60, h - pad - 60, 52, parseFloat(data.bearing)); }
    }
  }

  // --- the camera view ----------------------------------------------------------------------

  function setUpCamera(root) {
    var start = document.getElementById("ar-start");
    if (!start) { return; }  // this site has no marker
    var stop = document.getElementById("ar-stop");
    var status = document.getElementById("ar-status");
    var problem = document.getElementById("ar-problem");
    var problemText = document.getElementById("ar-problem-text");
    var stage = document.getElementById("ar-stage");
    var data = root.dataset;

    function say(key, tracking) {
      status.textContent = data["msg" + key.charAt(0).toUpperCase() + key.slice(1)] || "";
      if (tracking) { root.setAttribute("data-tracking", tracking); }
    }

    function fail(key) {
      document.documentElement.classList.remove("ar-active");
      problemText.textContent = data["msg" + key.charAt(0).toUpperCase() + key.slice(1)];
      problem.hidden = false;
      status.textContent = "";
      root.setAttribute("data-tracking", "unavailable");
      root.setAttribute("data-problem", key);
      start.hidden = false;
      stop.hidden = true;
    }

    function reasonFor(error) {
      var name = error && error.name;
      if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") { return "denied"; }
      if (name === "NotFoundError" || name === "OverconstrainedError" || name === "NotReadableError" ||
          name === "DevicesNotFoundError") { return "nocamera"; }
      return "failed";
    }

    function buildScene() {
      drawLabel(document.getElementById("ar-label"), data);
      var scene = document.createElement("a-scene");
      scene.setAttribute("embedded", "");
      scene.setAttribute("vr-mode-ui", "enabled: false");
      scene.setAttribute("loading-screen", "enabled: false");
      scene.setAttribute("device-orientation-permission-ui", "enabled: false");
      scene.setAttribute("renderer", "alpha: true; antialias: true; logarithmicDepthBuffer: true");
      scene.setAttribute("arjs", [
        "sourceType: webcam",
        "debugUIEnabled: false",
        "detectionMode: mono_and_matrix",
        "matrixCodeType: " + data.matrixCodeType,
        "patternRatio: " + data.patternRatio,
        "cameraParametersUrl: " + data.cameraParams
      ].join("; "));
      var marker = document.createElement("a-marker");
      marker.setAttribute("type", "barcode");
      marker.setAttribute("value", data.markerId);
      marker.setAttribute("emitevents", "true");
      marker.setAttribute("id", "ar-marker");
      // The label lies on the sign, a little larger than the marker's square.
      var label = document.createElement("a-plane");
      label.setAttribute("rotation", "-90 0 0");
      label.setAttribute("position", "0 0.05 0");
      label.setAttribute("width", "2.4");
      label.setAttribute("height", "1.2");
      label.setAttribute("material", "src: #ar-label; shader: flat; transparent: true; side: double");
      marker.appendChild(label);
      scene.appendChild(marker);
      var camera = document.createElement("a-entity");
      camera.setAttribute("camera", "");
      scene.appendChild(camera);
      marker.addEventListener("markerFound", function () { say("found", "found"); });
      marker.addEventListener("markerLost", function () { say("lost", "lost"); });
      stage.appendChild(scene);
    }

    start.hidden = false;
    start.addEventListener("click", function () {
      problem.hidden = true;
      root.removeAttribute("data-problem");
      if (!window.isSecureContext) { fail("insecure"); return; }
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { fail("nocamera"); return; }
      start.hidden = true;
      say("starting", "starting");
      // Ask once ourselves: a refusal or a missing camera is told apart here,
      // before megabytes of libraries are loaded.  AR.js then opens the camera again.
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
        .then(function (stream) {
          stream.getTracks().forEach(function (track) { track.stop(); });
          return loadScript(data.aframeSrc).then(function () { return loadScript(data.arjsSrc); });
        })
        .then(function () {
          window.addEventListener("camera-error", function () { fail("failed"); });
          document.documentElement.classList.add("ar-active");
          stop.hidden = false;
          buildScene();
          say("looking", "searching");
          stop.focus();
        })
        .catch(function (error) { fail(reasonFor(error)); });
    });

    stop.addEventListener("click", function () {
      var video = document.getElementById("arjs-video");
      if (video && video.srcObject) {
        video.srcObject.getTracks().forEach(function (track) { track.stop(); });
      }
      say("stopped", "idle");
      // A-Frame and AR.js keep global state; a fresh page is the reliable way back.
      window.location.reload();
    });
  }

  // --- sites near you -------------------------------------------------------------------------

  function setUpNearby() {
    var section = document.getElementById("nearby");
    var button = document.getElementById("nearby-start");
    if (!section || !button) { return; }
    var data = section.dataset;
    var status = document.getElementById("nearby-status");
    var list = document.getElementById("nearby-list");
    var words = JSON.parse(data.compass || "{}");
    var numbers = new Intl.NumberFormat(data.numberLocale || undefined, { maximumFractionDigits: 1 });

    function say(key) { status.textContent = data["msg" + key.charAt(0).toUpperCase() + key.slice(1)] || ""; }

    function distanceText(metres) {
      // As webapp.tourism.distance_text: tens of metres below 1 km, then km to one decimal.
      if (metres < 1000) {
        return fill(data.msgMetres, { n: numbers.format(Math.round(metres / 10) * 10 || Math.floor(metres)) });
      }
      return fill(data.msgKilometres, { n: numbers.format(Math.round(metres / 100) / 10) });
    }

    function show(position, sites) {
      var here = position.coords;
      var rows = sites.map(function (site) {
        var metres = haversine(here.latitude, here.longitude, site.lat, site.lon);
        return { site: site, metres: metres, point: compass(bearing(here.latitude, here.longitude, site.lat, site.lon)) };
      });
      rows.sort(function (a, b) { return a.metres - b.metres; });
      list.textContent = "";
      rows.forEach(function (row) {
        var item = document.createElement("li");
        item.setAttribute("data-slug", row.site.slug);
        item.setAttribute("data-distance-m", String(Math.round(row.metres)));
        item.setAttribute("data-compass", row.point);
        var link = document.createElement("a");
        link.href = row.site.url;
        link.textContent = row.site.name;
        var where = document.createElement("span");
        where.className = "nearby-where";
        var arrow = document.createElement("span");
        arrow.className = "ar-arrow arrow-" + row.point.toLowerCase();
        arrow.setAttribute("aria-hidden", "true");
        arrow.textContent = "↑";
        var words_ = document.createElement("span");
        words_.className = "nearby-distance";
        words_.textContent = fill(data.msgItem, { distance: distanceText(row.metres), direction: words[row.point] || row.point });
        where.appendChild(arrow);
        where.appendChild(document.createTextNode(" "));
        where.appendChild(words_);
        item.appendChild(link);
        item.appendChild(document.createTextNode(" "));
        item.appendChild(where);
        list.appendChild(item);
      });
      list.hidden = false;
      say("done");
      section.setAttribute("data-state", "done");
    }

    button.hidden = false;
    button.addEventListener("click", function () {
      if (!navigator.geolocation) { say("unsupported"); section.setAttribute("data-state", "unsupported"); return; }
      say("locating");
      section.setAttribute("data-state", "locating");
      var sites = fetch(data.sitesUrl, { credentials: "same-origin" }).then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      });
      navigator.geolocation.getCurrentPosition(function (position) {
        sites.then(function (json) { show(position, json.sites); })
          .catch(function () { say("failed"); section.setAttribute("data-state", "failed"); });
      }, function (error) {
        var denied = error && error.code === 1;
        say(denied ? "denied" : "failed");
        section.setAttribute("data-state", denied ? "denied" : "failed");
      }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("ar-page");
    if (!root) { return; }
    setUpCamera(root);
    setUpNearby();
  });
}());
