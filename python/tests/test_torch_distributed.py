"""xent.torch.distributed.linear_cross_entropy on 2 gloo ranks (CPU) against the unsharded
xent.torch.linear_cross_entropy on the whole weight: loss, grad_hidden and each rank's weight/bias gradient rows, with
and without z_loss and soft_cap (separately and together, through the library backward and the blockwise "none" one).

The module fixture starts 2 processes (this file run as a script: ``python test_torch_distributed.py RANK WORLD
STORE OUT``) that join a gloo group through a FileStore in a temporary directory, run every case below on uneven
shards of the classes and save their results; the tests compare them. Skipped without PyTorch, torch.distributed's
gloo or libxent >= 1.3.0, and when gloo cannot start a group on this machine.
"""

import os
import subprocess
import sys
import time
from typing import NamedTuple, Union

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

import xent  # noqa: E402

WORLD = 2
#: Exit status of a worker whose gloo group cannot be initialized here (the tests skip).
NO_GLOO = 77
ROWS, DIM, TOTAL = 24, 16, 37


class Case(NamedTuple):
    reduction: str
    smoothing: float
    bias: bool
    cut: int  # the first class of rank 1
    #: a number (0-dim for mean/sum, on every row for "none"), or "rows": a different value per row
    upstream: Union[float, str]
    ignored: list
    z_loss: float = 0.0
    soft_cap: float = 0.0


#: The logits' spread is about 3 (soft_cap 2.5 bends most of them); lse about 4 (z_loss 0.05 adds about 0.8 a row).
Z, CAP = 0.05, 2.5
CASES = {
    "mean": Case("mean", 0.0, True, 11, 1.0, [3, 7]),
    "sum_smoothing_scaled": Case("sum", 0.1, True, 11, 0.3, [5]),  # 0.3: not a float32, multiplied after (float64)
    "mean_no_bias": Case("mean", 0.2, False, 30, 2.0, [0, 1, 2]),
    "none_per_row": Case("none", 0.1, True, 11, "rows", [4, 9]),  # the blockwise backward
    "none_uniform": Case("none", 0.0, False, 20, 0.5, [6]),  # one value on the counted rows: one library call
    "mean_all_ignored": Case("mean", 0.1, True, 11, 1.0, list(range(ROWS))),  # NaN, gradients 0
    # z_loss and soft_cap, separately and together, through every path of the backward
    "mean_z_loss": Case("mean", 0.1, True, 11, 1.0, [3], z_loss=Z),
    "sum_soft_cap_scaled": Case("sum", 0.0, True, 20, 0.3, [5], soft_cap=CAP),
    "mean_z_loss_soft_cap": Case("mean", 0.2, False, 30, 2.0, [0, 1], z_loss=Z, soft_cap=CAP),
    "sum_z_loss_soft_cap": Case("sum", 0.1, True, 11, 1.0, [], z_loss=Z, soft_cap=CAP),
    "none_per_row_z_loss": Case("none", 0.1, True, 11, "rows", [4, 9], z_loss=Z),
    "none_per_row_soft_cap": Case("none", 0.0, False, 20, "rows", [2], soft_cap=CAP),
    "none_per_row_z_loss_soft_cap": Case("none", 0.1, True, 11, "rows", [4, 9], z_loss=Z, soft_cap=CAP),
    "none_uniform_z_loss_soft_cap": Case("none", 0.1, True, 20, 0.5, [6], z_loss=Z, soft_cap=CAP),
    "mean_all_ignored_z_loss_soft_cap": Case("mean", 0.1, True, 11, 1.0, list(range(ROWS)), z_loss=Z, soft_cap=CAP),
}
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _data(case, dtype):
    """hidden, the whole weight and bias, labels (some in each shard, some ignored) and the upstream gradient."""
    reduction, upstream, ignored = CASES[case].reduction, CASES[case].upstream, CASES[case].ignored
    g = torch.Generator().manual_seed(sorted(CASES).index(case))
    h = torch.randn(ROWS, DIM, generator=g, dtype=torch.float64).to(dtype)
    w = (torch.randn(TOTAL, DIM, generator=g, dtype=torch.float64) * 0.7).to(dtype)
    b = torch.randn(TOTAL, generator=g, dtype=torch.float64).to(dtype)
    y = torch.randint(0, TOTAL, (ROWS,), generator=g)
    y[:4] = torch.tensor([0, TOTAL - 1, 12, 10])  # both ends, and either side of the first cut
    y[ignored] = -100
    if upstream == "rows":
        up = (torch.rand(ROWS, generator=g, dtype=torch.float64) * 2 - 0.5).to(dtype)
    elif reduction == "none":
        up = torch.full((ROWS,), upstream, dtype=dtype)
        up[ignored] = 7.0  # ignored rows' upstream values do not count
    else:
        up = torch.tensor(upstream, dtype=dtype)
    return h, w, b, y, up


def _shard(case, rank):
    cut = CASES[case].cut
    return (0, cut) if rank == 0 else (cut, TOTAL)


# ---- the worker (this file run as a script) -------------------------------------------------------------------


def _worker(rank, world, store, out):
    torch.set_num_threads(1)
    try:
        dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    except Exception as e:  # noqa: BLE001  (gloo cannot run here: the tests skip)
        print(f"gloo init failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(NO_GLOO)
    import xent.torch.distributed as xtd

    xtd.BLOCK_BYTES = 1024  # the blockwise "none" backward in several row blocks
    results = {}
    for case, c in CASES.items():
        for dname, dtype in DTYPES.items():
            h, w, b, y, up = _data(case, dtype)
            lo, hi = _shard(case, rank)
            hs = h.clone().requires_grad_()
            ws = w[lo:hi].clone().requires_grad_()
            bs = b[lo:hi].clone().requires_grad_() if c.bias else None
            loss = xtd.linear_cross_entropy(
                hs,
                ws,
                y,
                col_offset=lo,
                total_cols=TOTAL,
                bias_shard=bs,
                reduction=c.reduction,
                label_smoothing=c.smoothing,
                z_loss=c.z_loss,
                soft_cap=c.soft_cap,
            )
            loss.backward(up)
            key = f"{case}/{dname}"
            results[key + "/loss"] = loss.detach().numpy()
            results[key + "/grad_hidden"] = hs.grad.numpy()
            results[key + "/grad_weight"] = ws.grad.numpy()
            if c.bias:
                results[key + "/grad_bias"] = bs.grad.numpy()
    # a shard outside [0, total_cols) on rank 1 only: every rank raises, none is left waiting in a collective
    h, w, _, y, _ = _data("mean", torch.float64)
    lo, hi = _shard("mean", rank)
    try:
        xtd.linear_cross_entropy(h, w[lo:hi], y, col_offset=lo + rank, total_cols=TOTAL)
        results["bad_shard"] = np.array("no error")
    except xent.XentError as e:
        results["bad_shard"] = np.array(f"XentError {e}")
    dist.destroy_process_group()
    np.savez(os.path.join(out, f"rank{rank}.npz"), **results)


# ---- the tests --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """The results of the 2 ranks (a list of dicts), after running every case."""
    if not (dist.is_available() and dist.is_gloo_available()):
        pytest.skip("torch.distributed with the gloo backend is not available")
    if not xent.linear_sharded_available():
        pytest.skip("the loaded libxent has no sharded linear cross-entropy (needs >= 1.3.0)")
    tmp = tmp_path_factory.mktemp("gloo")
    env = dict(os.environ)
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(xent.__file__)))  # this xent, not an installed one
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_dir, env.get("PYTHONPATH")) if p)
    env.setdefault("XENT_LIBRARY", xent.library_path)
    env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    env["OMP_NUM_THREADS"] = "1"
    procs = []
    for rank in range(WORLD):
        with open(tmp / f"rank{rank}.err", "w") as err:  # a file: a full pipe would block a polled rank
            procs.append(
                subprocess.Popen(
                    [sys.executable, os.path.abspath(__file__), str(rank), str(WORLD), str(tmp / "store"), str(tmp)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                )
            )
    # wait for both; when one fails, stop the other (it may be waiting in a collective)
    deadline = time.monotonic() + 120
    while any(p.poll() is None for p in procs):
        if any(p.returncode not in (None, 0) for p in procs) or time.monotonic() > deadline:
            for p in procs:
                if p.poll() is None:
                    p.kill()
            break
        time.sleep(0.05)
    for p in procs:
        p.wait()
    errors = [(tmp / f"rank{rank}.err").read_text() for rank in range(WORLD)]
    if time.monotonic() > deadline:
        pytest.fail("the gloo ranks did not finish within 120 s (a collective left waiting?)")
    codes = [p.returncode for p in procs]
    if NO_GLOO in codes:
        pytest.skip("gloo cannot start a process group here: " + " ".join(errors).strip()[-500:])
    for rank, (code, err) in enumerate(zip(codes, errors)):
        assert code == 0, f"rank {rank} exited with {code}:\n{err[-4000:]}"
    return [dict(np.load(tmp / f"rank{rank}.npz")) for rank in range(WORLD)]


def _reference(case, dtype):
    """The unsharded call's loss and gradients (xent.torch.linear_cross_entropy on the whole weight)."""
    import xent.torch as xt

    c = CASES[case]
    h, w, b, y, up = _data(case, dtype)
    h.requires_grad_()
    w.requires_grad_()
    b = b.requires_grad_() if c.bias else None
    loss = xt.linear_cross_entropy(
        h,
        w,
        y,
        linear_bias=b,
        reduction=c.reduction,
        label_smoothing=c.smoothing,
        ignore_index=-100,
        z_loss=c.z_loss,
        soft_cap=c.soft_cap,
    )
    loss.backward(up)
    return loss.detach().numpy(), h.grad.numpy(), w.grad.numpy(), None if b is None else b.grad.numpy()


def _assert_close(name, got, want, rtol):
    """|got - want| <= rtol * max(|want|) elementwise (relative to the gradient's scale: an element near 0 gets no
    relative test of its own), NaN where want is NaN."""
    assert got.shape == want.shape, name
    scale = float(np.nanmax(np.abs(want))) if want.size and not np.isnan(want).all() else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(scale, 1e-300), equal_nan=True, err_msg=name)


#: Gradient tolerances, relative to each gradient's largest element (measured: <= 6.5e-7 in float32, <= 1.5e-15 in
#: float64, z_loss and soft_cap included). float32: the sharded path forms the shards' logits, sums grad_hidden over
#: 2 ranks and applies the upstream gradient (and, in the blockwise "none" backward, the soft cap's derivative) in
#: another order than the unsharded call.
GRAD_RTOL = {"float32": 2e-6, "float64": 1e-12}


@pytest.mark.parametrize("dname", sorted(DTYPES))
@pytest.mark.parametrize("case", list(CASES))
def test_matches_unsharded(ranks, case, dname):
    loss, gh, gw, gb = _reference(case, DTYPES[dname])
    key = f"{case}/{dname}"
    got = ranks[0][key + "/loss"]
    if CASES[case].reduction == "mean" and CASES[case].ignored == list(range(ROWS)):
        assert np.isnan(got) and np.isnan(loss)
    elif dname == "float64":
        np.testing.assert_allclose(got, loss, rtol=1e-12, atol=0, err_msg="loss")
    else:  # float32: within 1 ulp of the unsharded loss (each value; measured: 0 reduced, 1 for some rows of "none")
        ulps = np.abs(got.astype(np.float64) - loss) / np.spacing(np.abs(loss))
        assert ulps.max() <= 1, f"loss differs by {ulps.max()} ulp"
    _assert_close("grad_hidden", ranks[0][key + "/grad_hidden"], gh, GRAD_RTOL[dname])
    for rank in range(WORLD):
        lo, hi = _shard(case, rank)
        _assert_close(f"grad_weight rank {rank}", ranks[rank][key + "/grad_weight"], gw[lo:hi], GRAD_RTOL[dname])
        if gb is not None:
            _assert_close(f"grad_bias rank {rank}", ranks[rank][key + "/grad_bias"], gb[lo:hi], GRAD_RTOL[dname])


@pytest.mark.parametrize("dname", sorted(DTYPES))
@pytest.mark.parametrize("case", list(CASES))
def test_loss_and_grad_hidden_identical_on_every_rank(ranks, case, dname):
    key = f"{case}/{dname}"
    for what in ("loss", "grad_hidden"):
        a, b = ranks[0][f"{key}/{what}"], ranks[1][f"{key}/{what}"]
        assert a.tobytes() == b.tobytes(), what


@pytest.mark.parametrize("dname", sorted(DTYPES))
@pytest.mark.parametrize("case", list(CASES))
def test_merge_is_xent_merge_stats_bit_for_bit(ranks, case, dname):
    """With 2 ranks, the MAX + SUM all_reduce merge gives exactly xent_merge_stats of the two shards' records."""
    c = CASES[case]
    h, w, b, y, _ = _data(case, DTYPES[dname])
    stats = []
    for rank in range(WORLD):
        lo, hi = _shard(case, rank)
        stats.append(
            xent.linear_partial_stats(
                h.numpy(),
                w[lo:hi].numpy(),
                y.numpy(),
                col_offset=lo,
                total_cols=TOTAL,
                bias=b[lo:hi].numpy() if c.bias else None,
                soft_cap=c.soft_cap,
                num_threads=1,
            )
        )
    merged = xent.merge_stats(stats[0], stats[1])
    dtype = h.numpy().dtype
    want, z = xent.finalize_stats(
        merged,
        y.numpy(),
        total_cols=TOTAL,
        dtype=dtype,
        reduction=c.reduction,
        label_smoothing=c.smoothing,
        z_loss=c.z_loss,
        return_z_loss=True,
    )
    if c.z_loss:  # the loss is the cross-entropy plus the z-loss, added in float64 and rounded once
        want = (np.asarray(want, np.float64) + z).astype(dtype)
    else:
        assert not np.any(z)
    want = np.asarray(want).reshape(-1)
    got = ranks[0][f"{case}/{dname}/loss"].reshape(-1)
    if c.ignored == list(range(ROWS)):
        want = np.full_like(want, np.nan)  # "mean" over no row: NaN (the library gives 0)
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("case", ["mean_all_ignored", "mean_all_ignored_z_loss_soft_cap"])
def test_all_ignored_mean_has_zero_gradients(ranks, case):
    for rank in range(WORLD):
        for dname in DTYPES:
            for what in ("grad_hidden", "grad_weight", "grad_bias"):
                assert not ranks[rank][f"{case}/{dname}/{what}"].any(), (rank, what)


def test_a_bad_shard_on_one_rank_raises_on_every_rank(ranks):
    assert "col_offset" in str(ranks[1]["bad_shard"]) or "columns" in str(ranks[1]["bad_shard"])
    assert str(ranks[0]["bad_shard"]).startswith("XentError"), str(ranks[0]["bad_shard"])
    assert str(ranks[1]["bad_shard"]).startswith("XentError"), str(ranks[1]["bad_shard"])


@pytest.mark.parametrize("option", ["z_loss", "soft_cap"])
@pytest.mark.parametrize("value", [-0.5, float("inf"), float("nan")])
def test_bad_z_loss_or_soft_cap_raises_before_any_collective(option, value):
    """Checked first, like the unsharded call's (no process group here: a missing check would reach the
    "not initialized" RuntimeError instead)."""
    import xent.torch.distributed as xtd

    h, w, _, y, _ = _data("mean", torch.float32)
    with pytest.raises(ValueError, match=f"{option} must be finite and >= 0"):
        xtd.linear_cross_entropy(h, w[:11], y, col_offset=0, total_cols=TOTAL, **{option: value})


if __name__ == "__main__":
    _worker(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
