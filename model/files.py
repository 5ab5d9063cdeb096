"""Reading an input file the user named, guarded: a regular file of bounded size and shape.

Every file a command reads because a user named it (a scenario, its ``extends``, a pattern
registry, a batch's manifest and design) goes through :func:`read_text` or
:func:`check_regular_file` first, so ``/dev/zero``, a FIFO, a directory, a symlink loop, a NUL
byte or an over-long path is one :class:`UnreadableFile` naming the path and the problem,
never a hang, a memory exhaustion or a traceback. :func:`check_shape` bounds the nesting depth
and the number of keys of what was parsed, before any recursive walk of it. Messages never
quote the file's content (a file reached by ``extends`` may be anyone's).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_KEYS",
    "MAX_PATH_BYTES",
    "UnreadableFile",
    "check_path_text",
    "check_regular_file",
    "check_shape",
    "describe_os_error",
    "gibibytes",
    "read_data",
    "read_text",
]

MAX_FILE_BYTES = 16 * 2**20
"""Largest scenario or pattern file read (16 MiB; the baseline's files are under 70 kB)."""
MAX_DEPTH = 24
"""Deepest nesting of tables and lists accepted (a scenario needs 6)."""
MAX_KEYS = 200_000
"""Most keys and list items in one file (the baseline's two files have about 3,000)."""
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


class UnreadableFile(ValueError):
    """A path that cannot be read as an input file: ``problem`` says why, in a few words.

    Parameters
    ----------
    path : str
        The path as the user wrote it (shortened if long).
    problem : str
        What is wrong, e.g. ``"not a regular file (a FIFO)"``.
    """

    def __init__(self, path: str, problem: str):
        self.path, self.problem = _shown(path), problem
        super().__init__(f"{self.path}: {problem}")


def _shown(path: Any) -> str:
    text = str(path)
    return text if len(text) <= 200 else text[:100] + "..." + text[-60:]


def check_path_text(path: str | Path) -> None:
    """Refuse a path with a NUL byte, a name over 255 bytes or a total over 4096 bytes."""
    text = os.fspath(path)
    if "\0" in text:
        raise UnreadableFile(repr(text), "a path with a NUL character")
    encoded = os.fsencode(text)
    if len(encoded) > MAX_PATH_BYTES:
        raise UnreadableFile(text, f"a path of {len(encoded):,} bytes (at most {MAX_PATH_BYTES})")
    longest = max((len(part) for part in encoded.split(b"/")), default=0)
    if longest > MAX_NAME_BYTES:
        raise UnreadableFile(
            text, f"a file or folder name of {longest:,} bytes (at most {MAX_NAME_BYTES})"
        )


_KINDS = {
    stat.S_ISDIR: "a directory",
    stat.S_ISFIFO: "a FIFO",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISSOCK: "a socket",
}


def check_regular_file(path: str | Path, *, limit: int | None = MAX_FILE_BYTES) -> int:
    """The size of ``path`` once it is known to be a regular file of at most ``limit`` bytes.

    Raises
    ------
    UnreadableFile
        For a missing file, a directory, a device, a FIFO or socket, a symlink loop, a path
        with a NUL byte or too long, an unreadable file or one larger than ``limit``.
    """
    check_path_text(path)
    try:
        status = os.stat(path)
    except OSError as error:
        raise UnreadableFile(str(path), _problem(error)) from None
    for test, kind in _KINDS.items():
        if test(status.st_mode):
            raise UnreadableFile(str(path), f"{kind}, not a regular file")
    if not stat.S_ISREG(status.st_mode):
        raise UnreadableFile(str(path), "not a regular file")
    if limit is not None and status.st_size > limit:
        raise UnreadableFile(
            str(path), f"{status.st_size:,} bytes, larger than the {limit:,} bytes allowed"
        )
    return status.st_size


def describe_os_error(error: OSError) -> str:
    """``<path>: <problem>`` for an error of the file system (a full disk, a path too long)."""
    where = error.filename if error.filename is not None else "(a file)"
    if error.filename2 is not None:
        where = f"{where} -> {error.filename2}"
    return f"{_shown(where)}: {_problem(error)}"


def _problem(error: OSError) -> str:
    if error.errno == errno.ENOENT:
        return "no such file"
    if error.errno == errno.ELOOP:
        return "a loop of symbolic links"
    if error.errno == errno.ENOTDIR:
        return "a part of the path is a file, not a folder"
    return (error.strerror or type(error).__name__).lower()


def read_text(path: str | Path, *, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes (see :func:`check_regular_file`).

    At most ``limit + 1`` bytes are read, whatever the file claims, and the file is opened
    without blocking, so a file swapped for a FIFO after the check cannot hang the read.
    """
    check_regular_file(path, limit=limit)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise UnreadableFile(str(path), "not a regular file")
            data = handle.read(limit + 1)
    except OSError as error:
        raise UnreadableFile(str(path), _problem(error)) from None
    if len(data) > limit:
        raise UnreadableFile(str(path), f"larger than the {limit:,} bytes allowed")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise UnreadableFile(
            str(path), f"not UTF-8 text (byte {error.start:,}, line {line}; binary data?)"
        ) from None


def read_data(
    path: str | Path,
    parse: Callable[[str], Any],
    *,
    kind: str,
    limit: int = MAX_FILE_BYTES,
    keys: int | None = MAX_KEYS,
) -> Any:
    """``parse`` (``tomllib.loads``, ``json.loads``) of a file read by :func:`read_text`, then
    :func:`check_shape`-d (no key count with ``keys=None``); a parse error or nesting too deep
    for the parser is an :class:`UnreadableFile` saying ``not valid <kind> (...)``."""
    text = read_text(path, limit=limit)
    try:
        data = parse(text)
    except RecursionError:
        raise UnreadableFile(str(path), f"not valid {kind} (nested too deep)") from None
    except ValueError as error:  # TOMLDecodeError and JSONDecodeError are ValueErrors
        raise UnreadableFile(str(path), f"not valid {kind} ({error})") from None
    check_shape(data, path, keys=keys)
    return data


def check_shape(
    data: Any, file: str | Path, *, depth: int = MAX_DEPTH, keys: int | None = MAX_KEYS
) -> None:
    """Refuse parsed data nested deeper than ``depth`` or with more than ``keys`` entries.

    Walks the tables and lists without recursion, so any depth is measured safely before a
    recursive reader sees it.
    """
    count = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, Mapping):
            children = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        if level >= depth:
            raise UnreadableFile(str(file), f"nested deeper than {depth} levels")
        count += len(children)
        if keys is not None and count > keys:
            raise UnreadableFile(str(file), f"more than {keys:,} keys and list items")
        stack.extend((child, level + 1) for child in children)


def gibibytes(n_bytes: float) -> str:
    """``n_bytes`` as a size people read, e.g. ``74.5 GiB`` (memory or disk a request needs)."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20)):
        if n_bytes >= size:
            return f"{n_bytes / size:,.1f} {unit}"
    return f"{n_bytes:,.0f} bytes"
