"""The result convention of cross_entropy/soft_cross_entropy: the loss alone, or a CrossEntropyResult (a named
tuple of four elements, five when the z-loss is requested)."""

import pickle

import numpy as np
import pytest

import xent
from helpers import logits_and_labels, make_logits, needs_1_1


def test_return_conventions(rng):
    x = make_logits("contiguous", 4, 5, np.float32, rng)
    labels = np.array([0, 1, 2, 3])
    loss = xent.cross_entropy(x, labels)
    assert isinstance(loss, np.float32)
    loss_none = xent.cross_entropy(x, labels, reduction="none")
    assert isinstance(loss_none, np.ndarray) and loss_none.shape == (4,)
    res = xent.cross_entropy(x, labels, return_lse=True)
    assert isinstance(res, tuple) and res._fields == ("loss", "grad", "lse", "bias_grad")
    assert res.grad is None and res.bias_grad is None and res.lse.shape == (4,)
    loss2, grad, lse, bias = xent.cross_entropy(x, labels, grad=True)
    assert loss2 == loss and grad.shape == x.shape and lse is None and bias is None
    one = xent.cross_entropy(x[0], 0, reduction="none", return_lse=True)
    assert isinstance(one.loss, np.float32) and isinstance(one.lse, np.float32)
    assert one.loss == loss_none[0]


@needs_1_1
def test_result_convention():
    rng = np.random.default_rng(41)
    x, labels = logits_and_labels(rng, 4, 6, np.float64)
    four = xent.cross_entropy(x, labels, grad=True)
    assert len(four) == 4 and four.z_loss is None
    loss, grad, _, _ = four  # 1.0.0 code keeps working
    five = xent.cross_entropy(x, labels, grad=True, return_z_loss=True)
    assert len(five) == 5 and five.z_loss == 0.0  # lambda = 0: z-loss 0
    loss5, grad5, lse5, bias5, z5 = five
    assert loss5 == loss and np.array_equal(grad5, grad) and lse5 is None and bias5 is None
    assert xent.CrossEntropyResult._fields == ("loss", "grad", "lse", "bias_grad", "z_loss")
    assert four._fields == ("loss", "grad", "lse", "bias_grad") and five._fields == xent.CrossEntropyResult._fields
    assert list(four._asdict()) == list(four._fields) and five._asdict()["z_loss"] == z5
    assert four._replace(z_loss=1.5).z_loss == 1.5 and len(four._replace(z_loss=1.5)) == 5
    assert len(five._replace(z_loss=None)) == 4
    assert "z_loss" not in repr(four) and "z_loss=" in repr(five)
    for r in (four, five):
        back = pickle.loads(pickle.dumps(r))
        assert type(back) is xent.CrossEntropyResult and len(back) == len(r) and back.loss == r.loss
    assert xent.CrossEntropyResult(1.0, None, None, None) == (1.0, None, None, None)
    with pytest.raises(ValueError):
        four._replace(nope=1)
    with pytest.raises(AttributeError):
        four.loss = 2
