"""Paths as envres shows and reads them: relative display, and files read within bounds."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["MAX_FILE_BYTES", "display", "read_file"]

#: The largest profile, env file or pyproject.toml envres reads; a profile is kilobytes.
MAX_FILE_BYTES = 16 * 1024 * 1024


def display(path: Path | str) -> str:
    """``path`` as errors print it: relative to the working directory when inside it.

    Editors and terminals link ``file:line:col`` relative to where the command ran.
    Symbolic links are not followed: a message names the file the user wrote.
    """
    text = str(path)
    if "\0" in text:
        return repr(text)
    absolute = Path(os.path.abspath(text))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except (ValueError, OSError):
        return str(absolute)


def read_file(path: Path) -> bytes:
    """A regular file's bytes, at most :data:`MAX_FILE_BYTES`.

    Anything else (a FIFO that would block, ``/dev/zero`` that never ends, a path
    with a NUL in it) is an ``OSError`` whose ``strerror`` says why in words.
    """
    try:
        st = os.stat(path)
    except ValueError:  # a NUL character: not a path any system accepts
        raise OSError(errno.EINVAL, "the path holds a NUL character") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise OSError(errno.EINVAL, f"it is {kind}")
    if st.st_size > MAX_FILE_BYTES:
        raise OSError(errno.EFBIG, f"it is larger than {MAX_FILE_BYTES // 2**20} MiB")
    with open(path, "rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise OSError(errno.EFBIG, f"it is larger than {MAX_FILE_BYTES // 2**20} MiB")
    return data
