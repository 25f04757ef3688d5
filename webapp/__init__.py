"""The date-community web app: a thin Flask front end over the library."""
from __future__ import annotations

from .app import create_app
from .service import create_service

__all__ = ["create_app", "create_service"]
