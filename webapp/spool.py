"""Uploads spooled to temporary files are closed even when parsing fails half-way.

werkzeug writes a large multipart part to a SpooledTemporaryFile.  When the
disk fills while it does, the parser raises before the file reaches
``request.files``, so nothing would close it and its (already unlinked)
blocks would stay in use until garbage collection.  This request class keeps
every stream it hands out and closes them all when Flask closes the request.
"""
from __future__ import annotations

from flask import Request


class ClosingRequest(Request):
    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        stream = super()._get_file_stream(total_content_length, content_type, filename, content_length)
        self.__dict__.setdefault("_spooled_streams", []).append(stream)
        return stream

    def close(self) -> None:
        try:
            super().close()
        finally:
            for stream in self.__dict__.pop("_spooled_streams", []):
                try:
                    stream.close()
                except OSError:
                    pass   # a full disk can fail the final flush too; the file is unlinked already
