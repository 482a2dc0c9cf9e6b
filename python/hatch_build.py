"""Build hook of the ``xent`` wheel (hatchling; configured in the root pyproject.toml).

The wheel bundles ``xent/libxent.so``, built from this Swift package exactly as ``make lib`` builds it::

    swift build -c release --product xent <ISA flags> -Xswiftc -static-stdlib
        -Xlinker --version-script=lib/xent.map -Xlinker -rpath -Xlinker '$ORIGIN'

then ``strip --strip-unneeded``. The ISA flags follow this CPU, as the Makefile chooses them: ``-Xcc
-march=x86-64-v4`` with AVX-512 F/CD/BW/DQ/VL, ``-Xcc -march=x86-64-v3`` with AVX2 and FMA, none otherwise; so a
wheel runs on CPUs with this one's vector ISA (it is tagged ``py3-none-<platform>``: ctypes, no CPython ABI).
SwiftPM's scratch folder is ``.build-pip-<isa>`` in the source tree (a rebuild of an unchanged tree takes seconds).

Environment:

* ``XENT_PREBUILT_LIBRARY=/path/to/libxent.so`` bundles that library instead of building one (``make lib``'s
  ``build/lib/libxent.so``, for instance); its version must be the header's.
* ``XENT_LIBRARY`` (read by the installed package, not here) loads another library at run time.

Before building, the hook checks for ``swift`` (6.0 or later), SLEEF (``sleef.h``, ``libsleef.so``) and CBLAS
(``cblas.h``, ``libblas.so``) and names the package to install when one is missing. After building, it loads the
library and compares ``xent_version_string()`` with the header's version.

``python3 python/hatch_build.py --print-swift-command`` prints the build command (Tests/Install/run.sh compares it
with ``make -n lib``'s).
"""

import ctypes
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run as a script (--print-swift-command): no hatchling needed
    BuildHookInterface = object

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = os.path.join("include", "xent.h")
EXPORT_MAP = os.path.join("lib", "xent.map")
SWIFT_TOOLS_VERSION = (6, 0)  # Package.swift's swift-tools-version
AVX512_FLAGS = ("avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl")


class BuildError(SystemExit):
    """A missing prerequisite or a failed build: the message, without a traceback, then exit status 1."""

    def __init__(self, message):
        super().__init__("\nxent: " + message.strip() + "\n")


def header_version(root=ROOT):
    """``MAJOR.MINOR.PATCH`` from the ``XENT_VERSION_*`` macros of include/xent.h: the package's one version."""
    with open(os.path.join(root, HEADER), encoding="utf-8") as f:
        text = f.read()

    def macro(name, pattern):
        m = re.search(rf"^#define\s+XENT_VERSION_{name}\s+({pattern})\s*$", text, flags=re.M)
        if not m:
            raise BuildError(f"{HEADER} has no '#define XENT_VERSION_{name}' line")
        return m.group(1)

    version = ".".join(macro(part, r"\d+") for part in ("MAJOR", "MINOR", "PATCH"))
    string = macro("STRING", r'"[^"]*"').strip('"')
    if string != version:
        raise BuildError(f"{HEADER}: XENT_VERSION_STRING {string!r} disagrees with MAJOR.MINOR.PATCH {version}")
    return version


def host_isa():
    """(name, SwiftPM flags) of this CPU's build, chosen as the Makefile chooses HOST_ISA and ISA_FLAGS."""
    flags = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    if {"avx2", "fma"} <= flags:
        if set(AVX512_FLAGS) <= flags:
            return "avx512", ["-Xcc", "-march=x86-64-v4"]
        return "avx2", ["-Xcc", "-march=x86-64-v3"]
    return ("neon" if platform.machine() == "aarch64" else "sse2"), []


def swift_command(root=ROOT, swift="swift"):
    """(isa, the ``swift build`` argument list, the product's path)."""
    isa, isa_flags = host_isa()
    scratch = os.path.join(root, f".build-pip-{isa}")
    command = [
        swift,
        "build",
        "-c",
        "release",
        "--product",
        "xent",
        "--package-path",
        root,
        "--scratch-path",
        scratch,
        *isa_flags,
        "-Xswiftc",
        "-static-stdlib",
        "-Xlinker",
        "--version-script=" + os.path.join(root, EXPORT_MAP),
        "-Xlinker",
        "-rpath",
        "-Xlinker",
        "$ORIGIN",
    ]
    return isa, command, os.path.join(scratch, "release", "libxent.so")


# ---- prerequisites ------------------------------------------------------------------------------------------------

_INSTALL_HINT = "On Debian/Ubuntu: `sudo apt-get install {}` (or `make deps` in the repository)."


def _find_swift():
    swift = shutil.which("swift")
    if swift is None:
        raise BuildError(
            "building libxent.so needs the Swift toolchain (6.0 or later), and `swift` is not on PATH.\n"
            "Install it from https://www.swift.org/install/linux/ (e.g. with swiftly) and put its usr/bin on PATH,\n"
            "or bundle a library built elsewhere: XENT_PREBUILT_LIBRARY=/path/to/libxent.so pip install ."
        )
    try:
        out = subprocess.run([swift, "--version"], capture_output=True, text=True, check=False).stdout
    except OSError as e:
        raise BuildError(f"cannot run {swift}: {e}") from None
    m = re.search(r"Swift version (\d+)\.(\d+)", out)
    if m and (int(m.group(1)), int(m.group(2))) < SWIFT_TOOLS_VERSION:
        raise BuildError(
            f"{swift} is Swift {m.group(1)}.{m.group(2)}; Package.swift needs Swift "
            f"{'.'.join(map(str, SWIFT_TOOLS_VERSION))} or later (https://www.swift.org/install/linux/)."
        )
    return swift


def _c_compiler(swift):
    """The toolchain's clang (the compiler SwiftPM uses for the C targets), else cc, else None."""
    toolchain_clang = os.path.join(os.path.dirname(os.path.realpath(swift)), "clang")
    if os.access(toolchain_clang, os.X_OK):
        return toolchain_clang
    return shutil.which("clang") or shutil.which("cc")


# (what, package, probe program, libraries): each must compile and link as the Swift package's C targets do.
_PROBES = [
    (
        "SLEEF (sleef.h and libsleef.so)",
        "libsleef-dev",
        "#include <sleef.h>\nint main(void) { volatile double x = 1.0; return Sleef_exp_u10(x) > 0.0 ? 0 : 1; }\n",
        ["-lsleef", "-lm"],
    ),
    (
        "a CBLAS (cblas.h and libblas.so)",
        "libopenblas-dev",
        "#include <cblas.h>\nint main(void) { float a = 1.0f; return (int)cblas_sdot(1, &a, 1, &a, 1) - 1; }\n",
        ["-lblas"],
    ),
]


def _check_c_libraries(swift):
    cc = _c_compiler(swift)
    if cc is None:  # nothing to probe with: swift build reports what it cannot find
        return
    with tempfile.TemporaryDirectory(prefix="xent-probe-") as tmp:
        for what, package, program, libs in _PROBES:
            source = os.path.join(tmp, "probe.c")
            with open(source, "w", encoding="utf-8") as f:
                f.write(program)
            result = subprocess.run(
                [cc, source, "-o", os.path.join(tmp, "probe"), *libs], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                detail = next((ln for ln in result.stderr.splitlines() if "error" in ln), result.stderr.strip())
                raise BuildError(
                    f"building libxent.so needs {what}, which {cc} cannot find:\n  {detail}\n"
                    f"Install {package}. " + _INSTALL_HINT.format(package)
                )


# ---- the library ---------------------------------------------------------------------------------------------------


def _library_version(path):
    try:
        lib = ctypes.CDLL(path)
        lib.xent_version_string.restype = ctypes.c_char_p
        return lib.xent_version_string().decode("utf-8", "replace")
    except (OSError, AttributeError) as e:
        raise BuildError(f"{path} does not load as libxent: {e}") from None


def build_library(root, out_dir, log=sys.stderr):
    """Build (or take $XENT_PREBUILT_LIBRARY), strip, check; returns the path of the library to bundle."""
    version = header_version(root)
    target = os.path.join(out_dir, "libxent.so")
    prebuilt = os.environ.get("XENT_PREBUILT_LIBRARY")
    if prebuilt:
        if not os.path.isfile(prebuilt):
            raise BuildError(f"XENT_PREBUILT_LIBRARY={prebuilt} does not exist")
        print(f"xent: bundling the prebuilt XENT_PREBUILT_LIBRARY={prebuilt}", file=log, flush=True)
        shutil.copyfile(prebuilt, target)
    else:
        if not sys.platform.startswith("linux"):
            raise BuildError(f"the package builds libxent.so on Linux only (this is {sys.platform})")
        swift = _find_swift()
        _check_c_libraries(swift)
        isa, command, product = swift_command(root, swift)
        print(f"xent: building libxent.so for {isa} (a few minutes):\n  {shlex.join(command)}", file=log, flush=True)
        if subprocess.run(command, stdout=log, stderr=log, check=False).returncode != 0:
            raise BuildError("`swift build` of libxent.so failed (its output is above).")
        shutil.copyfile(product, target)
        strip = shutil.which("strip")
        if strip:
            subprocess.run([strip, "--strip-unneeded", target], check=True)
    found = _library_version(prebuilt or target)
    if found != version:
        raise BuildError(f"{prebuilt or 'the library'} reports version {found}, but {HEADER} is version {version}")
    return target


class XentBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version, build_data):
        if self.target_name != "wheel":
            return
        self._tmp = tempfile.mkdtemp(prefix="xent-lib-")
        library = build_library(self.root, self._tmp)
        if version == "editable":  # the package is imported from python/xent: put the library there (as make lib)
            shutil.copyfile(library, os.path.join(self.root, "python", "xent", "libxent.so"))
            return
        build_data["force_include"][library] = "xent/libxent.so"
        build_data["pure_python"] = False
        plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        build_data["tag"] = f"py3-none-{plat}"

    def finalize(self, version, build_data, artifact_path):
        tmp = getattr(self, "_tmp", None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:] != ["--print-swift-command"]:
        sys.exit(f"usage: {sys.argv[0]} --print-swift-command")
    print(shlex.join(swift_command()[1]))
