"""xent.torch.CrossEntropyLoss and LinearCrossEntropyLoss against their torch.nn namesakes: attributes, state
dicts, losses, parameter gradients, optimizer steps, torch.compile. Skipped when PyTorch is not installed."""

import math

import pytest

torch = pytest.importorskip("torch")
xt = pytest.importorskip("xent.torch")

from helpers import sweep  # noqa: E402

IN, CLASSES, ROWS = 6, 11, 9
TOL = dict(rtol=2e-5, atol=2e-6)


def batch(seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(ROWS, IN, generator=g, dtype=dtype)
    y = torch.randint(0, CLASSES, (ROWS,), generator=g)
    y[3] = -100
    return h, y


@sweep(reduction=["mean", "sum", "none"], weighted=[False, True])
def test_cross_entropy_loss_module(reduction, weighted):
    cw = torch.rand(CLASSES) + 0.5 if weighted else None
    ours = xt.CrossEntropyLoss(cw, reduction=reduction, label_smoothing=0.25)
    ref = torch.nn.CrossEntropyLoss(cw, reduction=reduction, label_smoothing=0.25)
    assert (ours.weight is None) == (cw is None) and ("weight" in dict(ours.named_buffers())) == weighted
    assert ours.state_dict().keys() == ref.state_dict().keys()
    x, y = torch.randn(ROWS, CLASSES), batch()[1]
    xs = [x.clone().requires_grad_() for _ in range(2)]
    a, r = ours(xs[0], y), ref(xs[1], y)
    torch.testing.assert_close(a, r, **TOL)
    a.sum().backward()
    r.sum().backward()
    torch.testing.assert_close(xs[0].grad, xs[1].grad, **TOL)
    ours.double()  # the buffer follows the module's dtype, as in torch.nn
    assert cw is None or ours.weight.dtype == torch.float64


@sweep(reduction=["mean", "sum", "none"], bias=[False, True], weighted=[False, True])
def test_linear_cross_entropy_loss_module(reduction, bias, weighted):
    """Same layout as torch.nn.LinearCrossEntropyLoss (``.linear`` holds the (C, in) weight and the bias,
    ``.weight`` the class weights): state dicts load into each other, losses and parameter gradients agree."""
    cw = torch.rand(CLASSES) + 0.5 if weighted else None
    kw = dict(bias=bias, reduction=reduction, weight=cw, label_smoothing=0.1)
    torch.manual_seed(1)
    ours = xt.LinearCrossEntropyLoss(IN, CLASSES, **kw)
    ref = torch.nn.LinearCrossEntropyLoss(IN, CLASSES, **kw)
    assert ours.linear.weight.shape == ref.linear.weight.shape == (CLASSES, IN)
    assert (ours.linear.bias is None) == (not bias) and ours.num_classes == ref.num_classes
    assert ours.state_dict().keys() == ref.state_dict().keys()
    ref.load_state_dict(ours.state_dict())
    h, y = batch(2)
    hs = [h.clone().requires_grad_() for _ in range(2)]
    a, r = ours(hs[0], y), ref(hs[1], y)
    torch.testing.assert_close(a, r, **TOL)
    g = torch.linspace(-1.0, 2.0, a.numel()).reshape(a.shape)
    a.backward(g)
    r.backward(g)
    torch.testing.assert_close(hs[0].grad, hs[1].grad, **TOL)
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        assert p.grad is not None, name
        torch.testing.assert_close(p.grad, q.grad, **TOL)
    ours.load_state_dict(ref.state_dict())  # and back


def test_linear_module_trains_like_torch():
    """Three SGD steps with each module from the same start end at the same parameters."""
    torch.manual_seed(3)
    ours = xt.LinearCrossEntropyLoss(IN, CLASSES, bias=True, z_loss=0.0)
    ref = torch.nn.LinearCrossEntropyLoss(IN, CLASSES, bias=True)
    ref.load_state_dict(ours.state_dict())
    opts = [torch.optim.SGD(m.parameters(), lr=0.5) for m in (ours, ref)]
    for step in range(3):
        h, y = batch(10 + step)
        for m, opt in zip((ours, ref), opts):
            opt.zero_grad()
            m(h, y).backward()
            opt.step()
    for p, q in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, **TOL)


def test_modules_options_and_compile():
    """z_loss and soft_cap reach the function; a compiled module (fullgraph) gives eager's loss and gradients."""
    torch.manual_seed(4)
    m = xt.LinearCrossEntropyLoss(IN, CLASSES, bias=True, z_loss=1e-2, soft_cap=5.0)
    h, y = batch(5)
    want = xt.linear_cross_entropy(h, m.linear.weight, y, linear_bias=m.linear.bias, z_loss=1e-2, soft_cap=5.0)
    plain = xt.linear_cross_entropy(h, m.linear.weight, y, linear_bias=m.linear.bias)
    loss = m(h, y)
    assert torch.equal(loss, want) and not torch.equal(loss, plain)
    loss.backward()
    grads = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    compiled = torch.compile(m, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(h, y), want, rtol=1e-6, atol=1e-6)
    compiled(h, y).backward()
    for p, g in zip(m.parameters(), grads):
        torch.testing.assert_close(p.grad, g, rtol=1e-6, atol=1e-6)
    ce = xt.CrossEntropyLoss(z_loss=1e-2, soft_cap=5.0)
    x = torch.randn(ROWS, CLASSES)
    assert torch.equal(ce(x, y), xt.cross_entropy(x, y, z_loss=1e-2, soft_cap=5.0))


def test_module_argument_errors():
    with pytest.raises(RuntimeError, match=r"expected weight shape to be \(11,\)"):
        xt.LinearCrossEntropyLoss(IN, CLASSES, weight=torch.ones(3))
    with pytest.raises(RuntimeError, match="label_smoothing to be in range"):
        xt.LinearCrossEntropyLoss(IN, CLASSES, label_smoothing=2.0)
    with pytest.raises(NotImplementedError, match="out_features"):
        xt.LinearCrossEntropyLoss(IN, CLASSES, out_features=(2,))
    h, y = batch()
    y[0] = CLASSES
    with pytest.raises(IndexError, match=r"Target 11 is out of bounds \(row 0"):
        xt.LinearCrossEntropyLoss(IN, CLASSES)(h, y)


def test_torch_lm_head_example_trains():
    """python/examples/torch_lm_head.py: a few dozen AdamW steps through xent.torch lower the loss."""
    import argparse
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "torch_lm_head.py"
    spec = importlib.util.spec_from_file_location("torch_lm_head", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    args = argparse.Namespace(steps=40, batch=256, dim=16, compile=False, log_every=0)
    losses = mod.train(xt.LinearCrossEntropyLoss, mod.corpus(limit=1 << 18), args)
    assert len(losses) == 40 and all(math.isfinite(v) for v in losses)
    assert sum(losses[-5:]) < 0.85 * sum(losses[:5]), losses
