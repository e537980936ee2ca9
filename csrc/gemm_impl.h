/* The GEMM driver for one element type T, included by gemm.c once per type.
   Template parameters: T, SFX (f32/f64), MR NR (micro-tile), MC KC NC (cache blocks),
   UKR (the micro-kernel, see gemm.c), and the names GEMM, GEMM_BATCH, GEMM_SERIAL,
   GEMM_THREADED, GEMM_IMPLICIT_B, GEMM_PACKED_AB, GEMM_PACK_A, GEMM_PACKED_A_LEN
   (mg_gemm_f32 ...).
   Contract: gemm.c's header. C = alpha * op(A) @ op(B) + beta * C, row-major with row
   strides; C overwritten (never read) when beta == 0, else scaled and accumulated
   into; only the (m, n) window of C is touched; partial tiles are zero-padded in the
   packed panels and written back through a local tile. The implicit B of a conv is
   packed from an image through tap offsets (pack_b_implicit_).
   Loop order and blocking follow BLIS:
     jc (NC columns of C; the packed B block lives in L3)
       pc (KC of the reduction; B packed once per (jc, pc) into NR-column panels)
         ic (MC rows; A packed into MR-row panels, the block stays in L2)
           jr, ir: one MR x NR tile of C per micro-kernel call, the B micro-panel in L1. */

/* Packs the mc x kc block of op(A) at `a` into MR-row panels, p-major inside a panel,
   scaled by alpha, zero-padding the last panel so the micro-kernel never branches. */
static void FN(pack_a_)(long mc, long kc, const T *a, long lda, int ta, T alpha,
                        T *restrict out) {
    for (long i0 = 0; i0 < mc; i0 += MR, out += MR * kc) {
        long mr = mc - i0 < MR ? mc - i0 : MR;
        if (ta) {           /* op(A)(i, p) = a[p * lda + i]: MR contiguous values per p */
            for (long p = 0; p < kc; p++) {
                const T *src = a + p * lda + i0;
                long i = 0;
                for (; i < mr; i++) out[p * MR + i] = alpha * src[i];
                for (; i < MR; i++) out[p * MR + i] = 0;
            }
        } else {            /* op(A)(i, p) = a[i * lda + p]: one row stream per i */
#ifdef MG_PACK_T_F32
            if (sizeof(T) == sizeof(float) && alpha == 1) {
                const T *rows[MR];
                for (long i = 0; i < mr; i++) rows[i] = a + (i0 + i) * lda;
                MG_PACK_T_F32(kc, (int)mr, MR, (const float *const *)rows, (float *)out);
                continue;
            }
#endif
            for (long i = 0; i < mr; i++) {
                const T *src = a + (i0 + i) * lda;
                for (long p = 0; p < kc; p++) out[p * MR + i] = alpha * src[p];
            }
            for (long i = mr; i < MR; i++)
                for (long p = 0; p < kc; p++) out[p * MR + i] = 0;
        }
    }
}

/* One NR-column panel whose nr columns are rows in memory: out[p*NR + j] = rows[j][p],
   zeros past nr (the B of x @ W.T, or the implicit B of a conv's dW). */
static void FN(pack_panel_t_)(long kc, long nr, const T *const *rows, T *restrict out) {
#ifdef MG_PACK_T_F32
    if (sizeof(T) == sizeof(float)) {
        MG_PACK_T_F32(kc, (int)nr, NR, (const float *const *)rows, (float *)out);
        return;
    }
#endif
    for (long j = 0; j < nr; j++)
        for (long p = 0; p < kc; p++) out[p * NR + j] = rows[j][p];
    for (long j = nr; j < NR; j++)
        for (long p = 0; p < kc; p++) out[p * NR + j] = 0;
}

/* Packs the kc x nc block of op(B) at `b` into NR-column panels, zero-padded. */
static void FN(pack_b_)(long kc, long nc, const T *b, long ldb, int tb, T *restrict out) {
    for (long j0 = 0; j0 < nc; j0 += NR, out += NR * kc) {
        long nr = nc - j0 < NR ? nc - j0 : NR;
        if (!tb && nr == NR) {      /* op(B)(p, j) = b[p * ldb + j] */
            for (long p = 0; p < kc; p++) {
                const T *src = b + p * ldb + j0;
                for (long j = 0; j < NR; j++) out[p * NR + j] = src[j];
            }
        } else if (!tb) {
            for (long p = 0; p < kc; p++) {
                const T *src = b + p * ldb + j0;
                long j = 0;
                for (; j < nr; j++) out[p * NR + j] = src[j];
                for (; j < NR; j++) out[p * NR + j] = 0;
            }
        } else {                    /* op(B)(p, j) = b[j * ldb + p] */
            const T *rows[NR];
            for (long j = 0; j < nr; j++) rows[j] = b + (j0 + j) * ldb;
            FN(pack_panel_t_)(kc, nr, rows, out);
        }
    }
}

/* C[mc x nc] = beta * C + Ap @ Bp over packed panels; edge tiles go through a local
   tile so the micro-kernel always runs full-size and C is touched only where valid. */
static void FN(macro_)(long mc, long nc, long kc, const T *ap, const T *bp, T *c,
                       long ldc, T beta) {
    T tile[MR * NR] __attribute__((aligned(64)));
    for (long j0 = 0; j0 < nc; j0 += NR) {
        long nr = nc - j0 < NR ? nc - j0 : NR;
        const T *b = bp + j0 * kc;
        for (long i0 = 0; i0 < mc; i0 += MR) {
            long mr = mc - i0 < MR ? mc - i0 : MR;
            const T *a = ap + i0 * kc;
            T *cij = c + i0 * ldc + j0;
            if (mr == MR && nr == NR) {
                UKR(kc, a, b, cij, ldc, beta);
                continue;
            }
            UKR(kc, a, b, tile, NR, (T)0);
            for (long i = 0; i < mr; i++)
                for (long j = 0; j < nr; j++)
                    cij[i * ldc + j] = beta == 0 ? tile[i * NR + j]
                                                 : beta * cij[i * ldc + j] + tile[i * NR + j];
        }
    }
}

static void FN(scale_)(long m, long n, T beta, T *c, long ldc) {
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
}

static long FN(round_up_)(long x, long r) { return (x + r - 1) / r * r; }

/* Packs a kc x nc block of an implicit B read from an image: B(p, j) = src[koff[p] + j]
   (tb = 0) or src[koff[j] + p] (tb = 1), koff and src already offset to the block.
   This is the im2col matrix of a stride-1 convolution taken straight from the
   zero-padded image (csrc/conv2d.c), so the matrix itself is never written. */
MG_NO_MEMCPY_CALLS
static void FN(pack_b_implicit_)(int tb, long kc, long nc, const T *src, const long *koff,
                                 T *restrict out) {
    for (long j0 = 0; j0 < nc; j0 += NR, out += NR * kc) {
        long nr = nc - j0 < NR ? nc - j0 : NR;
        if (!tb) {
            for (long p = 0; p < kc; p++) {
                const T *s = src + koff[p] + j0;
                long j = 0;
                for (; j < nr; j++) out[p * NR + j] = s[j];
                for (; j < NR; j++) out[p * NR + j] = 0;
            }
        } else {
            const T *rows[NR];
            for (long j = 0; j < nr; j++) rows[j] = src + koff[j0 + j];
            FN(pack_panel_t_)(kc, nr, rows, out);
        }
    }
}

/* The BLIS loops over one thread's C. B is op(b) (ldb, tb), or with koff != NULL the
   implicit B of an image (see pack_b_implicit_; b is then the image, ldb unused). */
static int FN(gemm_blocked_)(int ta, int tb, long m, long n, long k, T alpha, const T *a,
                             long lda, const T *b, long ldb, const long *koff, T beta,
                             T *c, long ldc) {
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0 || alpha == 0) {
        FN(scale_)(m, n, beta, c, ldc);
        return 0;
    }
    /* Equal blocks instead of full blocks plus a sliver: k = 300 runs as 2 x 150. */
    long kb = (k + KC - 1) / KC, kcb = (k + kb - 1) / kb;
    long mb = (m + MC - 1) / MC, mcb = FN(round_up_)((m + mb - 1) / mb, MR);
    long nb = (n + NC - 1) / NC, ncb = FN(round_up_)((n + nb - 1) / nb, NR);
    T *ap = mg_workspace(MG_WS_PACK_A, (size_t)mcb * kcb * sizeof(T));
    T *bp = mg_workspace(MG_WS_PACK_B, (size_t)ncb * kcb * sizeof(T));
    if (ap == NULL || bp == NULL) return MG_ENOMEM;
    for (long jc = 0; jc < n; jc += ncb) {
        long nc = n - jc < ncb ? n - jc : ncb;
        for (long pc = 0; pc < k; pc += kcb) {
            long kc = k - pc < kcb ? k - pc : kcb;
            T bet = pc == 0 ? beta : (T)1;   /* later k blocks accumulate */
            if (koff != NULL)
                FN(pack_b_implicit_)(tb, kc, nc, tb ? b + pc : b + jc,
                                     tb ? koff + jc : koff + pc, bp);
            else
                FN(pack_b_)(kc, nc, tb ? b + jc * ldb + pc : b + pc * ldb + jc, ldb, tb,
                            bp);
            for (long ic = 0; ic < m; ic += mcb) {
                long mc = m - ic < mcb ? m - ic : mcb;
                FN(pack_a_)(mc, kc, ta ? a + pc * lda + ic : a + ic * lda + pc, lda, ta,
                            alpha, ap);
                FN(macro_)(mc, nc, kc, ap, bp, c + ic * ldc + jc, ldc, bet);
            }
        }
    }
    return 0;
}

int GEMM_SERIAL(int ta, int tb, long m, long n, long k, T alpha, const T *a,
                        long lda, const T *b, long ldb, T beta, T *c, long ldc) {
    return FN(gemm_blocked_)(ta, tb, m, n, k, alpha, a, lda, b, ldb, NULL, beta, c, ldc);
}

int GEMM_IMPLICIT_B(int tb, long m, long n, long k, const T *a, long lda,
                            const T *src, const long *koff, T beta, T *c, long ldc) {
    return FN(gemm_blocked_)(0, tb, m, n, k, (T)1, a, lda, src, 0, koff, beta, c, ldc);
}

long GEMM_PACKED_A_LEN(long m, long k) {
    return m < 0 || k < 0 || k > KC ? -1 : FN(round_up_)(m, MR) * k;
}

void GEMM_PACK_A(long m, long k, const T *a, long lda, T *out) {
    FN(pack_a_)(m, k, a, lda, 0, (T)1, out);
}

/* Both operands already packed, so only the macro-kernel runs: panel i of A at
   pa + i*MR*k, panel j of B at pb + j*NR*k. B is one block (the caller sizes it for
   the cache); A is walked in the MC-row blocks gemm_blocked_ would use. */
int GEMM_PACKED_AB(long m, long n, long k, const T *pa, const T *pb, T beta, T *c,
                   long ldc) {
    if (GEMM_PACKED_A_LEN(m, k) < 0 || n < 0) return MG_EINVAL;
    if (m == 0 || n == 0) return 0;
    if (k == 0) {
        FN(scale_)(m, n, beta, c, ldc);
        return 0;
    }
    long mb = (m + MC - 1) / MC, mcb = FN(round_up_)((m + mb - 1) / mb, MR);
    for (long ic = 0; ic < m; ic += mcb) {
        long mc = m - ic < mcb ? m - ic : mcb;
        FN(macro_)(mc, n, k, pa + ic * k, pb, c + ic * ldc, ldc, beta);
    }
    return 0;
}

/* Splits C between nt threads along one side in whole micro-tiles, balanced to within
   one tile; each thread runs the serial GEMM on its strip with its own packing
   buffers, so there is no barrier. The operand along the other side is packed by every
   thread, so the side is chosen to duplicate the smaller one: columns (each thread packs
   all of op(A), m*k) when m <= n, rows (each packs op(B), k*n) otherwise, unless that
   side has fewer tiles than threads. Below MG_GEMM_PAR_MIN multiply-adds (gemm.c) the
   parallel job costs more than it saves and the product stays on the caller. */

/* The arguments of a threaded or batched GEMM, shared by its parts. */
typedef struct {
    int ta, tb, by_rows;
    long m, n, k, tiles, step, len, lda, ldb, ldc, stride_a, stride_b, stride_c;
    T alpha, beta;
    const T *a, *b;
    T *c;
} FN(gemm_job_);

/* Part t of nt: the strip of whole tiles [t * tiles / nt, (t + 1) * tiles / nt). */
static int FN(gemm_strip_)(void *p, int t, int nt) {
    const FN(gemm_job_) *j = p;
    long lo = t * j->tiles / nt * j->step, hi = (t + 1) * j->tiles / nt * j->step;
    if (hi > j->len) hi = j->len;
    if (lo >= hi) return 0;
    if (j->by_rows)
        return GEMM_SERIAL(j->ta, j->tb, hi - lo, j->n, j->k, j->alpha,
                           j->ta ? j->a + lo : j->a + lo * j->lda, j->lda, j->b, j->ldb,
                           j->beta, j->c + lo * j->ldc, j->ldc);
    return GEMM_SERIAL(j->ta, j->tb, j->m, hi - lo, j->k, j->alpha, j->a, j->lda,
                       j->tb ? j->b + lo * j->ldb : j->b + lo, j->ldb, j->beta, j->c + lo,
                       j->ldc);
}

int GEMM_THREADED(int nt, int ta, int tb, long m, long n, long k, T alpha,
                          const T *a, long lda, const T *b, long ldb, T beta, T *c,
                          long ldc) {
    long mt = (m + MR - 1) / MR, ntl = (n + NR - 1) / NR;
    int by_rows = (m > n && mt >= nt) || ntl < nt;
    long tiles = by_rows ? mt : ntl, step = by_rows ? MR : NR, len = by_rows ? m : n;
    if (nt > tiles) nt = (int)tiles;
    if (nt <= 1 || (double)m * n * k < MG_GEMM_PAR_MIN)
        return GEMM_SERIAL(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    FN(gemm_job_) j = {.ta = ta, .tb = tb, .by_rows = by_rows, .m = m, .n = n, .k = k,
                       .tiles = tiles, .step = step, .len = len, .lda = lda, .ldb = ldb,
                       .ldc = ldc, .alpha = alpha, .beta = beta, .a = a, .b = b, .c = c};
    return mg_parallel(nt, FN(gemm_strip_), &j) ? MG_ENOMEM : 0;
}

/* Whole products [lo, hi) of a batch, each on one thread. */
static int FN(gemm_products_)(void *p, long lo, long hi) {
    const FN(gemm_job_) *j = p;
    int err = 0;
    for (long i = lo; i < hi && !err; i++)
        err = GEMM_SERIAL(j->ta, j->tb, j->m, j->n, j->k, j->alpha, j->a + i * j->stride_a,
                          j->lda, j->b + i * j->stride_b, j->ldb, j->beta,
                          j->c + i * j->stride_c, j->ldc);
    return err;
}

/* MG_EINVAL for negative sizes, row strides shorter than a row, NULL operands, or an
   operand whose extent in bytes (rows * row stride) does not fit in a long. */
static int FN(check_)(int ta, int tb, long m, long n, long k, const T *a, long lda,
                      const T *b, long ldb, const T *c, long ldc) {
    long t, e = (long)sizeof(T);
    if (m < 0 || n < 0 || k < 0) return MG_EINVAL;
    if (ldc < (n > 1 ? n : 1) || lda < ((ta ? m : k) > 1 ? (ta ? m : k) : 1) ||
        ldb < ((tb ? k : n) > 1 ? (tb ? k : n) : 1))
        return MG_EINVAL;
    if (MG_PRODUCT(&t, ta ? k : m, lda, e) || MG_PRODUCT(&t, tb ? n : k, ldb, e) ||
        MG_PRODUCT(&t, m, ldc, e))
        return MG_EINVAL;
    if ((m && n && c == NULL) || (m && n && k && (a == NULL || b == NULL)))
        return MG_EINVAL;
    return 0;
}

int GEMM(int trans_a, int trans_b, long m, long n, long k, T alpha, const T *a,
                 long lda, const T *b, long ldb, T beta, T *c, long ldc) {
    int err = FN(check_)(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    if (err) return err;
    return GEMM_THREADED(mg_threads_avail(), trans_a, trans_b, m, n, k, alpha, a,
                                 lda, b, ldb, beta, c, ldc);
}

int GEMM_BATCH(int trans_a, int trans_b, long batch, long m, long n, long k,
                       T alpha, const T *a, long lda, long stride_a, const T *b, long ldb,
                       long stride_b, T beta, T *c, long ldc, long stride_c) {
    int err = FN(check_)(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    long t, e = (long)sizeof(T);
    if (err || batch < 0 || stride_a < 0 || stride_b < 0 || stride_c < 0 ||
        MG_PRODUCT(&t, batch, stride_a, e) || MG_PRODUCT(&t, batch, stride_b, e) ||
        MG_PRODUCT(&t, batch, stride_c, e))
        return MG_EINVAL;
    int nt = mg_threads_avail();
    /* Many small products: one whole product per thread beats splitting each one. */
    if (nt > 1 && batch >= nt && (double)m * n * k < 4194304.0) {
        FN(gemm_job_) j = {.ta = trans_a, .tb = trans_b, .m = m, .n = n, .k = k,
                           .lda = lda, .ldb = ldb, .ldc = ldc, .stride_a = stride_a,
                           .stride_b = stride_b, .stride_c = stride_c, .alpha = alpha,
                           .beta = beta, .a = a, .b = b, .c = c};
        return mg_parallel_for(nt, batch, FN(gemm_products_), &j) ? MG_ENOMEM : 0;
    }
    for (long i = 0; i < batch && !err; i++)
        err = GEMM_THREADED(nt, trans_a, trans_b, m, n, k, alpha, a + i * stride_a,
                                    lda, b + i * stride_b, ldb, beta, c + i * stride_c, ldc);
    return err;
}

#undef GEMM
#undef GEMM_BATCH
#undef GEMM_SERIAL
#undef GEMM_THREADED
#undef GEMM_IMPLICIT_B
#undef GEMM_PACKED_AB
#undef GEMM_PACK_A
#undef GEMM_PACKED_A_LEN
