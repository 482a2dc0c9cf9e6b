"""xent.torch's functions against torch.nn.functional: values and gradients for every option and reduction, the
Xent options against a written-out PyTorch reference, bfloat16, layouts, inputs left alone, and errors.
Skipped when PyTorch is not installed."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
xt = pytest.importorskip("xent.torch")

from helpers import sweep  # noqa: E402

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [torch.float32, torch.float64]
# PyTorch's own result is the reference; float32 tolerances cover both sides' roundings
TOL = {torch.float32: dict(rtol=2e-5, atol=2e-6), torch.float64: dict(rtol=1e-12, atol=1e-13)}
ROWS, CLASSES, DIM = 13, 37, 8
# (class weights?, label_smoothing, ignored rows?); 0.1 is not a float32: the C ABI carries float32(0.1)
OPTIONS = {
    "plain": (False, 0.0, False),
    "ignore": (False, 0.0, True),
    "weights": (True, 0.0, True),
    "smoothing": (False, 0.1, True),
    "all": (True, 0.3, True),
}


def data(dtype, seed=0, rows=ROWS):
    """logits, hidden, linear weight, bias, targets, class weights (all new, CPU)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, CLASSES, generator=g, dtype=torch.float64).mul(3).to(dtype)
    h = torch.randn(rows, DIM, generator=g, dtype=torch.float64).to(dtype)
    w = torch.randn(CLASSES, DIM, generator=g, dtype=torch.float64).to(dtype)
    b = torch.randn(CLASSES, generator=g, dtype=torch.float64).to(dtype)
    y = torch.randint(0, CLASSES, (rows,), generator=g)
    cw = torch.rand(CLASSES, generator=g, dtype=torch.float64).add(0.5).to(dtype)
    return x, h, w, b, y, cw


def case(option, dtype, y, cw):
    weights, eps, ignore = OPTIONS[option]
    if ignore:
        y = y.clone()
        y[[1, 6]] = -100
    # the library reads label_smoothing as float32: PyTorch gets that exact value
    return y, dict(weight=cw if weights else None, label_smoothing=float(np.float32(eps)))


def upstream(loss, kind):
    """The upstream gradient of ``loss``: ones, or a non-uniform one (for "none") / 0.7 (scalar)."""
    if kind == "ones":
        return torch.ones_like(loss)
    if loss.dim() == 0:
        return torch.tensor(0.7, dtype=loss.dtype)
    return torch.linspace(-1.0, 2.0, loss.numel(), dtype=loss.dtype)


def grads(loss, inputs, kind):
    return torch.autograd.grad(loss, inputs, upstream(loss, kind))


def assert_close(actual, expected, dtype, **tol):
    torch.testing.assert_close(actual, expected, **(tol or TOL[dtype]), equal_nan=True)


@sweep(dtype=DTYPES, reduction=REDUCTIONS, option=list(OPTIONS), up=["ones", "other"])
def test_cross_entropy_vs_torch(dtype, reduction, option, up):
    x, _, _, _, y, cw = data(dtype)
    y, kw = case(option, dtype, y, cw)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = xt.cross_entropy(x1, y, reduction=reduction, **kw)
    ref = F.cross_entropy(x2, y, reduction=reduction, **kw)
    assert ours.dtype == ref.dtype and ours.shape == ref.shape
    assert_close(ours, ref, dtype)
    assert_close(grads(ours, x1, up)[0], grads(ref, x2, up)[0], dtype)


@sweep(dtype=DTYPES, reduction=REDUCTIONS, option=list(OPTIONS), bias=[False, True], up=["ones", "other"])
def test_linear_cross_entropy_vs_torch(dtype, reduction, option, bias, up):
    _, h, w, b, y, cw = data(dtype, seed=1)
    y, kw = case(option, dtype, y, cw)
    ins1 = [t.clone().requires_grad_() for t in ((h, w, b) if bias else (h, w))]
    ins2 = [t.clone().requires_grad_() for t in ins1]
    ours = xt.linear_cross_entropy(*ins1[:2], y, linear_bias=ins1[2] if bias else None, reduction=reduction, **kw)
    ref = F.linear_cross_entropy(*ins2[:2], y, linear_bias=ins2[2] if bias else None, reduction=reduction, **kw)
    assert ours.dtype == ref.dtype and ours.shape == ref.shape
    assert_close(ours, ref, dtype)
    for a, r in zip(grads(ours, ins1, up), grads(ref, ins2, up)):
        assert_close(a, r, dtype)


def reference_objective(logits, y, reduction, weight, eps, z, cap, ignore_index=-100):
    """The Xent objective written out with PyTorch ops: cross-entropy of the capped logits plus the z-loss."""
    if cap:
        logits = cap * torch.tanh(logits / cap)
    ce = F.cross_entropy(logits, y, weight=weight, reduction=reduction, label_smoothing=eps, ignore_index=ignore_index)
    counted = (y != ignore_index).to(logits.dtype)
    zrow = z * torch.logsumexp(logits, -1) ** 2 * counted
    if reduction == "none":
        return ce + zrow
    return ce + (zrow.sum() / counted.sum() if reduction == "mean" else zrow.sum())


@sweep(reduction=REDUCTIONS, z=[0.0, 0.01], cap=[0.0, 4.0], option=["ignore", "all"])
def test_z_loss_and_soft_cap(reduction, z, cap, option):
    """The returned loss is the objective whose gradient is returned: cross-entropy + z-loss, capped logits."""
    dtype = torch.float64
    x, h, w, b, y, cw = data(dtype, seed=2)
    y, kw = case(option, dtype, y, cw)
    opts = dict(reduction=reduction, z_loss=z, soft_cap=cap, **kw)
    xs = [x.clone().requires_grad_() for _ in range(2)]
    ours = xt.cross_entropy(xs[0], y, **opts)
    tol = dict(rtol=1e-12, atol=1e-13)
    z32 = float(np.float32(z))  # z travels as float32 (4.0, the cap, is one)
    ref = reference_objective(xs[1], y, reduction, kw["weight"], kw["label_smoothing"], z32, cap)
    assert_close(ours, ref, dtype, **tol)
    assert_close(grads(ours, xs[0], "other")[0], grads(ref, xs[1], "other")[0], dtype, **tol)
    lin = [[t.clone().requires_grad_() for t in (h, w, b)] for _ in range(2)]
    ours = xt.linear_cross_entropy(lin[0][0], lin[0][1], y, linear_bias=lin[0][2], **opts)
    ref = reference_objective(F.linear(*lin[1]), y, reduction, kw["weight"], kw["label_smoothing"], z32, cap)
    assert_close(ours, ref, dtype, **tol)
    for a, r in zip(grads(ours, lin[0], "other"), grads(ref, lin[1], "other")):
        assert_close(a, r, dtype, **tol)


@sweep(dtype=DTYPES, reduction=REDUCTIONS)
def test_one_sample(dtype, reduction):
    """(C,) logits / (in_features,) input with a 0-dim target, as PyTorch: a 0-dim loss for every reduction."""
    x, h, w, _, y, cw = data(dtype, seed=3)
    xs = [x[4].clone().requires_grad_() for _ in range(2)]
    ours, ref = (f(t, y[4], cw, reduction=reduction) for f, t in zip((xt.cross_entropy, F.cross_entropy), xs))
    assert ours.shape == ref.shape == ()
    assert_close(ours, ref, dtype)
    assert_close(grads(ours, xs[0], "other")[0], grads(ref, xs[1], "other")[0], dtype)
    hs = [h[4].clone().requires_grad_() for _ in range(2)]
    ours = xt.linear_cross_entropy(hs[0], w, y[4], reduction=reduction)
    ref = F.linear_cross_entropy(hs[1], w, y[4], reduction=reduction)
    assert ours.shape == ref.shape == ()
    assert_close(ours, ref, dtype)
    assert_close(grads(ours, hs[0], "other")[0], grads(ref, hs[1], "other")[0], dtype)


@sweep(reduction=REDUCTIONS, option=["ignore", "all"])
def test_bfloat16(reduction, option):
    """bfloat16 is computed in float32 on the widened values and rounded once: exactly the float32 result rounded
    (loss and gradients), and within bfloat16 rounding of PyTorch's float32 result."""
    x, h, w, b, y, cw = data(torch.float32, seed=4)
    y, kw = case(option, torch.float32, y, cw)
    x, h, w, b = (t.bfloat16() for t in (x, h, w, b))
    for fn, ins in ((xt.cross_entropy, [x]), (xt.linear_cross_entropy, [h, w, b])):
        lo = [t.clone().requires_grad_() for t in ins]  # bfloat16
        wide = [t.float().requires_grad_() for t in ins]  # the same values in float32
        ref = [t.float().requires_grad_() for t in ins]
        ours = call(fn, lo, y, reduction, kw)
        same = call(fn, wide, y, reduction, kw)
        torch_ref = call(getattr(F, fn.__name__), ref, y, reduction, kw)
        assert ours.dtype == torch.bfloat16
        assert torch.equal(ours, same.bfloat16())
        assert_close(ours.float(), torch_ref, torch.float32, rtol=2**-8, atol=1e-6)
        g = upstream(ours, "other")  # bfloat16 values, given to the float32 calls exactly
        for a, s, r in zip(
            torch.autograd.grad(ours, lo, g),
            torch.autograd.grad(same, wide, g.float()),
            torch.autograd.grad(torch_ref, ref, g.float()),
        ):
            assert a.dtype == torch.bfloat16
            assert torch.equal(a, s.bfloat16()), "the float32 gradient rounded once"
            assert_close(a.float(), r, torch.float32, rtol=2**-8, atol=1e-6 * max(1.0, r.abs().max().item()))


def call(fn, ts, y, reduction, kw):
    """``fn`` on logits ``[x]`` or on ``[input, linear_weight, linear_bias]``."""
    if len(ts) == 1:
        return fn(ts[0], y, reduction=reduction, **kw)
    return fn(ts[0], ts[1], y, linear_bias=ts[2], reduction=reduction, **kw)


def layouts(t):
    """``t`` (2-D) as a row-strided view (a column slice of a wider tensor) and as a transposed-then-sliced view."""
    rows, cols = t.shape
    wide = torch.zeros(rows, cols + 5, dtype=t.dtype)
    wide[:, :cols] = t
    tall = torch.zeros(cols, rows + 3, dtype=t.dtype)
    tall[:, :rows] = t.t()
    return {"row_strided": wide[:, :cols], "transposed": tall.t()[:rows]}


@sweep(dtype=DTYPES + [torch.bfloat16], layout=["row_strided", "transposed"], reduction=["mean", "none"])
def test_layouts_and_inputs_unchanged(dtype, layout, reduction):
    """Strided inputs give the contiguous inputs' result; no input is modified (compared with clones)."""
    x, h, w, b, y, cw = data(dtype, seed=5)
    y[2] = -100
    strided = {name: layouts(t)[layout] for name, t in (("x", x), ("h", h), ("w", w))}
    bias = torch.stack([b, b], 1)[:, 0]  # stride 2
    assert not strided["x"].is_contiguous() and not bias.is_contiguous()
    keep = [t.clone() for t in (strided["x"], strided["h"], strided["w"], bias, y, cw)]
    for fn, args, dense in (
        (xt.cross_entropy, (strided["x"],), (x,)),
        (xt.linear_cross_entropy, (strided["h"], strided["w"]), (h, w)),
    ):
        extra = dict(linear_bias=bias) if fn is xt.linear_cross_entropy else {}
        ins = [t.requires_grad_() for t in args]
        ref_ins = [t.clone().requires_grad_() for t in dense]
        ours = fn(*ins, y, weight=cw, reduction=reduction, label_smoothing=0.25, **extra)
        extra = dict(linear_bias=b) if extra else {}
        ref = fn(*ref_ins, y, weight=cw, reduction=reduction, label_smoothing=0.25, **extra)
        # the same library call on other strides (GEMMs on strided operands may round differently)
        tol = dict(rtol=2**-8, atol=1e-6) if dtype == torch.bfloat16 else TOL[dtype]
        assert_close(ours, ref, dtype, **tol)
        for a, r in zip(grads(ours, ins, "other"), grads(ref, ref_ins, "other")):
            assert_close(a, r, dtype, **tol)
        for t in ins:
            t.requires_grad_(False)
    for before, after in zip(keep, (strided["x"], strided["h"], strided["w"], bias, y, cw)):
        assert torch.equal(before, after)


def test_mean_of_nothing_is_nan_as_in_pytorch():
    x, h, w, _, y, cw = data(torch.float64, seed=6)
    xs = [x.clone().requires_grad_() for _ in range(2)]
    none = torch.full_like(y, -100)
    ours, ref = xt.cross_entropy(xs[0], none), F.cross_entropy(xs[1], none)
    assert torch.isnan(ours) and torch.isnan(ref)
    assert torch.equal(grads(ours, xs[0], "ones")[0], grads(ref, xs[1], "ones")[0])  # zeros
    assert torch.isnan(xt.linear_cross_entropy(h, w, none))
    zero_weight = torch.zeros_like(cw)
    assert torch.isnan(xt.cross_entropy(x, y, zero_weight)) and torch.isnan(F.cross_entropy(x, y, zero_weight))
    assert xt.cross_entropy(x, none, reduction="sum") == 0


@pytest.mark.parametrize("fn", ["cross_entropy", "linear_cross_entropy"])
def test_bad_target_names_its_row(fn):
    x, h, w, _, y, _ = data(torch.float32, seed=7)
    args = (x,) if fn == "cross_entropy" else (h, w)
    for bad in (CLASSES, -5):
        y2 = y.clone()
        y2[3] = bad
        with pytest.raises(IndexError, match=rf"^Target {bad} is out of bounds \(row 3 of target"):
            getattr(xt, fn)(*[t.clone().requires_grad_() for t in args], y2)
    y2 = y.clone()
    y2[[2, 4]] = torch.tensor([50, -100])  # with ignore_index=50, 50 is skipped and -100 is out of bounds
    with pytest.raises(IndexError, match=r"^Target -100 is out of bounds \(row 4 of target"):
        getattr(xt, fn)(*args, y2, ignore_index=50)


@pytest.mark.parametrize("fn", ["cross_entropy", "linear_cross_entropy"])
def test_argument_errors(fn):
    x, h, w, _, y, _ = data(torch.float32, seed=8)
    args = (x,) if fn == "cross_entropy" else (h, w)
    f = getattr(xt, fn)
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte"):
        f(*args, y.int())
    with pytest.raises(NotImplementedError, match="class-index targets"):
        f(*args, torch.rand(ROWS, CLASSES))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(13\) to match target batch_size \(12\)"):
        f(*args, y[:12])
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        f(*args, y, reduction="avg")
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0"):
        f(*args, y, label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 37 classes"):
        f(*args, y, weight=torch.ones(4))
    with pytest.raises(ValueError, match="z_loss must be finite and >= 0"):
        f(*args, y, z_loss=-1.0)
    with pytest.raises(RuntimeError, match="float32, float64 or bfloat16"):
        f(*[t.half() for t in args], y)
    assert xt.cross_entropy(x, y.to(torch.uint8)) == xt.cross_entropy(x, y)  # Byte targets, as in PyTorch


def test_argument_errors_specific():
    x, h, w, _, y, _ = data(torch.float32, seed=9)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C\) or \(C,\)"):
        xt.cross_entropy(x.reshape(13, 37, 1), y)
    with pytest.raises(RuntimeError, match="expected equal input and linear_weight last dimensions"):
        xt.linear_cross_entropy(h[:, :5], w, y)
    with pytest.raises(RuntimeError, match="must be a CPU tensor of input's dtype"):
        xt.linear_cross_entropy(h, w.double(), y)
    with pytest.raises(RuntimeError, match=r"expected linear_bias shape \(37,\)"):
        xt.linear_cross_entropy(h, w, y, linear_bias=torch.zeros(5))
