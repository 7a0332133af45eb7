"""Build hooks setuptools cannot take from pyproject.toml.

cffi's documented `cffi_modules` hook compiles runk._native._sys (API mode) and a build_ext step
links the exec trampoline (runk/_native/trampoline.c) as a static executable beside it.
"""
import os
import subprocess

from setuptools import setup
from setuptools.command.build_ext import build_ext


class BuildExtWithTrampoline(build_ext):
    def run(self) -> None:
        super().run()
        src = os.path.join("runk", "_native", "trampoline.c")
        outdir = os.path.join("runk", "_native") if self.inplace else os.path.join(self.build_lib, "runk", "_native")
        os.makedirs(outdir, exist_ok=True)
        out = os.path.join(outdir, "runk-exec")
        subprocess.check_call(["gcc", "-static", "-Os", "-s", "-Wall", "-Werror", "-o", out, src])


setup(cffi_modules=["runk/_native/build.py:ffibuilder"], cmdclass={"build_ext": BuildExtWithTrampoline})
