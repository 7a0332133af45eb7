"""cffi ffibuilder for runk._native._sys (API mode, compiled at install).

Runs at build time only. Following the per-header layout of pyca/cryptography's _cffi_src, every
decl_*.py beside this file contributes INCLUDES, TYPES, FUNCTIONS and CUSTOMIZATIONS strings; this
builder concatenates them in file-name order into one set_source + cdef.
"""

import glob
import importlib.util
import os
from types import ModuleType

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))


def _fragments() -> list[ModuleType]:
    mods = []
    for path in sorted(glob.glob(os.path.join(HERE, "decl_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods.append(mod)
    return mods


def build_ffi() -> FFI:
    ffi = FFI()
    frags = _fragments()
    ffi.cdef("\n".join(m.TYPES + m.FUNCTIONS for m in frags))
    source = (
        "#ifndef _GNU_SOURCE\n#define _GNU_SOURCE\n#endif\n"
        + "\n".join(m.INCLUDES for m in frags)
        + "\n"
        + "\n".join(m.CUSTOMIZATIONS for m in frags)
    )
    libs = sorted({lib for m in frags for lib in getattr(m, "LIBRARIES", [])})
    ffi.set_source("runk._native._sys", source, libraries=libs)
    return ffi


ffibuilder = build_ffi()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
