"""Compiled bindings: `ffi` and `lib` of runk._native._sys (runs in parent, bootstrap, init, tenant).

Imported lazily by runk.linux modules only: state and list never load it.
"""

from runk import _os

from ._sys import ffi as ffi
from ._sys import lib as lib

TRAMPOLINE = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "runk-exec")
