"""The public functions' keyword signatures (built by xent._keywords from one table of defaults)."""

import inspect

import numpy as np
import pytest

import xent
from xent import _lib

FUNCTIONS = [xent.cross_entropy, xent.soft_cross_entropy, xent.cross_entropy_bf16, xent.linear_cross_entropy]


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_signature_is_keyword_only_with_defaults(fn):
    params = list(inspect.signature(fn).parameters.values())
    kinds = {p.kind for p in params[2:]}
    assert params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert inspect.Parameter.KEYWORD_ONLY in kinds
    assert all(p.default is not inspect.Parameter.empty for p in params if p.kind is p.KEYWORD_ONLY)
    assert "o" not in inspect.signature(fn).parameters


def test_defaults_are_the_librarys():
    o = _lib.default_options()
    sig = inspect.signature(xent.cross_entropy).parameters
    assert sig["ignore_index"].default == o.ignore_index == -100
    assert sig["reduction"].default == "mean" and o.reduction == _lib.REDUCTION_MEAN
    assert sig["label_smoothing"].default == o.label_smoothing == 0.0
    assert sig["grad_scale"].default == o.grad_scale == 1.0


def test_wrong_arguments_raise_type_error_naming_the_function():
    x = np.zeros((2, 3), np.float32)
    labels = np.zeros(2, np.int64)
    with pytest.raises(TypeError, match=r"cross_entropy\(\) got an unexpected keyword argument 'bogus'"):
        xent.cross_entropy(x, labels, bogus=1)
    with pytest.raises(TypeError, match=r"soft_cross_entropy\(\) got an unexpected keyword argument 'ignore_index'"):
        xent.soft_cross_entropy(x, x, ignore_index=1)
    with pytest.raises(TypeError, match=r"cross_entropy\(\) missing a required argument: 'labels'"):
        xent.cross_entropy(x)
    with pytest.raises(TypeError, match=r"cross_entropy\(\) too many positional arguments"):
        xent.cross_entropy(x, labels, "sum")


def test_keywords_reach_the_call():
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    labels = np.array([2, -7])
    rows = xent.cross_entropy(x, labels, reduction="none", ignore_index=-7)
    assert rows[1] == 0 and rows[0] == pytest.approx(np.log(np.exp(x[0]).sum()) - 3.0)
    assert xent.cross_entropy(x, labels, reduction="sum", ignore_index=-7) == pytest.approx(rows.sum())
