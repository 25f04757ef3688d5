#!/usr/bin/env bash
# Fetch the pinned front-end libraries from the npm registry and copy the
# built files the app serves into webapp/static/vendor/ (ignored by git).
#
# `npm pack` is used instead of `npm install`: A-Frame's dependency tree
# points at a tarball outside the registry, while its published package
# already carries the prebuilt file we need.  npm checks each tarball
# against the registry's integrity hash.
set -euo pipefail
cd "$(dirname "$0")/.."

DEST=webapp/static/vendor
STAMP="$DEST/.versions"
PACKAGES=(
  "aframe@1.6.0"
  "@ar-js-org/ar.js@3.4.8"
  "@ar-js-org/artoolkit5-js@0.2.0"
  "leaflet@1.9.4"
)
WANT="${PACKAGES[*]}"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "${PACKAGES[@]}" >/dev/null)

unpack() {  # unpack TARBALL into DIR
  mkdir -p "$work/$2"
  tar -xzf "$work/$1" -C "$work/$2"
}
unpack aframe-1.6.0.tgz aframe
unpack ar-js-org-ar.js-3.4.8.tgz arjs
unpack ar-js-org-artoolkit5-js-0.2.0.tgz artoolkit
unpack leaflet-1.9.4.tgz leaflet

rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp/aframe" "$DEST.tmp/arjs" "$DEST.tmp/leaflet/images"
cp "$work/aframe/package/dist/aframe-v1.6.0.min.js" "$DEST.tmp/aframe/"
cp "$work/aframe/package/LICENSE" "$DEST.tmp/aframe/LICENSE"
cp "$work/arjs/package/aframe/build/aframe-ar.js" "$DEST.tmp/arjs/"
cp "$work/arjs/package/LICENSE" "$DEST.tmp/arjs/LICENSE"
cp "$work/artoolkit/package/data/camera_para.dat" "$DEST.tmp/arjs/"
cp "$work/leaflet/package/dist/leaflet.js" "$work/leaflet/package/dist/leaflet.css" "$DEST.tmp/leaflet/"
cp "$work/leaflet/package/dist/images/"*.png "$DEST.tmp/leaflet/images/"
cp "$work/leaflet/package/LICENSE" "$DEST.tmp/leaflet/LICENSE"
echo "$WANT" > "$DEST.tmp/.versions"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
echo "Front-end libraries in $DEST: $WANT"
