import os

import numpy as np
import pytest
from hypothesis import settings

import xent

settings.register_profile("default", max_examples=150)
settings.register_profile("thorough", max_examples=3000)
settings.load_profile(os.environ.get("XENT_HYPOTHESIS_PROFILE", "default"))


def pytest_report_header(config):
    return (
        f"xent {xent.__version__} from {os.path.dirname(xent.__file__)}; library {xent.library_path} "
        f"(version {xent.library_version()}, isa {xent.isa()})"
    )


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
