"""The Qt layer (PySide6 + pyqtgraph): the only package that imports Qt.

Importing it applies ``_pin_singletons`` first: PySide6 6.12's
``SignalInstance.emit()`` returns ``True`` without taking a reference, so
every emit whose result is dropped (all of them, pyqtgraph's included)
steals one reference of ``True`` (and some paths one of ``None``). On
Python < 3.12, where these objects are not immortal, a session of a few
thousand signals then dies with "Fatal Python error: bool_dealloc". Adding
2**40 references to ``True``, ``False`` and ``None`` makes them effectively
immortal, as they are from Python 3.12 on. See tests/gui/test_pyside_refcount.py.
"""

from __future__ import annotations

import sys


def _pin_singletons() -> None:
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return  # immortal already / different object layout
    import ctypes

    for obj in (True, False, None):
        ref = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field
        if ref.value < (1 << 39):
            ref.value += 1 << 40


_pin_singletons()
