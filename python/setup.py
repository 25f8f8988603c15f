"""setup.py -- builds the densearch Python package offline.

    pip install ./python       (from the repository root, in a venv)
    make python                (build/python, no install)

There is deliberately no pyproject.toml: pip then builds with the installed
setuptools (Debian's python3-setuptools) instead of downloading one into an
isolated build environment, so the install works offline.

The extension (python/src/*.c, CPython C API only) links the static library
build/libdensearch.a, which this script brings up to date with `make`, so
the module carries the whole engine; only the system libraries the library
itself uses (the Makefile's LIBS) are linked dynamically. No numpy at build
time: arrays travel through the buffer protocol.
"""
import os
import re
import subprocess

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LIB = os.path.join(ROOT, "build", "libdensearch.a")

# Always through make: it is incremental, and a stale archive (sources newer
# than build/libdensearch.a) would otherwise be linked silently.
subprocess.check_call(["make", "-C", ROOT, "build/libdensearch.a"])


def makefile_libs():
    """The system libraries the archive needs, read from the Makefile's LIBS
    line so this file never falls out of step with it."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        for line in f:
            m = re.match(r"LIBS\s*:?=\s*(.*)", line)
            if m:
                return [w[2:] for w in m.group(1).split() if w.startswith("-l")]
    raise SystemExit("setup.py: no LIBS line in %s/Makefile" % ROOT)


src = sorted(os.path.join("src", f) for f in os.listdir(os.path.join(HERE, "src")) if f.endswith(".c"))
macros = [("_GNU_SOURCE", None)]

setup(
    name="densearch",
    version="0.1.0",
    description="Dense and hybrid text retrieval (BM25, transformer encoders, vector indexes) in C",
    packages=["densearch"],
    package_data={"densearch": ["__init__.pyi", "py.typed"]},
    ext_modules=[Extension(
        "densearch._densearch",
        sources=src,
        include_dirs=[os.path.join(ROOT, "include"), os.path.join(HERE, "src")],
        define_macros=macros,
        extra_compile_args=["-std=c11", "-fvisibility=hidden", "-pthread"],
        extra_objects=[LIB],
        libraries=makefile_libs(),
        extra_link_args=["-Wl,--exclude-libs,ALL", "-pthread"],
    )],
    python_requires=">=3.8",
)
