/*
 * fuzz/xent_fuzz.c -- libFuzzer target over the C ABI of Xent (include/xent.h).
 *
 * Every input decodes (see fuzz/README.md, "Input format", and fuzz/gen_seeds.py, which writes the same layout) into
 * one call of one xent_* computing function: element type, function, rows/cols (0, 1, SIMD tails, 65536+ column
 * split, sizes near SIZE_MAX), strides (< cols, padded, 0, huge), options (struct_size too small/larger/SIZE_MAX,
 * invalid reduction, negative threads, ignore_index, NaN/out-of-range smoothing, non-finite grad_scale), labels
 * (valid, ignored, out of range, INT64_MIN/MAX), soft targets, NULL pointers, aliasing (in place, partial overlap,
 * exact adjacency) and logits (NaN, +-inf, subnormals, +-1e30, FLT_MAX, all -inf rows).
 *
 * Invariants checked (a violation calls abort(), which libFuzzer reports as a crash with the input saved):
 *   1. the status equals an independent validation written here from the header's rules, in the library's
 *      precedence order (decodeOptions, then CrossEntropyCall/RowFunctionCall.validate());
 *   2. on error every byte of every buffer (outputs, inputs, padding, options) is unchanged and
 *      xent_last_error_message() is non-empty; on success it is "" and no byte outside the outputs' elements
 *      changed (stride padding, inputs other than the in-place gradient);
 *   3. on success the results agree with a long double reference (softmax rows sum to 1, log_softmax is
 *      log(softmax), logsumexp, loss, gradient, bias gradient; special-value rules);
 *   4. in place equals out of place, bitwise; 5. num_threads 1 vs 2 (or the given count) bitwise;
 *   6-8. on a successful hard-label problem: the 1.1 entry points (shards, bfloat16, options_init_size) against
 *      the same call, the 1.1 options against a long double reference, and one invalid 1.1 argument at a time
 *      (the one status the header names, the message, no byte changed).
 * Inputs whose first byte is >= XF_LINEAR_TAG (0xE0) instead make one xent_linear_cross_entropy_* call
 * (fuzz/oracles_linear.c: status, nothing written on refusal, the long double reference, thread counts), then the
 * same problem over a sharded vocabulary (fuzz/oracles_linear_sharded.c: the 1.3.0 entry points against the
 * unsharded call, thread counts, one invalid argument).
 * Out-of-bounds reads/writes: with the ASan-instrumented library (make fuzz) every buffer is an exactly sized heap
 * block and the bytes between rows (stride padding) are poisoned during the call; some inputs instead use mmap
 * regions that end exactly at a PROT_NONE guard page (the only protection for an uninstrumented library).
 */
#include "xf.h"

char xf_desc[1024];
int xf_verbose = -1;

/* ---- Entry point ------------------------------------------------------------------------------------------- */

static void describe(const Spec *s, const void *const ptr[B_COUNT])
{
    snprintf(xf_desc, sizeof xf_desc,
             "xent_%s_%s rows=%zu cols=%zu row_stride=%zu grad_stride=%zu target_stride=%zu out_stride=%zu "
             "opts=%s struct_size=%zu reduction=%d threads=%d ignore=%lld smoothing=%g grad_scale=%g "
             "grad=%d lse=%d bias=%d null=0x%x alias=%d inplace=%d guard=%d virtual=%d ptrs=[%p %p %p %p %p %p]",
             fn_names[s->fn], s->f64 ? "f64" : "f32", s->rows, s->cols, s->rstride, s->gstride, s->tstride, s->ostride,
             s->opts_null ? "NULL" : "set", s->struct_size, s->reduction, s->threads, (long long)s->ignore,
             (double)s->smoothing, (double)s->gscale, s->has_grad, s->has_lse, s->has_bias, s->nullmask, s->alias,
             s->inplace, s->guard, s->virt, ptr[0], ptr[1], ptr[2], ptr[3], ptr[4], ptr[5]);
}

static int known_enabled = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    const char *k = getenv("XENT_FUZZ_KNOWN");
    known_enabled = !(k && *k == '0'); /* A and B are fixed (1.1.0): replayed by default */
    const char *v = getenv("XENT_FUZZ_VERBOSE");
    xf_verbose = v ? atoi(v) : 0;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!page_size) LLVMFuzzerInitialize(NULL, NULL);
    if (size > 0 && data[0] >= XF_LINEAR_TAG) {
        xf_linear(data, size);
        return xf_linear_sharded(data, size);
    }
    Rd r = {data, size, 0};
    Spec s;
    decode(&r, &s);
    f64g = s.f64;
    Mem m;
    mem_build(&m, &s, s.alias, s.inplace);
    int expect = expected_status(&s, m.ptr);
    describe(&s, (const void *const *)m.ptr);
    if (xf_verbose)
        fprintf(stderr, "%s\n  expected %d (%s)%s\n", xf_desc, expect, xf_reason, xf_known ? " [known]" : "");
    if (xf_verbose > 1 && !s.virt && s.cols)
        for (size_t i = 0; i < s.rows && i < 64; i++) {
            fprintf(stderr, "  row %zu label %lld:", i, (long long)s.labels[i]);
            for (size_t j = 0; j < s.cols && j < 64; j++) fprintf(stderr, " %.9g", s.x[i * s.cols + j]);
            if (s.fn == F_SOFT || s.fn == F_SOFT_EX) {
                fprintf(stderr, "\n    targets:");
                for (size_t j = 0; j < s.cols && j < 64; j++) fprintf(stderr, " %.9g", s.tgt[i * s.cols + j]);
            }
            fprintf(stderr, "\n");
        }
    /* Virtual shapes: buffers are not really that large; call only when an error is certain before any read. */
    int callable = expect != -1 && !(s.virt && (expect == XENT_OK || expect == XENT_ERR_LABEL_OUT_OF_RANGE));
    if (xf_known && !known_enabled) callable = 0;
    if (callable) {
        mem_snapshot(&m);
        xent_status st = mem_call(&m);
        if (xf_verbose) fprintf(stderr, "  got %d: \"%s\"\n", st, xent_last_error_message());
        if (st != expect)
            FAIL("status %d (\"%s\"), expected %d (%s)", st, xent_last_error_message(), expect, xf_reason);
        mem_check_untouched(&m, st == XENT_OK);
        if (st == XENT_OK) {
            int ce = s.fn <= F_SOFT_EX;
            if (ce) check_ce(&s, &m);
            else check_rowfn(&s, &m);
            Outs base;
            outs_get(&m, &base);
            if (getenv("XENT_FUZZ_NO_VARIANTS")) goto done;
            /* log_softmax against softmax of the same input */
            if (s.fn == F_LOGSM) {
                Spec t = s;
                t.fn = F_SOFTMAX;
                t.ostride = t.cols;
                Outs sm;
                run_variant(&t, 0, 0, &sm, "softmax for log_softmax");
                for (size_t k = 0; k < sm.n[B_LOSS]; k++) {
                    double p = sm.v[B_LOSS][k], l = base.v[B_LOSS][k];
                    if (isnan(p) != isnan(l) || (!isnan(p) && fabs(exp(l) - p) > (s.f64 ? 1e-12 : 2e-6)))
                        FAIL("exp(log_softmax) %.17g vs softmax %.17g at %zu", exp(l), p, k);
                }
                outs_free(&sm);
            }
            /* in place vs out of place */
            int can_inplace =
                ce ? m.ptr[B_GRAD] != NULL && s.gstride == s.rstride : s.fn != F_LSE && s.ostride == s.rstride;
            if (can_inplace && s.rows > 0) {
                Outs o;
                run_variant(&s, 0, !s.inplace, &o, s.inplace ? "out of place" : "in place");
                outs_same(&base, &o, "in place vs out of place");
                outs_free(&o);
            }
            /* thread counts */
            if (ce && s.rows > 0) {
                Spec t = s;
                if (t.opts_null) {
                    t.opts_null = 0, t.struct_size = t.opts_alloc = sizeof(xent_options);
                    t.reduction = XENT_REDUCTION_MEAN, t.ignore = -100, t.smoothing = 0, t.gscale = 1;
                }
                t.threads = s.threads == 1 ? 2 : 1;
                Outs o;
                run_variant(&t, s.alias, s.inplace, &o, "thread variant");
                outs_same(&base, &o, "num_threads variant");
                outs_free(&o);
            }
            /* the 1.1 entry points on the same problem (hard labels) */
            if ((s.fn == F_CE || s.fn == F_CE_EX) && s.rows > 0 && s.cols > 0 && !s.virt) {
                const xent_options *o = (const xent_options *)m.ptr[B_OPTS];
                oracle_shards(&s, o, &base);
                if (!s.f64) oracle_bf16(&s, o);
                oracle_options11(&s);
                oracle_invalid11(&s);
            }
            oracle_options_init();
        done:
            outs_free(&base);
        }
    }
    mem_free(&m);
    free(s.x), free(s.labels), free(s.tgt);
    return 0;
}
