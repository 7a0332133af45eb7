"""Build hooks setuptools cannot take from pyproject.toml.

cffi's documented `cffi_modules` hook compiles runk._native._sys (API mode) and a build_ext step
links the exec trampoline (runk/_native/trampoline.c) as a static executable beside it.
"""
import os
import shutil
import subprocess
import sysconfig

from setuptools import setup
from setuptools.command.build_ext import build_ext


class BuildExtWithTrampoline(build_ext):
    def run(self) -> None:
        super().run()
        src = os.path.join("runk", "_native", "trampoline.c")
        outdir = os.path.join("runk", "_native") if self.inplace else os.path.join(self.build_lib, "runk", "_native")
        os.makedirs(outdir, exist_ok=True)
        out = os.path.join(outdir, "runk-exec")
        # musl makes a 34 KB static binary (glibc: 690 KB): less to copy into the sealed memfd
        # on every create and exec, and a smaller waiting init. musl has no kernel headers of
        # its own: the system's linux/ and asm/ are searched after musl's libc headers.
        if shutil.which("musl-gcc"):
            cmd = ["musl-gcc", "-idirafter", "/usr/include", "-idirafter",
                   f"/usr/include/{sysconfig.get_config_var('MULTIARCH') or 'x86_64-linux-gnu'}"]
        else:
            cmd = ["gcc"]
        subprocess.check_call(cmd + ["-static", "-Os", "-s", "-Wall", "-Werror", "-o", out, src])


setup(cffi_modules=["runk/_native/build.py:ffibuilder"], cmdclass={"build_ext": BuildExtWithTrampoline})
