"""The date-community web app: a thin Flask front end over the library."""
from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
