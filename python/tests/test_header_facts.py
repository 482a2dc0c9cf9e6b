"""The package's copies of include/xent.h, held to the header itself.

Python cannot read C macros or struct layouts from a shared library, so python/xent/_lib.py repeats some facts of
the header: the status codes, the reduction codes, the ABI major version, the fields of xent_options and
xent_stats, and the ctypes signatures of the functions it calls. Each test below parses the header and fails when
one of those copies drifts from it. (Status strings are not copied: the package asks xent_status_string().)
"""

import ctypes
import importlib.metadata
import pathlib
import re

import pytest

import xent
from xent import _lib

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADER = ROOT / "include" / "xent.h"

# header functions the package does not call (their C-only convenience has no use through ctypes)
NOT_CALLED = {"xent_options_init_size"}


@pytest.fixture(scope="module")
def header():
    assert HEADER.is_file(), f"{HEADER} not found: these tests run from the repository's python/tests"
    return HEADER.read_text()


@pytest.fixture(scope="module")
def code(header):
    """The header without comments."""
    return re.sub(r"/\*.*?\*/", " ", header, flags=re.S)


@pytest.fixture(scope="module")
def macros(code):
    """Every object-like ``#define XENT_NAME value`` (the value as written, comments removed)."""
    found = dict(re.findall(r"^#define\s+(XENT_\w+)[ \t]+(\S[^\n]*?)\s*$", code, flags=re.M))
    assert "XENT_VERSION_MAJOR" in found and "XENT_OK" in found, "the header's #define lines were not found"
    return found


def _int_macros(macros, prefix):
    return {name: int(value) for name, value in macros.items() if name.startswith(prefix)}


def _struct_fields(code, name):
    """[(field, C type)] of ``typedef struct name { ... } name;``; pointer types end in '*'."""
    m = re.search(r"typedef\s+struct\s+" + name + r"\s*\{(.*?)\}\s*" + name + r"\s*;", code, flags=re.S)
    assert m, f"struct {name} not found in {HEADER}"
    fields = []
    for decl in filter(None, (d.strip() for d in m.group(1).split(";"))):
        dm = re.fullmatch(r"((?:const\s+)?\w+)\s*(\*?)\s*(\w+)", " ".join(decl.split()))
        assert dm, f"unexpected declaration in {name}: {decl!r}"
        fields.append((dm.group(3), dm.group(1) + dm.group(2)))
    return fields


def _ctype(c_type, param=True):
    """The ctypes type the package uses for a C type of the header."""
    c_type = " ".join(c_type.replace("*", " * ").split())
    if c_type.endswith("*"):
        base = c_type.replace("const", "").replace("*", "").strip()
        if base == "xent_options":
            return ctypes.POINTER(_lib.Options)
        if base == "char" and not param:
            return ctypes.c_char_p
        return ctypes.c_void_p
    return {
        "size_t": ctypes.c_size_t,
        "int32_t": ctypes.c_int32,
        "xent_status": ctypes.c_int32,
        "uint32_t": ctypes.c_uint32,
        "int64_t": ctypes.c_int64,
        "float": ctypes.c_float,
        "double": ctypes.c_double,
        "void": None,
    }[c_type]


def _functions(code):
    """{name: (return C type, [parameter C types])} of every ``XENT_API`` declaration."""
    out = {}
    for ret, name, params in re.findall(r"XENT_API\s+([\w\s\*]+?)\s*\b(xent_\w+)\s*\(([^)]*)\)\s*;", code):
        types = []
        for p in (" ".join(p.split()) for p in params.split(",")):
            if p == "void":
                continue
            pm = re.fullmatch(r"(.*?)(\w+)", p)
            types.append(pm.group(1).strip())
        out[name] = (ret.strip(), types)
    assert out, "no XENT_API declarations found"
    return out


def test_version(macros):
    major, minor, patch = (int(macros[f"XENT_VERSION_{k}"]) for k in ("MAJOR", "MINOR", "PATCH"))
    assert macros["XENT_VERSION_STRING"] == f'"{major}.{minor}.{patch}"'
    number = eval(
        macros["XENT_VERSION_NUMBER"],
        {"__builtins__": {}},
        {k: int(macros[k]) for k in ("XENT_VERSION_MAJOR", "XENT_VERSION_MINOR", "XENT_VERSION_PATCH")},
    )
    assert number == major * 10000 + minor * 100 + patch
    # the ABI major the package accepts, and the loaded library (built from this header)
    assert major == _lib.PACKAGE_MAJOR
    assert _lib.LIBRARY_VERSION_NUMBER == number, f"{xent.library_path} is not the library of this header"
    assert xent.library_version() == xent.__version__ == f"{major}.{minor}.{patch}"
    # the installed distribution's version (pyproject.toml takes it from this header: python/hatch_build.py)
    assert importlib.metadata.version("xent") == f"{major}.{minor}.{patch}"


def test_status_codes(macros):
    codes = _int_macros(macros, "XENT_ERR_")
    codes["XENT_OK"] = int(macros["XENT_OK"])
    assert len(set(codes.values())) == len(codes), "two status codes share a value"
    for name, value in codes.items():
        py = name[len("XENT_") :]
        assert getattr(_lib, py, None) == value, f"_lib.{py}"
        assert getattr(xent, py, None) == value, f"xent.{py}"
    # every status constant of the package is one of the header's
    assert {n for n in dir(xent) if n.startswith("ERR_")} == {n[len("XENT_") :] for n in codes if n != "XENT_OK"}


def test_status_strings_come_from_the_library(macros):
    codes = sorted(_int_macros(macros, "XENT_ERR_").values())
    strings = [_lib.status_string(c) for c in [0, *codes]]
    assert all(strings) and len(set(strings)) == len(strings), strings
    for c in codes:
        e = xent.XentError("f", c, "")
        assert e.status_name == _lib.lib.xent_status_string(c).decode() and str(e) == f"f: {e.status_name}"
    assert _lib.status_string(max(codes) + 1000)  # unknown codes still give a string


def test_reductions(macros):
    reductions = _int_macros(macros, "XENT_REDUCTION_")
    assert reductions, "no XENT_REDUCTION_* in the header"
    for name, value in reductions.items():
        assert getattr(_lib, name[len("XENT_") :], None) == value, name
    assert xent._REDUCTIONS == {name[len("XENT_REDUCTION_") :].lower(): v for name, v in reductions.items()}


def test_options_struct(code, macros):
    fields = _struct_fields(code, "xent_options")
    assert [(n, _ctype(t)) for n, t in fields] == list(_lib.Options._fields_)
    assert fields[0][0] == "struct_size"
    m = re.fullmatch(r"offsetof\(\s*xent_options\s*,\s*(\w+)\s*\)", macros["XENT_OPTIONS_V1_SIZE"])
    assert m, macros["XENT_OPTIONS_V1_SIZE"]
    assert _lib.OPTIONS_V1_SIZE == getattr(_lib.Options, m.group(1)).offset
    assert _lib.OPTIONS_SIZE == ctypes.sizeof(_lib.Options)


def test_linear_workspace_default(macros):
    m = re.fullmatch(r"\(\s*\(size_t\)\s*(\d+)\s*<<\s*(\d+)\s*\)", macros["XENT_LINEAR_WORKSPACE_DEFAULT"])
    assert m, macros["XENT_LINEAR_WORKSPACE_DEFAULT"]
    assert _lib.LINEAR_WORKSPACE_DEFAULT == int(m.group(1)) << int(m.group(2))


def test_stats_struct(code):
    fields = _struct_fields(code, "xent_stats")
    assert [(n, _ctype(t)) for n, t in fields] == list(_lib.Stats._fields_)
    assert [t for _, t in fields] == ["double"] * len(fields)
    assert xent.STATS_DTYPE.names == tuple(n for n, _ in fields)
    assert xent.STATS_DTYPE.itemsize == ctypes.sizeof(_lib.Stats)
    assert [xent.STATS_DTYPE.fields[n][1] for n, _ in fields] == [getattr(_lib.Stats, n).offset for n, _ in fields]


def test_function_signatures(code):
    header = _functions(code)
    declared = {**_lib._SIGNATURES, **_lib._OPTIONAL_SIGNATURES}
    assert set(header) - set(declared) == NOT_CALLED, "header functions the package neither declares nor skips"
    for name, (restype, argtypes) in declared.items():
        assert name in header, f"the package declares {name}, which include/xent.h does not"
        ret, params = header[name]
        assert restype == _ctype(ret, param=False), f"{name}: return type {ret}"
        assert list(argtypes) == [_ctype(p) for p in params], f"{name}: parameters {params}"
