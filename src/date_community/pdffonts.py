"""Fonts for printed PDFs (paper forms, signs), found among the system fonts.

reportlab embeds TrueType outlines only, so the CFF-based Noto CJK fonts the
browser uses cannot go into a PDF.  Japanese uses BIZ UD Gothic (a Universal
Design face made for readability); Chinese and Korean lines need fonts of
their own, because BIZ UD Gothic has neither simplified hanzi nor hangul.
The Makefile's system-deps step installs all three Debian packages.
"""
from __future__ import annotations

import os
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from .errors import DateCommunityError

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")

# reportlab name -> (file name, subfont index); the first of each role is preferred.
FONTS = {
    "UDGothic": ("BIZUDGothic-Regular.ttf", 0),
    "UDGothic-Bold": ("BIZUDGothic-Bold.ttf", 0),
    "ZhGothic": ("wqy-microhei.ttc", 0),
    "KoGothic": ("NanumGothic.ttf", 0),
    "KoGothic-Bold": ("NanumGothicBold.ttf", 0),
}

# The font for each content language; en and ja share the UD face.
FONT_FOR_LOCALE = {
    "ja": "UDGothic",
    "en": "UDGothic",
    "zh_Hans": "ZhGothic",
    "zh_Hant": "ZhGothic",
    "ko": "KoGothic",
}


def _find(file_name: str) -> Path | None:
    extra = os.environ.get("DATE_COMMUNITY_FONT_DIR")
    dirs = ((Path(extra),) if extra else ()) + FONT_DIRS
    for base in dirs:
        if not base.is_dir():
            continue
        for path in base.rglob(file_name):
            return path
    return None


def register(*names: str) -> None:
    """Register the named fonts with reportlab, once; raise ``font_missing`` if one is absent."""
    registered = set(pdfmetrics.getRegisteredFontNames())
    for name in names or tuple(FONTS):
        if name in registered:
            continue
        file_name, index = FONTS[name]
        path = _find(file_name)
        if path is None:
            raise DateCommunityError("font_missing", font=file_name)
        pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=index))
