#!/usr/bin/env bash
# Install pysqlite3 built against a SQLite that has the WAL-reset fix (3.51.3+).
#
# Python's sqlite3 module links the system SQLite (3.40 on Debian 12), which
# has the WAL-reset corruption race.  No wheel on PyPI carries a fixed SQLite
# for the DB-API (pysqlite3-binary stops at 3.51.1), so we compile one: the
# pysqlite3 source release (PyPI) with the SQLite amalgamation that the
# better-sqlite3 package ships (npm registry).  sqlite-utils picks pysqlite3
# over the standard module by itself (see src/date_community/sqlitedriver.py).
# Both downloads are pinned by version and SHA-256.
#
#   tools/sqlite.sh [PYTHON]      (default .venv/bin/python; takes about 2 minutes)
set -euo pipefail

PYTHON="${1:-.venv/bin/python}"
# Absolute, because the checks below run from the work folder.  Only the folder
# is resolved: resolving the venv's python symlink itself would leave the venv.
PYTHON="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")"
NPM_PACKAGE=better-sqlite3
NPM_VERSION=12.11.1
NPM_SHA256=ebf0ed75a7a59dbcb3b24bbd014ef49d9f15bc328e4adcbf516f2a8fadfa2835
PYSQLITE3_VERSION=0.6.1
PYSQLITE3_SHA256=dd7d2b7f3a29aebdbf569c359658b091d3345b5691d9ea765a5c3febe8872bf9
MIN_VERSION=3.51.3

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

check() {  # file sha256
    echo "$2  $1" | sha256sum --check --status || { echo "checksum mismatch: $(basename "$1")" >&2; exit 1; }
}

(cd "$work" && npm pack --silent "$NPM_PACKAGE@$NPM_VERSION" >/dev/null)
check "$work/$NPM_PACKAGE-$NPM_VERSION.tgz" "$NPM_SHA256"
tar -xzf "$work/$NPM_PACKAGE-$NPM_VERSION.tgz" -C "$work" package/deps/sqlite3/sqlite3.c package/deps/sqlite3/sqlite3.h

"$PYTHON" -m pip download --quiet --no-deps --no-binary :all: "pysqlite3==$PYSQLITE3_VERSION" -d "$work"
check "$work/pysqlite3-$PYSQLITE3_VERSION.tar.gz" "$PYSQLITE3_SHA256"
tar -xzf "$work/pysqlite3-$PYSQLITE3_VERSION.tar.gz" -C "$work"
# pysqlite3's setup.py compiles sqlite3.c into the module when it finds it beside itself.
cp "$work"/package/deps/sqlite3/sqlite3.[ch] "$work/pysqlite3-$PYSQLITE3_VERSION/"

"$PYTHON" -m pip install --quiet --no-deps --force-reinstall "$work/pysqlite3-$PYSQLITE3_VERSION"

# Run from the work folder so the unbuilt source tree cannot shadow the installed module.
(cd "$work" && "$PYTHON" - "$MIN_VERSION" <<'PY'
import sys
import pysqlite3

have = tuple(int(p) for p in pysqlite3.sqlite_version.split("."))
need = tuple(int(p) for p in sys.argv[1].split("."))
if have < need:
    sys.exit(f"pysqlite3 links SQLite {pysqlite3.sqlite_version}, older than {sys.argv[1]}")
print(f"pysqlite3 with SQLite {pysqlite3.sqlite_version}")
PY
)
