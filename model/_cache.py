"""Numba's on-disk cache, keyed on every source file a compiled function is built from.

Numba (``cache=True``) keys a function's cache on the modification time and size of the file
that defines it, not of the files it calls or inlines. The ensemble kernel (``ensemble.py``)
inlines the rules (``rules.py``), which inline ``elementary.py``: after an edit or a ``git pull``
that changes only ``rules.py``, the cached kernel would still run the old rules while the Mesa
model ran the new ones. :func:`depend_on_sources` makes each function's cache stamp cover all the
files it is built from, so a change to any of them recompiles it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from numba.core.dispatcher import Dispatcher

__all__ = ["depend_on_sources"]


def depend_on_sources(namespace: dict, files: Iterable[str]) -> None:
    """Key the on-disk cache of every compiled function in ``namespace`` on all of ``files``.

    The stamp is the name, modification time and size of each file. It relies on numba's
    cache internals (``Dispatcher._cache._cache_file._source_stamp``, numba 0.55 to 0.68); if
    they move, functions keep numba's own per-file stamp.
    """
    try:
        stamp = tuple(
            (os.path.basename(path), os.stat(path).st_mtime, os.stat(path).st_size)
            for path in files
        )
    except OSError:  # sources not on disk (a zip or frozen install): numba's own stamps
        return
    for value in list(namespace.values()):
        if not isinstance(value, Dispatcher):
            continue
        cache_file = getattr(getattr(value, "_cache", None), "_cache_file", None)
        if cache_file is not None and hasattr(cache_file, "_source_stamp"):
            cache_file._source_stamp = stamp
