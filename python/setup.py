"""Only here to mark the wheel as platform-specific when it bundles libxent.so (metadata is in pyproject.toml)."""

import os

from setuptools import setup
from setuptools.dist import Distribution

_HERE = os.path.dirname(os.path.abspath(__file__))


class _Dist(Distribution):
    def has_ext_modules(self):  # a bundled native library makes the wheel platlib / platform-tagged
        return os.path.exists(os.path.join(_HERE, "xent", "libxent.so"))


try:
    from wheel.bdist_wheel import bdist_wheel as _bdist_wheel

    class _BdistWheel(_bdist_wheel):
        def get_tag(self):
            python, abi, plat = super().get_tag()
            # ctypes only: any CPython 3 works, but the wheel is tied to the platform of libxent.so
            return ("py3", "none", plat) if not self.root_is_pure else (python, abi, plat)

    cmdclass = {"bdist_wheel": _BdistWheel}
except ImportError:  # wheel not installed: plain sdist/egg builds still work
    cmdclass = {}

setup(distclass=_Dist, cmdclass=cmdclass)
