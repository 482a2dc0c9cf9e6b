#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/xent_fuzz.c: one small input per function, element type, option, error and
special-value case. Usage: gen_seeds.py DIR (the files are named after the case; DIR is emptied of *.bin first
only for names this script writes).

Input layout (must match decode() in xent_fuzz.c): 35 header bytes, then npatch%16 patches of 4 bytes, then label
bytes (labmode 6), then value bytes (valmode 4, 5, 7).

Inputs whose first byte is >= 0xE0 are linear cross-entropy calls (decode_linear() in fuzz/oracles_linear.c): the
tag (bit 0: f64), 22 selector bytes, labmode, valmode, a 4-byte seed, npatch%17 patches of 3 bytes.
"""

import os
import struct
import sys

FN = dict(ce=0, ce_ex=1, soft=2, soft_ex=3, lse=4, softmax=5, logsm=6)

DEFAULTS = dict(
    fn="ce",
    f64=0,
    rowsel=2,
    colsel=2,
    rowv=5,
    colv=9,
    ssel=(0, 0, 0, 0),
    sv=(0, 0, 0, 0),
    optsel=0,
    red=0,
    thr=0,
    ign=0,
    smo=0,
    gsc=0,
    nullmask=0,
    ptrsel=0,
    alias=0,
    aliasv=0,
    alloc=0,
    valmode=0,
    labmode=0,
    tgtmode=0,
    seed=1,
    patches=(),
    tail=b"",
)


def seed(**kw):
    d = dict(DEFAULTS)
    d.update(kw)
    b = bytearray()
    b.append(FN[d["fn"]] | (d["f64"] << 3))
    b += bytes([d["rowsel"], d["colsel"]])
    b += struct.pack("<HH", d["rowv"], d["colv"])
    b += bytes(d["ssel"]) + bytes(d["sv"])
    b += bytes([d["optsel"], d["red"], d["thr"], d["ign"], d["smo"], d["gsc"], d["nullmask"], d["ptrsel"], d["alias"]])
    b += struct.pack("<H", d["aliasv"])
    b += bytes([d["alloc"], d["valmode"], d["labmode"], d["tgtmode"]])
    b += struct.pack("<I", d["seed"])
    b.append(len(d["patches"]))
    for kind, row, col in d["patches"]:
        b += struct.pack("<BBH", kind, row, col)
    b += d["tail"]
    return bytes(b)


def cases():
    out = {}
    n = 0
    for fn in FN:
        for f64 in (0, 1):
            t = f"{fn}_{'f64' if f64 else 'f32'}"
            out[f"ok_{t}"] = seed(fn=fn, f64=f64, seed=n)
            out[f"ok_{t}_tails"] = seed(fn=fn, f64=f64, colsel=14, colv=11, rowsel=13, rowv=7, ptrsel=3, seed=n + 7)
            out[f"special_{t}"] = seed(
                fn=fn,
                f64=f64,
                rowsel=13,
                rowv=6,
                ptrsel=7,
                red=9,
                patches=((0, 0, 0), (2, 1, 3), (3, 2, 1), (4, 3, 2), (5, 4, 0), (7, 5, 1), (1, 6, 2), (11, 7, 0)),
                seed=n + 200,
            )
            out[f"inplace_{t}"] = seed(fn=fn, f64=f64, alias=10, ptrsel=2, red=9, seed=n + 300)
            out[f"strided_{t}"] = seed(fn=fn, f64=f64, ssel=(9, 10, 11, 9), sv=(3, 5, 1, 2), ptrsel=7, seed=n + 400)
            n += 1
    # rows-in-lanes (<= 16 classes), long rows (column split), many rows, threads
    out["lanes_ce_f32_threads2"] = seed(fn="ce", rowsel=10, rowv=1000, colsel=2, colv=2, thr=9, ptrsel=3)
    out["lanes_ce_ex_f64_bias"] = seed(fn="ce_ex", f64=1, rowsel=7, rowv=77, colsel=2, colv=15, ptrsel=7, labmode=5)
    out["longrow_ce_f32"] = seed(fn="ce_ex", rowsel=1, colsel=12, colv=4468, ptrsel=7, thr=12, smo=8)
    out["longrow_softmax_f64"] = seed(fn="softmax", f64=1, rowsel=13, rowv=0, colsel=12, colv=100)
    out["longrow_soft_f32"] = seed(fn="soft", rowsel=1, colsel=12, colv=7000, ptrsel=3, thr=9, tgtmode=3)
    out["many_rows_lse_f32"] = seed(fn="lse", rowsel=11, rowv=40000, colsel=2, colv=3)
    # options
    out["opts_null_ce"] = seed(optsel=0xE0, ptrsel=3)
    out["opts_larger_struct"] = seed(optsel=6 | (2 << 3), ptrsel=1)
    out["opts_struct_sizemax"] = seed(optsel=7 | (1 << 3))
    out["smoothing_0.1_sum"] = seed(smo=8, red=5, ptrsel=3)
    out["smoothing_1_soft"] = seed(fn="soft_ex", smo=9, ptrsel=7, tgtmode=5)
    out["gradscale_neg"] = seed(gsc=9, ptrsel=1, red=9)
    out["gradscale_big_f32"] = seed(gsc=10, ptrsel=1)
    out["ignore_all_mean"] = seed(labmode=7, ptrsel=7, fn="ce_ex")
    out["ignore_mixed"] = seed(labmode=5, ign=9, ptrsel=3, red=9)
    out["labels_bytes"] = seed(labmode=6, tail=bytes([0, 1, 2, 3, 10]))
    # errors: options (4)
    out["err_struct_small"] = seed(optsel=5 | (1 << 3))
    out["err_struct_zero"] = seed(optsel=5)
    out["err_reduction_3"] = seed(red=13)
    out["err_reduction_neg"] = seed(red=14)
    out["err_threads_neg"] = seed(thr=13)
    out["err_smoothing_nan"] = seed(smo=11)
    out["err_smoothing_neg"] = seed(smo=12)
    out["err_smoothing_1.5"] = seed(smo=13)
    out["err_gradscale_inf"] = seed(gsc=11)
    out["err_gradscale_nan"] = seed(gsc=12, fn="soft")
    # errors: null (1)
    out["err_null_logits"] = seed(ptrsel=0x18, nullmask=1)
    out["err_null_labels"] = seed(ptrsel=0x18, nullmask=2)
    out["err_null_loss"] = seed(ptrsel=0x18, nullmask=4, fn="soft_ex")
    out["err_null_x_softmax"] = seed(fn="softmax", ptrsel=0x18, nullmask=1)
    out["err_null_out_lse"] = seed(fn="lse", ptrsel=0x18, nullmask=4, rowsel=0)
    # errors: shape (2)
    out["err_cols0"] = seed(colsel=0)
    out["err_cols0_rows0_softmax"] = seed(fn="softmax", colsel=0, rowsel=0)
    out["err_stride_lt_cols"] = seed(ssel=(12, 0, 0, 0))
    out["err_gradstride_lt_cols"] = seed(fn="ce_ex", ssel=(0, 12, 0, 0), ptrsel=1)
    out["err_targetstride_lt_cols"] = seed(fn="soft", ssel=(0, 0, 12, 0))
    out["err_outstride_lt_cols"] = seed(fn="logsm", ssel=(0, 0, 0, 12))
    out["err_rows_sizemax"] = seed(rowsel=12, rowv=0)
    out["err_cols_sizemax"] = seed(colsel=13, colv=0, fn="lse")
    out["err_stride_huge"] = seed(ssel=(14, 0, 0, 0), sv=(4, 0, 0, 0))
    out["err_rows_times_stride"] = seed(fn="softmax", rowsel=12, rowv=10, ssel=(14, 0, 0, 0), sv=(10, 0, 0, 0))
    out["virtual_rows_huge_null"] = seed(rowsel=12, rowv=6, colsel=1, ptrsel=0x18, nullmask=4)
    # errors: labels (3)
    out["err_label_cols"] = seed(labmode=6, tail=bytes([0, 12]))
    out["err_label_neg1"] = seed(labmode=6, tail=bytes([11]))
    out["err_label_int64min"] = seed(labmode=6, f64=1, tail=bytes([1, 13]))
    out["err_label_int64max"] = seed(labmode=6, fn="ce_ex", tail=bytes([14]))
    # errors: aliasing (5) and adjacency (ok)
    for k in range(8):
        out[f"alias_overlap_{k}"] = seed(
            fn=["ce_ex", "soft_ex", "softmax", "lse"][k % 4],
            alias=12,
            ptrsel=7,
            aliasv=(k * 37) | ((k << 5) << 8),
            seed=500 + k,
        )
    out["alias_chain_ce_ex"] = seed(fn="ce_ex", alias=15, ptrsel=7)
    out["alias_chain_soft_f64"] = seed(fn="soft_ex", f64=1, alias=15, ptrsel=7, red=9)
    out["alias_inplace_stride_mismatch"] = seed(fn="ce_ex", alias=10, aliasv=1, ssel=(0, 9, 0, 0), sv=(0, 2, 0, 0))
    out["alias_lse_inplace"] = seed(fn="lse", alias=11)
    # values
    out["values_bytes_f32"] = seed(
        valmode=4, fn="logsm", tail=bytes([160, 0, 161, 0, 176, 0, 180, 0, 186, 0, 192, 0, 193, 0, 10, 20] * 4)
    )
    out["values_bytes_f64"] = seed(
        valmode=7, f64=1, fn="soft_ex", ptrsel=7, tail=bytes([10, 200, 30, 5, 7, 9, 250, 1, 2, 3, 4, 0, 17, 19] * 5)
    )
    out["values_1e30_rows"] = seed(valmode=6 | (9 << 3), fn="ce", ptrsel=3, red=9)
    out["values_allneg"] = seed(valmode=6, fn="softmax")
    out["wild_targets"] = seed(fn="soft_ex", tgtmode=7, ptrsel=7)
    out["guard_pages"] = seed(alloc=7, fn="ce_ex", ssel=(9, 9, 0, 0), sv=(1, 3, 0, 0), ptrsel=7)
    out["guard_pages_softmax"] = seed(alloc=7, fn="softmax", f64=1, ssel=(10, 0, 0, 11), sv=(1, 0, 0, 5))
    out["rows0_bias"] = seed(fn="ce_ex", rowsel=0, ptrsel=7)
    out["rows0_soft_mean"] = seed(fn="soft", rowsel=0, ptrsel=3)
    out["cols1"] = seed(colsel=1, ptrsel=3, smo=10)
    out.update(linear_cases())
    return out


LINEAR_DEFAULTS = dict(
    f64=0,
    rowsel=26,  # < 224: rowsel % 40 rows (26)
    dimsel=0x60 + 15,  # >> 5 >= 3: 1 + v % 48 (16)
    clssel=0x40 + 5,  # >> 5 in 2..4: 1 + v % 70 (70); 0x20 + k: tails; 0xC0: 70001; 0/1: 0/1 classes
    ss=(0, 0, 0, 0),  # strides of hidden, weight, grad_hidden, grad_weight: & 7: 3 padded, 4 dim - 1, 5 huge, 7 dim + 7
    optsel=0,  # & 7 == 7: NULL; >> 3: 1 the 1.0.0 size, 2 the 1.1.0 size, 3 too small, 4 larger
    red=2,  # < 200: % 3; < 250: 3; else -1
    thr=1,  # < 240: % 4; < 250: 8; else -1
    ign=2,  # % 4: 0, 1, else -100
    sm=0,  # [0, 0, 0.1, 0.05, 1, 1.5, -0.1, nan]
    gs=0,  # [1, 1, 2.5, 0, -1, 1e-30, inf, nan]
    zs=0,  # [0, 0, 1e-3, 1e-2, -1, inf]
    cs=0,  # [0, 0, 3, 30, 0.5, -1, nan]
    cwsel=0,  # >= 128: class weights, 1 + v % 4: valid, zeros, a negative, a NaN
    zout=0,  # & 1: z_loss_out
    wsel=0,  # & 7: 1 the least, 2 one byte less, 3 (1 + (v >> 3) % 5) rows, 4 SIZE_MAX, 5 one byte; else default
    acc=0,
    outs=0x0F,  # bits: grad_hidden, grad_weight, grad_bias, lse, no bias; >> 5: 5/6/7 hidden/weight/labels-or-loss NULL
    asel=0,  # >= 160: output LOSS + v % 6 placed on buffer (v / 6) % 11
    aoff=0,
    labmode=1,  # bits: some rows ignored, some labels out of range, every row ignored
    valmode=0,  # & 3: 3 values in +-8, 2 in +-0.05, else +-1.5
    seed=1,
    patches=(),  # (kind, row, col): 0 NaN in hidden, 1 +-inf in hidden, 2 -inf bias, 3 +-1e30 bias, 4 +-1e4 hidden,
    # 5 a zero weight, 6 every class but one masked, 7 a label
)


def linear(**kw):
    d = dict(LINEAR_DEFAULTS)
    d.update(kw)
    b = bytearray([0xE0 | d["f64"], d["rowsel"], d["dimsel"], d["clssel"]])
    b += bytes(d["ss"])
    b += bytes([d["optsel"], d["red"], d["thr"], d["ign"], d["sm"], d["gs"], d["zs"], d["cs"]])
    b += bytes([d["cwsel"], d["zout"], d["wsel"], d["acc"], d["outs"], d["asel"], d["aoff"]])
    b += bytes([d["labmode"], d["valmode"]])
    b += struct.pack("<I", d["seed"])
    b.append(len(d["patches"]))
    for kind, row, col in d["patches"]:
        b += bytes([kind, row, col])
    return bytes(b)


def linear_cases():
    out = {}
    for f64 in (0, 1):
        t = "f64" if f64 else "f32"
        out[f"linear_ok_{t}"] = linear(f64=f64, seed=11 + f64)
        out[f"linear_strided_{t}"] = linear(f64=f64, ss=(3 | 8, 3 | 16, 7, 3), seed=21)
        out[f"linear_options_{t}"] = linear(f64=f64, red=0, sm=2, gs=2, zs=2, cs=2, cwsel=128, zout=1, seed=31)
        out[f"linear_special_{t}"] = linear(
            f64=f64, red=0, patches=((0, 1, 2), (2, 0, 5), (3 | 8, 0, 7), (1, 3, 1), (4, 5, 0)), seed=41
        )
        out[f"linear_blocks_accumulate_{t}"] = linear(f64=f64, rowsel=60, wsel=3 | (2 << 3), acc=1, sm=3, seed=51)
    out["linear_tail9"] = linear(clssel=0x20 + 2, rowsel=5)
    out["linear_tail33_f64"] = linear(f64=1, clssel=0x20 + 8, rowsel=7, ss=(3, 3, 3, 3))
    out["linear_one_class"] = linear(clssel=1, rowsel=4)
    out["linear_70001"] = linear(clssel=0xC0, rowsel=2, dimsel=0x41, sm=2)
    out["linear_rows0_accumulate"] = linear(rowsel=0, acc=1, red=1)
    out["linear_rows0_none"] = linear(rowsel=0, red=0, f64=1)
    out["linear_all_ignored"] = linear(labmode=4, cwsel=128)
    out["linear_threads2"] = linear(thr=2, rowsel=239, clssel=0xA0 + 3, dimsel=0x60 + 40)
    out["linear_masked"] = linear(patches=((6, 0, 3),), red=0)
    out["linear_loss_only"] = linear(outs=0x10, red=1)
    out["linear_soft_cap_weights_smoothing"] = linear(cs=3, sm=2, cwsel=129, outs=0x07)
    out["linear_workspace_least"] = linear(wsel=1)
    out["linear_workspace_sizemax"] = linear(wsel=4)
    out["linear_opts_null"] = linear(optsel=7)
    out["linear_opts_v11_size"] = linear(optsel=2 << 3, wsel=2, acc=1)
    out["linear_opts_larger"] = linear(optsel=4 << 3)
    out["linear_err_dim0"] = linear(dimsel=0)
    out["linear_err_classes0"] = linear(clssel=0)
    out["linear_err_hidden_stride"] = linear(ss=(4, 0, 0, 0))
    out["linear_err_grad_weight_stride"] = linear(ss=(0, 0, 0, 4))
    out["linear_err_blas_stride"] = linear(rowsel=1, ss=(5, 0, 5 | 8, 0))
    out["linear_err_null_hidden"] = linear(outs=0x0F | (5 << 5))
    out["linear_err_null_weight"] = linear(outs=0x0F | (6 << 5))
    out["linear_err_null_loss"] = linear(outs=0x0F | (7 << 5))
    out["linear_err_null_labels"] = linear(outs=0x0F | (7 << 5), asel=1)
    out["linear_err_label"] = linear(labmode=2, rowsel=39)
    out["linear_err_reduction"] = linear(red=200)
    out["linear_err_threads"] = linear(thr=250)
    out["linear_err_smoothing"] = linear(sm=5)
    out["linear_err_struct_small"] = linear(optsel=3 << 3)
    out["linear_err_negative_weight"] = linear(cwsel=130)
    out["linear_err_nan_weight"] = linear(cwsel=131, f64=1)
    out["linear_err_workspace"] = linear(wsel=2)
    out["linear_err_workspace_1"] = linear(wsel=5, outs=0x01)
    for k, a in enumerate((160, 167, 175, 190, 200, 215, 230, 250)):
        out[f"linear_alias_{k}"] = linear(asel=a, aoff=k * 24, zout=1, zs=2, cwsel=128, red=k % 3, seed=60 + k)
    return out


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    os.makedirs(d, exist_ok=True)
    cs = cases()
    for name, data in cs.items():
        with open(os.path.join(d, name + ".bin"), "wb") as f:
            f.write(data)
    print(f"gen_seeds: wrote {len(cs)} inputs to {d}")


if __name__ == "__main__":
    main()
