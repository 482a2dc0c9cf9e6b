"""Run by Tests/Install/run.sh with an installed xent, from outside the source tree.

    python check_installed.py HEADER HOOK

Checks that ``import xent`` loads the library bundled in the installed package (not $XENT_LIBRARY, not the
system's), that the package, the library and the distribution all report include/xent.h's version, that the wheel is
tagged py3-none-<platform>, that the library is the build for this CPU (python/hatch_build.py's host_isa(), the
Makefile's choice), and that one cross_entropy call matches a float64 numpy reference.
"""

import importlib.metadata
import importlib.util
import os
import re
import sys

import numpy as np

import xent

header, hook_path = sys.argv[1:3]
spec = importlib.util.spec_from_file_location("hatch_build", hook_path)
hook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hook)
version = hook.header_version(os.path.dirname(os.path.dirname(os.path.abspath(header))))

bundled = os.path.join(os.path.dirname(os.path.abspath(xent.__file__)), "libxent.so")
assert xent.library_path == bundled, f"loaded {xent.library_path}, not the bundled {bundled}"
assert xent.__version__ == xent.library_version() == importlib.metadata.version("xent") == version, (
    xent.__version__,
    xent.library_version(),
    importlib.metadata.version("xent"),
    version,
)
tag = re.search(r"^Tag: (\S+)$", importlib.metadata.distribution("xent").read_text("WHEEL"), flags=re.M).group(1)
assert re.fullmatch(r"py3-none-linux_\w+", tag), f"wheel tag {tag}"
isa = hook.host_isa()[0]
assert xent.isa() == isa, f"library isa {xent.isa()}, this CPU's build is {isa}"

rng = np.random.default_rng(17)
logits = rng.standard_normal((64, 1000)).astype(np.float32) * 4
labels = rng.integers(0, 1000, size=64)
loss = xent.cross_entropy(logits, labels)
x = logits.astype(np.float64)
m = x.max(axis=1)
lse = m + np.log(np.exp(x - m[:, None]).sum(axis=1))
reference = float(np.mean(lse - x[np.arange(64), labels]))
assert loss.dtype == np.float32 and abs(float(loss) - reference) <= 1e-6 * max(1.0, abs(reference)), (loss, reference)
print(f"check_installed: xent {xent.__version__} (wheel {tag}), isa {xent.isa()}, library {xent.library_path}")
print(f"check_installed: cross_entropy 64x1000 float32 = {float(loss):.7f}, float64 reference {reference:.7f}")
