// The AR page (/sites/<slug>/ar): the camera view over the sign's barcode
// marker, the list of sites near the visitor, and location mode (the nearby
// sites as labels standing in their direction in the camera picture).
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

  function message(dataset, key) {
    return dataset["msg" + key.charAt(0).toUpperCase() + key.slice(1)] || "";
  }

  // --- labels drawn on a canvas (over the marker, and on each place in location mode) ------------
  // A canvas uses the phone's own fonts, so Japanese, Chinese and Korean render; A-Frame's text
  // component would need Latin-only fonts from a CDN.

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

  // A white card with a green border: a bold title (card.titleLines lines, default 1), up to
  // three lines of text, and at the bottom a bold line of up to card.footerLines lines
  // (default 2), with a compass arrow when card.bearing is a number of degrees.
  function drawCard(canvas, card) {
    var ctx = canvas.getContext("2d");
    var w = canvas.width, h = canvas.height, pad = 36;
    var family = window.getComputedStyle(document.body).fontFamily || "sans-serif";
    var hasArrow = card.bearing !== undefined && card.bearing !== "";
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
    wrap(ctx, card.title || "", w - 2 * pad, card.titleLines || 1).forEach(function (line) { ctx.fillText(line, pad, y); y += 84; });
    ctx.font = "40px " + family;
    wrap(ctx, card.text || "", w - 2 * pad, 3).forEach(function (line) { ctx.fillText(line, pad, y); y += 52; });
    if (card.footer) {
      ctx.font = "bold 40px " + family;
      var textWidth = w - 2 * pad - (hasArrow ? 140 : 0);
      var lines = wrap(ctx, card.footer, textWidth, card.footerLines || 2);
      var top = h - pad - lines.length * 52;
      lines.forEach(function (line, i) { ctx.fillText(line, pad, top + i * 52); });
      if (hasArrow) { drawArrow(ctx, w - pad - 60, h - pad - 60, 52, parseFloat(card.bearing)); }
    }
  }

  // --- what both camera views share ------------------------------------------------------------

  // Why the camera cannot even be asked for ("" when it can).
  function cameraProblem() {
    if (!window.isSecureContext) { return "insecure"; }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return "nocamera"; }
    return "";
  }

  function reasonFor(error) {
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") { return "denied"; }
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "NotReadableError" ||
        name === "DevicesNotFoundError") { return "nocamera"; }
    return "failed";
  }

  // Ask for the camera once ourselves: a refusal or a missing camera is told apart here,
  // before megabytes of libraries are loaded.  AR.js then opens the camera again.
  function openCameraAndLoad(pageData) {
    return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (stream) {
        stream.getTracks().forEach(function (track) { track.stop(); });
        return loadScript(pageData.aframeSrc).then(function () { return loadScript(pageData.arjsSrc); });
      });
  }

  // An <a-scene> inside the page (not full-screen VR), with AR.js set up by arjsSettings.
  function newScene(arjsSettings) {
    var scene = document.createElement("a-scene");
    scene.setAttribute("embedded", "");
    scene.setAttribute("vr-mode-ui", "enabled: false");
    scene.setAttribute("loading-screen", "enabled: false");
    scene.setAttribute("device-orientation-permission-ui", "enabled: false");
    scene.setAttribute("renderer", "alpha: true; antialias: true; logarithmicDepthBuffer: true");
    scene.setAttribute("arjs", ["debugUIEnabled: false"].concat(arjsSettings).join("; "));
    return scene;
  }

  // The buttons, status line and problem box of one camera view, found by their id prefix
  // ("ar-start", "ar-stop", …).  The view's state is written to stateEl's stateAttr for
  // styles and tests; every text comes from texts' data-msg-* attributes.
  function cameraView(prefix, section, stateEl, stateAttr, texts) {
    var get = function (part) { return document.getElementById(prefix + "-" + part); };
    var view = { start: get("start"), stop: get("stop") };
    var status = get("status"), problem = get("problem"), problemText = get("problem-text");

    view.say = function (key, state, values) {
      status.textContent = fill(message(texts, key), values || {});
      if (state) { stateEl.setAttribute(stateAttr, state); }
    };
    view.fail = function (key) {
      document.documentElement.classList.remove("ar-active");
      section.classList.remove("ar-running");
      problemText.textContent = message(texts, key);
      problem.hidden = false;
      status.textContent = "";
      stateEl.setAttribute(stateAttr, "unavailable");
      stateEl.setAttribute("data-problem", key);
      view.start.hidden = false;
      view.stop.hidden = true;
    };
    // After the tap: false (and the reason shown) when there is a problem already.
    view.begin = function (problemKey) {
      problem.hidden = true;
      stateEl.removeAttribute("data-problem");
      if (problemKey) { view.fail(problemKey); return false; }
      view.start.hidden = true;
      return true;
    };
    // The camera picture fills the screen; only this view's bar stays on top of it.
    view.running = function () {
      document.documentElement.classList.add("ar-active");
      section.classList.add("ar-running");
      view.stop.hidden = false;
    };
    view.stop.addEventListener("click", function () {
      Array.prototype.forEach.call(document.querySelectorAll("video"), function (video) {
        if (video.srcObject) { video.srcObject.getTracks().forEach(function (track) { track.stop(); }); }
      });
      view.say("stopped", "idle");
      // A-Frame and AR.js keep global state; a fresh page is the reliable way back.
      window.location.reload();
    });
    view.start.hidden = false;
    return view;
  }

  // --- where the visitor is, and how far each site is ------------------------------------------

  // The phone's position (asked once) and the sites with a sourced coordinate.  Fails with
  // an Error whose .reason is "unsupported", "denied" or "failed".
  function locate(sitesUrl) {
    return new Promise(function (resolve, reject) {
      function stop(reason) { var error = new Error(reason); error.reason = reason; reject(error); }
      if (!navigator.geolocation) { stop("unsupported"); return; }
      var sites = fetch(sitesUrl, { credentials: "same-origin" }).then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        // Links in the list are relative to the list's own address: the app writes them from
        // its root, a static export (export-static) relative to the file.
        return response.json().then(function (json) {
          (json.sites || []).forEach(function (site) {
            site.url = new URL(site.url, response.url).href;
            if (site.ar_url) { site.ar_url = new URL(site.ar_url, response.url).href; }
          });
          return json;
        });
      });
      sites.catch(function () {});  // reported below, once the position is known
      navigator.geolocation.getCurrentPosition(function (position) {
        sites.then(function (json) { resolve({ here: position.coords, sites: json.sites }); },
                   function () { stop("failed"); });
      }, function (error) {
        stop(error && error.code === 1 ? "denied" : "failed");
      }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
    });
  }

  // From the list's data- attributes: a function giving, for a site seen from `here`, the
  // distance in metres, the compass point and "350 m to the north-west" in the page's language.
  function describer(data) {
    var words = JSON.parse(data.compass || "{}");
    var numbers = new Intl.NumberFormat(data.numberLocale || undefined, { maximumFractionDigits: 1 });

    function distanceText(metres) {
      // As webapp.tourism.distance_text: tens of metres below 1 km, then km to one decimal.
      if (metres < 1000) {
        return fill(data.msgMetres, { n: numbers.format(Math.round(metres / 10) * 10 || Math.floor(metres)) });
      }
      return fill(data.msgKilometres, { n: numbers.format(Math.round(metres / 100) / 10) });
    }

    return function (here, site) {
      var metres = haversine(here.latitude, here.longitude, site.lat, site.lon);
      var point = compass(bearing(here.latitude, here.longitude, site.lat, site.lon));
      return { metres: metres, point: point,
               text: fill(data.msgItem, { distance: distanceText(metres), direction: words[point] || point }) };
    };
  }

  // --- the camera view over the sign's marker ---------------------------------------------------

  function setUpMarkerView(root) {
    var start = document.getElementById("ar-start");
    if (!start) { return; }  // this site has no marker
    var data = root.dataset;
    var view = cameraView("ar", start.closest("section"), root, "data-tracking", data);

    function buildScene() {
      drawCard(document.getElementById("ar-label"),
               { title: data.labelName, text: data.labelText, footer: data.labelNext, bearing: data.bearing });
      var scene = newScene([
        "sourceType: webcam",
        "detectionMode: mono_and_matrix",
        "matrixCodeType: " + data.matrixCodeType,
        "patternRatio: " + data.patternRatio,
        "cameraParametersUrl: " + data.cameraParams
      ]);
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
      marker.addEventListener("markerFound", function () { view.say("found", "found"); });
      marker.addEventListener("markerLost", function () { view.say("lost", "lost"); });
      document.getElementById("ar-stage").appendChild(scene);
    }

    view.start.addEventListener("click", function () {
      if (!view.begin(cameraProblem())) { return; }
      view.say("starting", "starting");
      openCameraAndLoad(data)
        .then(function () {
          window.addEventListener("camera-error", function () { view.fail("failed"); });
          view.running();
          buildScene();
          view.say("looking", "searching");
          view.stop.focus();
        })
        .catch(function (error) { view.fail(reasonFor(error)); });
    });
  }

  // --- sites near you: the sorted list ------------------------------------------------------------

  function setUpNearby() {
    var section = document.getElementById("nearby");
    var button = document.getElementById("nearby-start");
    if (!section || !button) { return; }
    var data = section.dataset;
    var status = document.getElementById("nearby-status");
    var list = document.getElementById("nearby-list");
    var describe = describer(data);

    function say(key) {
      status.textContent = message(data, key);
      section.setAttribute("data-state", key);
    }

    function show(here, sites) {
      var rows = sites.map(function (site) { return { site: site, where: describe(here, site) }; });
      rows.sort(function (a, b) { return a.where.metres - b.where.metres; });
      list.textContent = "";
      rows.forEach(function (row) {
        var item = document.createElement("li");
        item.setAttribute("data-slug", row.site.slug);
        item.setAttribute("data-distance-m", String(Math.round(row.where.metres)));
        item.setAttribute("data-compass", row.where.point);
        var link = document.createElement("a");
        link.href = row.site.url;
        link.textContent = row.site.name;
        var where = document.createElement("span");
        where.className = "nearby-where";
        var arrow = document.createElement("span");
        arrow.className = "ar-arrow arrow-" + row.where.point.toLowerCase();
        arrow.setAttribute("aria-hidden", "true");
        arrow.textContent = "↑";
        var words = document.createElement("span");
        words.className = "nearby-distance";
        words.textContent = row.where.text;
        where.appendChild(arrow);
        where.appendChild(document.createTextNode(" "));
        where.appendChild(words);
        item.appendChild(link);
        item.appendChild(document.createTextNode(" "));
        item.appendChild(where);
        list.appendChild(item);
      });
      list.hidden = false;
      say("done");
    }

    button.hidden = false;
    button.addEventListener("click", function () {
      say("locating");
      locate(data.sitesUrl)
        .then(function (found) { show(found.here, found.sites); })
        .catch(function (error) { say(error.reason || "failed"); });
    });
  }

  // --- location mode: the nearby sites as labels in the camera picture ----------------------------

  // Positions closer together than this do not move the labels: a phone standing still
  // reports positions that wander by a few metres, which would make the labels jitter.
  var GPS_MIN_DISTANCE_M = 5;
  // A label's canvas: room for a name on two lines and the distance on one.
  var LABEL_CANVAS = { width: 720, height: 300 };
  // Each label is scaled with its distance so that every one looks as wide (about 30°,
  // most of a phone's width), and raised above the horizon by one of three steps in the
  // order of distance, so labels in the same direction stack instead of hiding each other.
  var LABEL_WIDTH = 4, SCALE_PER_UNIT_DISTANCE = 1 / 7;
  var LIFTS = [0.04, 0.24, 0.44];
  var LOCATION_REASONS = { unsupported: "unsupported", denied: "locationdenied", failed: "locationfailed" };

  // Keeps a label turned to the viewer, and sized and raised for its distance.
  function registerFaceCamera() {
    if (window.AFRAME.components["ar-face-camera"]) { return; }
    var viewer = new window.THREE.Vector3();
    window.AFRAME.registerComponent("ar-face-camera", {
      schema: { lift: { type: "number", default: 0 } },
      tick: function () {
        var camera = this.el.sceneEl.camera;
        if (!camera) { return; }
        camera.getWorldPosition(viewer);
        var object = this.el.object3D;
        var dx = object.position.x - viewer.x, dz = object.position.z - viewer.z;
        var distance = Math.sqrt(dx * dx + dz * dz);
        object.scale.setScalar(Math.max(1, distance * SCALE_PER_UNIT_DISTANCE));
        object.position.y = viewer.y + distance * this.data.lift;
        object.lookAt(viewer);
      }
    });
  }

  // On iPhones the compass needs its own permission, which can only be asked during a tap.
  function askForCompass() {
    var Orientation = window.DeviceOrientationEvent;
    if (Orientation && typeof Orientation.requestPermission === "function") {
      Orientation.requestPermission().catch(function () {});
    }
  }

  function setUpPlaces(root) {
    var section = document.getElementById("places");
    var nearby = document.getElementById("nearby");
    if (!section || !nearby) { return; }
    var data = section.dataset;
    var radius = Number(data.radiusM);
    var describe = describer(nearby.dataset);  // the list's texts and number format
    var view = cameraView("places", section, section, "data-state", data);

    function drawPlace(place, here) {
      var where = describe(here, place.site);
      if (where.text === place.shown) { return; }
      place.shown = where.text;
      drawCard(place.canvas, { title: place.site.name, titleLines: 2, footer: where.text, footerLines: 1 });
      var mesh = place.plane.getObject3D("mesh");
      if (mesh && mesh.material && mesh.material.map) { mesh.material.map.needsUpdate = true; }
    }

    function buildScene(sites, here) {
      registerFaceCamera();
      var scene = newScene(["sourceType: webcam", "videoTexture: true", "errorPopup: places-arjs-messages"]);
      var camera = document.createElement("a-entity");
      // The farthest label is 20 km away, and AR.js's map projection stretches distances
      // by about 1.3 here: the far plane must lie beyond both.
      camera.setAttribute("camera", "far: 60000");
      // Drag to look around on a computer; on a phone AR.js turns the view with the compass.
      camera.setAttribute("look-controls", "magicWindowTrackingEnabled: false");
      camera.setAttribute("gps-new-camera", "gpsMinDistance: " + GPS_MIN_DISTANCE_M);
      scene.appendChild(camera);
      var places = [];
      // gps-new-entity-place looks for the camera's component when it starts, so the
      // places are added once the scene (and with it the camera) has loaded.
      scene.addEventListener("loaded", function () {
        sites.forEach(function (site, i) {
          var canvas = document.createElement("canvas");
          canvas.width = LABEL_CANVAS.width;
          canvas.height = LABEL_CANVAS.height;
          canvas.id = "places-label-" + i;
          document.getElementById("places-labels").appendChild(canvas);
          var entity = document.createElement("a-entity");
          entity.setAttribute("gps-new-entity-place", "latitude: " + site.lat + "; longitude: " + site.lon);
          entity.setAttribute("ar-face-camera", "lift: " + LIFTS[i % LIFTS.length]);
          entity.setAttribute("data-slug", site.slug);
          var plane = document.createElement("a-plane");
          plane.setAttribute("width", String(LABEL_WIDTH));
          plane.setAttribute("height", String(LABEL_WIDTH * LABEL_CANVAS.height / LABEL_CANVAS.width));
          plane.setAttribute("material", "src: #" + canvas.id + "; shader: flat; transparent: true; side: double");
          var place = { site: site, canvas: canvas, plane: plane, shown: "" };
          drawPlace(place, here);
          entity.appendChild(plane);
          scene.appendChild(entity);
          places.push(place);
        });
        section.setAttribute("data-placed", String(places.length));
        view.say("placed", "running", { n: places.length });
        view.stop.focus();
      });
      // As the visitor walks, the distances on the labels follow.
      camera.addEventListener("gps-camera-update-position", function (event) {
        places.forEach(function (place) { drawPlace(place, event.detail.position); });
      });
      document.getElementById("places-stage").appendChild(scene);
    }

    view.start.addEventListener("click", function () {
      if (!view.begin(cameraProblem() || (navigator.geolocation ? "" : "unsupported"))) { return; }
      askForCompass();
      view.say("locating", "locating");
      var here;
      locate(nearby.dataset.sitesUrl)
        .then(function (found) {
          here = found.here;
          var near = found.sites.map(function (site) { return { site: site, metres: describe(here, site).metres }; })
            .filter(function (row) { return row.metres <= radius; })
            .sort(function (a, b) { return a.metres - b.metres; })
            .map(function (row) { return row.site; });
          if (!near.length) { var none = new Error("noplaces"); none.reason = "noplaces"; throw none; }
          view.say("starting", "starting");
          return openCameraAndLoad(root.dataset).then(function () { return near; });
        })
        .then(function (near) {
          view.running();
          buildScene(near, here);
        })
        .catch(function (error) {
          var reason = error && error.reason;
          view.fail(reason ? (LOCATION_REASONS[reason] || reason) : reasonFor(error));
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("ar-page");
    if (!root) { return; }
    setUpMarkerView(root);
    setUpNearby();
    setUpPlaces(root);
  });
}());
