"""Type stub of the cffi module built at install (runk/_native/build.py): cffi's FFI and lib
objects are dynamic, the C declarations in decl_*.py are the reference."""

from typing import Any

ffi: Any
lib: Any
