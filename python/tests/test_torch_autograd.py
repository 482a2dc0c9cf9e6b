"""xent.torch's ops as PyTorch machinery sees them: gradcheck in float64, opcheck, torch.compile(fullgraph=True),
no_grad / inference_mode computing the loss only, repeated backward, both paths of the "none" backward, the GIL,
and ``import xent`` without PyTorch. Skipped when PyTorch is not installed."""

import ctypes
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
xt = pytest.importorskip("xent.torch")

import xent  # noqa: E402
from helpers import sweep  # noqa: E402
from xent.torch import _linear_op  # noqa: E402

REDUCTIONS = ["mean", "sum", "none"]
OPS = torch.ops.xent
DEFAULT_BLOCK = _linear_op.BLOCK_BYTES


def data(dtype=torch.float64, rows=5, classes=6, dim=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, classes, generator=g, dtype=dtype) * 2
    h = torch.randn(rows, dim, generator=g, dtype=dtype)
    w = torch.randn(classes, dim, generator=g, dtype=dtype)
    b = torch.randn(classes, generator=g, dtype=dtype)
    y = torch.randint(0, classes, (rows,), generator=g)
    y[1] = -100
    cw = torch.rand(classes, generator=g, dtype=dtype) + 0.5
    return x, h, w, b, y, cw


OPTION_SETS = {
    "plain": {},
    "weights_smoothing": dict(label_smoothing=0.25),  # class weights added below
    "z_cap": dict(z_loss=0.0625, soft_cap=2.5),
    "all": dict(label_smoothing=0.125, z_loss=0.0625, soft_cap=2.5),
}


def options(name, cw):
    opts = dict(OPTION_SETS[name])
    if name in ("weights_smoothing", "all"):
        opts["weight"] = cw
    return opts


@sweep(reduction=REDUCTIONS, opts=list(OPTION_SETS))
def test_gradcheck_float64(reduction, opts):
    """Analytic against numerical Jacobians; for "none" every output row in turn gets the upstream gradient 1 and
    the others 0, which exercises the exact (non-uniform) weight and bias backward."""
    x, h, w, b, y, cw = data()
    kw = options(opts, cw)
    assert torch.autograd.gradcheck(
        lambda x: xt.cross_entropy(x, y, reduction=reduction, **kw), (x.requires_grad_(),), eps=1e-6, atol=1e-8
    )
    ins = tuple(t.requires_grad_() for t in (h, w, b))
    assert torch.autograd.gradcheck(
        lambda h, w, b: xt.linear_cross_entropy(h, w, y, linear_bias=b, reduction=reduction, **kw),
        ins,
        eps=1e-6,
        atol=1e-8,
    )


def op_samples():
    """Arguments for each custom op: dtypes, reductions, options, gradients asked for or not."""
    x, h, w, b, y, cw = data()
    for dtype in (torch.float64, torch.float32, torch.bfloat16):
        xd, hd, wd, bd = (t.to(dtype) for t in (x, h, w, b))
        for red, (weight, eps, z, cap), grad in (
            ("mean", (cw, 0.25, 0.0625, 2.5), True),
            ("sum", (None, 0.0, 0.0, 0.0), False),
            ("none", (cw, 0.125, 0.0, 0.0), True),
        ):
            opts = (red, -100, [eps, z, cap])
            yield "cross_entropy", (xd.clone().requires_grad_(grad), y, weight, *opts, grad)
            bias = bd.clone().requires_grad_(grad) if weight is not None else None
            hw = (hd.clone().requires_grad_(grad), wd.clone().requires_grad_(grad))
            flags = (grad, grad, grad and bias is not None)
            yield "linear_cross_entropy", (*hw, y, bias, weight, *opts, *flags)
            g = torch.linspace(-1, 2, y.numel(), dtype=dtype)
            # called inside backward on saved tensors: nothing requires grad (no double backward)
            plain = bias.detach() if bias is not None else None
            yield (
                "linear_cross_entropy_none_backward",
                (hd, wd, y, plain, weight, g, *opts[1:], True, plain is not None),
            )


@pytest.mark.parametrize("i", range(27))
def test_opcheck(i):
    """torch.library.opcheck: schema, autograd registration, fake (meta) kernel, AOT dispatch, on every op."""
    name, args = list(op_samples())[i]
    torch.library.opcheck(getattr(OPS, name).default, args)


def both(x, h, w, y, reduction):
    """A function using both ops on transformed inputs, with a non-uniform weighting for "none"."""
    a = xt.cross_entropy(x * 2.0, y, reduction=reduction, label_smoothing=0.125)
    c = xt.linear_cross_entropy(torch.tanh(h), w, y, reduction=reduction, z_loss=1e-3)
    if reduction == "none":
        return ((a + c) * torch.arange(1.0, 1.0 + y.numel(), dtype=x.dtype)).sum()
    return a + 3.0 * c


@pytest.mark.parametrize("reduction,backend", [("none", "inductor"), ("mean", "aot_eager"), ("sum", "aot_eager")])
def test_compile_fullgraph(reduction, backend):
    """torch.compile(fullgraph=True) captures both ops (no graph break); values and gradients equal eager's."""
    torch._dynamo.reset()
    x, h, w, _, y, _ = (t.float() if t.is_floating_point() else t for t in data(rows=6, classes=7, dim=4))
    eager_in = [t.clone().requires_grad_() for t in (x, h, w)]
    comp_in = [t.clone().requires_grad_() for t in (x, h, w)]
    compiled = torch.compile(both, fullgraph=True, backend=backend)
    ref = both(*eager_in, y, reduction)
    out = compiled(*comp_in, y, reduction)
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)
    for a, r in zip(torch.autograd.grad(out, comp_in), torch.autograd.grad(ref, eager_in)):
        torch.testing.assert_close(a, r, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(compiled(*comp_in, y, reduction), ref.detach(), rtol=1e-6, atol=1e-6)


class Spy:
    """Records the keywords of every call of a public xent function (monkeypatched), then calls it."""

    def __init__(self, monkeypatch, *names):
        self.calls = []
        for name in names:
            monkeypatch.setattr(xent, name, self.wrap(getattr(xent, name)))

    def wrap(self, fn):
        def spy(*args, **kwargs):
            self.calls.append((fn.__name__, kwargs))
            return fn(*args, **kwargs)

        return spy


GRAD_KEYS = ("grad", "grad_out")


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode", "no_requires_grad"])
def test_loss_only_without_grad(monkeypatch, mode):
    """Without grad the library is asked for the loss alone: no gradient buffer, no gradient names."""
    x, h, w, b, y, cw = data()
    spy = Spy(monkeypatch, "cross_entropy", "linear_cross_entropy")
    ctx = {"no_grad": torch.no_grad, "inference_mode": torch.inference_mode}.get(mode)
    needs = mode != "no_requires_grad"
    ins = [t.clone().requires_grad_(needs) for t in (x, h, w, b)]
    with ctx() if ctx else torch.enable_grad():
        for red in REDUCTIONS:
            l1 = xt.cross_entropy(ins[0], y, reduction=red, weight=cw, z_loss=0.5)
            l2 = xt.linear_cross_entropy(ins[1], ins[2], y, linear_bias=ins[3], reduction=red)
            assert not l1.requires_grad and not l2.requires_grad
            torch.testing.assert_close(l2, F.linear_cross_entropy(*ins[1:3], y, linear_bias=ins[3], reduction=red))
    assert [c[0] for c in spy.calls] == ["cross_entropy", "linear_cross_entropy"] * 3
    for name, kwargs in spy.calls:
        assert not any(kwargs.get(k) is not None and kwargs.get(k) is not False for k in GRAD_KEYS), (name, kwargs)
        if name == "linear_cross_entropy":
            assert kwargs["out"] == {}, kwargs["out"]  # no gradient buffers
    # with grad, the same calls compute the gradients in the forward
    spy.calls.clear()
    xt.cross_entropy(x.clone().requires_grad_(), y)
    xt.linear_cross_entropy(h.clone().requires_grad_(), w, y)
    assert spy.calls[0][1].get("grad_out") is not None and set(spy.calls[1][1]["out"]) == {"grad_hidden"}


def test_repeated_backward_and_accumulation():
    """The backward may hand the saved gradient to autograd without a copy: a retained graph must still give the
    same gradient after the first .grad was modified in place, and gradients accumulate."""
    x, h, w, b, y, _ = data()
    ins = [t.clone().requires_grad_() for t in (x, h, w, b)]
    l1 = xt.cross_entropy(ins[0], y)
    l2 = xt.linear_cross_entropy(ins[1], ins[2], y, linear_bias=ins[3], reduction="sum")
    (l1 + l2).backward(retain_graph=True)
    first = [t.grad.clone() for t in ins]
    for t in ins:
        t.grad.mul_(0.0)
    (l1 + l2).backward(retain_graph=True)
    (l1 + l2).backward()
    for t, g in zip(ins, first):
        torch.testing.assert_close(t.grad, 2 * g, rtol=0, atol=0)


@pytest.mark.parametrize("block_bytes", [DEFAULT_BLOCK, 6 * 8 * 2])
@pytest.mark.parametrize("upstream", ["uniform_on_counted", "non_uniform", "non_finite_on_ignored"])
def test_none_backward_paths(monkeypatch, block_bytes, upstream):
    """reduction="none": an upstream gradient that is one value on the counted rows (e.g. a mask of the ignored
    rows) takes the forward's weight/bias gradients; any other is recomputed exactly, also in blocks of 2 rows."""
    monkeypatch.setattr(_linear_op, "BLOCK_BYTES", block_bytes)
    spy = Spy(monkeypatch, "cross_entropy")  # the exact backward's blocks call xent.cross_entropy
    _, h, w, b, y, cw = data(rows=7)
    g = {
        "uniform_on_counted": torch.where(y != -100, 0.5, 0.0).double(),
        "non_uniform": torch.linspace(-1, 2, 7, dtype=torch.float64),
        "non_finite_on_ignored": torch.where(y != -100, 0.5, torch.inf).double(),
    }[upstream]
    ours = [t.clone().requires_grad_() for t in (h, w, b)]
    ref = [t.clone().requires_grad_() for t in (h, w, b)]
    kw = dict(weight=cw, label_smoothing=0.25, reduction="none")
    a = torch.autograd.grad(xt.linear_cross_entropy(ours[0], ours[1], y, linear_bias=ours[2], **kw), ours, g)
    r = torch.autograd.grad(F.linear_cross_entropy(ref[0], ref[1], y, linear_bias=ref[2], **kw), ref, g)
    for p, q in zip(a, r):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-13, equal_nan=True)
    blocks = 1 if block_bytes == DEFAULT_BLOCK else 4  # 7 rows in blocks of 2
    # ignored rows' gradient is 0 whatever their upstream value (as PyTorch's): only "non_uniform" varies
    assert len(spy.calls) == (blocks if upstream == "non_uniform" else 0)


def test_double_backward_is_refused():
    """The backward scales saved gradients (constants to autograd): create_graph=True must raise, not return
    wrong second derivatives."""
    x, h, w, _, y, _ = data()
    x, h = x.clone().requires_grad_(), h.clone().requires_grad_()
    for loss, wrt in ((xt.cross_entropy(x, y), x), (xt.linear_cross_entropy(h, w, y, reduction="none").sum(), h)):
        with pytest.raises(RuntimeError, match="double backward"):
            torch.autograd.grad(loss, wrt, create_graph=True)


def test_ctypes_calls_release_the_gil():
    """libxent is loaded with ctypes.CDLL, whose foreign functions release the GIL during the call (PyDLL's keep
    it): the entry points the torch ops reach must not carry FUNCFLAG_PYTHONAPI."""
    lib = xent._lib.lib
    assert isinstance(lib, ctypes.CDLL) and not isinstance(lib, ctypes.PyDLL)
    for name in ("xent_cross_entropy_f32", "xent_cross_entropy_ex_f64", "xent_linear_cross_entropy_f32"):
        assert not getattr(lib, name)._flags_ & ctypes._FUNCFLAG_PYTHONAPI, name


def test_import_xent_does_not_import_torch():
    code = "import sys, xent; xent.cross_entropy; assert 'torch' not in sys.modules, 'import xent imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
