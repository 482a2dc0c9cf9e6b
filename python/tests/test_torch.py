"""Agreement with torch.nn.functional.cross_entropy when PyTorch is installed (each test skips otherwise)."""

import numpy as np
import pytest

import xent
from helpers import DTYPES, REDUCTIONS, logits_and_labels, needs_1_1, sweep

# float32 / float64 tolerances of the comparisons with PyTorch's own float32/float64 results
TOL = {np.dtype(np.float32): dict(rtol=2e-5, atol=2e-6), np.dtype(np.float64): dict(rtol=1e-11, atol=1e-13)}


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _backward(torch, x, loss_fn):
    """Loss and gradient of loss_fn(logits) by PyTorch (the gradient of the sum of the loss)."""
    tx = torch.tensor(x, requires_grad=True)
    tl = loss_fn(tx)
    tl.sum().backward()
    return tl.detach().numpy(), tx.grad.numpy()


@sweep(dtype=DTYPES, reduction=REDUCTIONS, smoothing=[0.0, 0.1])
def test_hard_labels_vs_torch(torch, dtype, reduction, smoothing):
    x, labels = logits_and_labels(np.random.default_rng(3), 33, 257, dtype)
    labels[[2, 9]] = -100
    # the C ABI carries label_smoothing as a float: give torch exactly that value
    eps = float(np.float32(smoothing))
    tl, tg = _backward(
        torch,
        x,
        lambda tx: torch.nn.functional.cross_entropy(
            tx, torch.tensor(labels), reduction=reduction, ignore_index=-100, label_smoothing=eps
        ),
    )
    res = xent.cross_entropy(x, labels, reduction=reduction, label_smoothing=smoothing, grad=True, return_lse=True)
    tol = TOL[np.dtype(dtype)]
    np.testing.assert_allclose(res.loss, tl, **tol)
    np.testing.assert_allclose(res.grad, tg, **tol)
    np.testing.assert_allclose(res.lse, torch.logsumexp(torch.tensor(x), 1).numpy(), **tol)


@sweep(dtype=DTYPES, reduction=REDUCTIONS, smoothing=[0.0, 0.2])
def test_soft_targets_vs_torch(torch, dtype, reduction, smoothing):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((17, 100)) * 2).astype(dtype)
    t = rng.dirichlet(np.ones(100), size=17).astype(dtype)
    eps = float(np.float32(smoothing))
    tl, tg = _backward(
        torch,
        x,
        lambda tx: torch.nn.functional.cross_entropy(tx, torch.tensor(t), reduction=reduction, label_smoothing=eps),
    )
    res = xent.soft_cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing, grad=True)
    tol = TOL[np.dtype(dtype)]
    np.testing.assert_allclose(res.loss, tl, **tol)
    np.testing.assert_allclose(res.grad, tg, **tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_primitives_vs_torch(torch, dtype):
    x = np.random.default_rng(5).standard_normal((9, 70)).astype(dtype)
    x[3, :5] = -np.inf
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    tx = torch.tensor(x)
    np.testing.assert_allclose(xent.softmax(x), torch.softmax(tx, 1).numpy(), **tol)
    np.testing.assert_allclose(xent.log_softmax(x), torch.log_softmax(tx, 1).numpy(), **tol)
    np.testing.assert_allclose(xent.logsumexp(x), torch.logsumexp(tx, 1).numpy(), **tol)


@needs_1_1
@sweep(reduction=REDUCTIONS, smoothing=[0.0, 0.1], z=[0.0, 0.01], cap=[0.0, 7.5])
def test_options_vs_torch(torch, reduction, smoothing, z, cap):
    """Class weights, z-loss and soft cap against PyTorch (z-loss and cap written out with torch ops)."""
    rng = np.random.default_rng(61)
    x, labels = logits_and_labels(rng, 33, 57, np.float64)
    labels[[2, 9]] = -100
    w = rng.uniform(0.1, 2.0, size=57)
    w[[3, 4]] = 0.0
    labels[5] = 3
    eps = float(np.float32(smoothing))
    lam = float(np.float32(z))
    tlab = torch.tensor(labels)
    counted = tlab != -100
    parts = {}

    def objective(tx):
        tc = cap * torch.tanh(tx / cap) if cap else tx  # the Gemma 2 soft cap, then everything on tc
        tl = torch.nn.functional.cross_entropy(
            tc, tlab, weight=torch.tensor(w), ignore_index=-100, label_smoothing=eps, reduction=reduction
        )
        zrow = lam * torch.logsumexp(tc, 1) ** 2 * counted
        tz = {"none": zrow, "sum": zrow.sum(), "mean": zrow.sum() / counted.sum()}[reduction]
        parts["loss"], parts["z"] = tl.detach().numpy(), tz.detach().numpy()
        return tl.sum() + tz.sum()

    _, tg = _backward(torch, x, objective)
    opts = dict(reduction=reduction, label_smoothing=smoothing, class_weights=w, z_loss=z, soft_cap=cap)
    res = xent.cross_entropy(x, labels, return_z_loss=True, grad=True, **opts)
    np.testing.assert_allclose(res.loss, parts["loss"], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(res.z_loss, parts["z"], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(res.grad, tg, rtol=1e-11, atol=1e-13)
