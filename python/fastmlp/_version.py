"""The package version: written once, in pyproject.toml, and read from the installed metadata.
(The C++ core gets the same string from CMake: ``_core.VERSION``.)"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("fastmlp")
except metadata.PackageNotFoundError:  # imported from a source tree without being installed
    from . import _core

    __version__ = _core.VERSION
