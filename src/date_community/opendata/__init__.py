"""Open data: the city's sites and classes in the Japanese recommended-dataset layouts.

Exports: 観光施設一覧 (:mod:`.tourism_csv`), our multilingual extension file
(:mod:`.i18n_csv`), GeoJSON (:mod:`.geojson`) and イベント一覧
(:mod:`.events_csv`).  Imports read the first two back (:mod:`.readers`
handles encodings and header spellings).  The names below are the package's
public surface.
"""
from __future__ import annotations

from .columns import EVENT_COLUMNS, EVENTS_FILE, I18N_COLUMNS, TOURISM_COLUMNS, TOURISM_FILE, TOURISM_I18N_FILE
from .events_csv import export_events_csv, next_twelve_months
from .geojson import export_geojson
from .i18n_csv import export_tourism_i18n_csv, import_tourism_i18n_csv
from .readers import OpenDataError
from .tourism_csv import export_tourism_csv, import_tourism_csv

__all__ = [
    "EVENT_COLUMNS", "EVENTS_FILE", "I18N_COLUMNS", "TOURISM_COLUMNS", "TOURISM_FILE", "TOURISM_I18N_FILE",
    "OpenDataError", "export_events_csv", "export_geojson", "export_tourism_csv", "export_tourism_i18n_csv",
    "import_tourism_csv", "import_tourism_i18n_csv", "next_twelve_months",
]
