"""Writing output files so that a full disk never leaves half a file.

Every file the CLI writes goes through :func:`write_atomic`: the bytes go to
a temporary file beside the target, which replaces the target only once all
of it is on disk.  On any failure (a full disk: ENOSPC, or a file-size limit:
EFBIG) the temporary file is removed and the target is left as it was; a
full disk is raised as ``disk_full``.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Callable

from .errors import DateCommunityError, disk_full_cause


def write_atomic(path: str | os.PathLike, data: bytes | str | Callable[[str], None], *,
                 encoding: str = "utf-8", newline: str | None = None) -> Path:
    """Write ``data`` (bytes, text, or a function that writes to the path it is given) to ``path``."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        if callable(data):
            os.close(fd)
            data(tmp)
        else:
            mode = "wb" if isinstance(data, bytes) else "w"
            kwargs = {} if isinstance(data, bytes) else {"encoding": encoding, "newline": newline}
            with os.fdopen(fd, mode, **kwargs) as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        cause = disk_full_cause(exc)
        if cause:
            raise DateCommunityError("disk_full", cause=cause) from exc
        raise
    return target
