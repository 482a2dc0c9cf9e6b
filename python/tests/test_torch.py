"""Agreement with torch.nn.functional.cross_entropy when PyTorch is installed (skipped otherwise)."""
import numpy as np
import pytest

import xent

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_hard_labels_vs_torch(dtype, reduction, smoothing):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((33, 257)) * 3).astype(dtype)
    labels = rng.integers(0, 257, size=33)
    labels[[2, 9]] = -100
    tx = torch.tensor(x, requires_grad=True)
    # the C ABI carries label_smoothing as a float: give torch exactly that value
    tl = F.cross_entropy(tx, torch.tensor(labels), reduction=reduction, ignore_index=-100,
                         label_smoothing=float(np.float32(smoothing)))
    (tl.sum() * 1.0).backward()
    res = xent.cross_entropy(x, labels, reduction=reduction, label_smoothing=smoothing, grad=True,
                             return_lse=True)
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(res.loss, tl.detach().numpy(), **tol)
    np.testing.assert_allclose(res.grad, tx.grad.numpy(), **tol)
    np.testing.assert_allclose(res.lse, torch.logsumexp(torch.tensor(x), 1).numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_soft_targets_vs_torch(dtype, reduction, smoothing):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((17, 100)) * 2).astype(dtype)
    t = rng.dirichlet(np.ones(100), size=17).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    tl = F.cross_entropy(tx, torch.tensor(t), reduction=reduction, label_smoothing=float(np.float32(smoothing)))
    tl.sum().backward()
    res = xent.soft_cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing, grad=True)
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(res.loss, tl.detach().numpy(), **tol)
    np.testing.assert_allclose(res.grad, tx.grad.numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_primitives_vs_torch(dtype):
    x = np.random.default_rng(5).standard_normal((9, 70)).astype(dtype)
    x[3, :5] = -np.inf
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    tx = torch.tensor(x)
    np.testing.assert_allclose(xent.softmax(x), torch.softmax(tx, 1).numpy(), **tol)
    np.testing.assert_allclose(xent.log_softmax(x), torch.log_softmax(tx, 1).numpy(), **tol)
    np.testing.assert_allclose(xent.logsumexp(x), torch.logsumexp(tx, 1).numpy(), **tol)
