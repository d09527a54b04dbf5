"""``${file:PATH}`` and ``VAR_FILE``: a secret mounted as a file (Docker, Kubernetes).

The file's text, one trailing newline removed. Only a regular file of at most
:data:`MAX_BYTES` is read; a symbolic link to one is followed (Docker's and
Kubernetes' secret mounts are links). A FIFO is refused without blocking.
Registered as the entry point ``file = "envres._sources.file:fetch"``; a
relative ``PATH`` reaches :func:`fetch` already made absolute against the folder
of the profile that wrote it (:func:`locate`).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from envres._sources._base import SecretNotFound, SourceFailed

__all__ = ["MAX_BYTES", "fetch", "locate"]

#: The largest secret file read: a password or a key is bytes, never megabytes.
MAX_BYTES = 1024 * 1024


def locate(reference: str, folder: Path) -> str:
    """``reference`` as an absolute path: relative ones are taken from ``folder``."""
    path = Path(reference).expanduser()
    return str(path if path.is_absolute() else folder / path)


def fetch(reference: str) -> str:
    """The text of the file at ``reference`` without its trailing newline."""
    try:
        # O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
        fd = os.open(reference, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        raise SecretNotFound("no such file") from None
    except PermissionError:
        raise SourceFailed("permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SourceFailed("too many levels of symbolic links") from None
        raise SourceFailed(f"cannot open it: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise SourceFailed("it is a directory, not a file")
        if stat.S_ISFIFO(mode):
            raise SourceFailed("it is a FIFO (named pipe), not a regular file")
        if not stat.S_ISREG(mode):
            raise SourceFailed("it is not a regular file")
        data = _read(fd)
    finally:
        os.close(fd)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceFailed("it is not UTF-8 text") from None
    if text.endswith("\r\n"):
        return text[:-2]
    return text.removesuffix("\n")


def _read(fd: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_BYTES:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > MAX_BYTES:
        raise SourceFailed(f"it is larger than {MAX_BYTES // 1024 // 1024} MiB")
    return b"".join(chunks)
