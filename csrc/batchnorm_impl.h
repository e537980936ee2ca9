/* Batch norm for one element type T, included by batchnorm.c once per type (T, SFX,
   and the names BATCHNORM_FORWARD, BATCHNORM_BACKWARD).

   Contract: batchnorm.c's header. x, y, dy, dx (N, C, S) contiguous; per-channel
   vectors (C,). y, mean, invstd, dx, dgamma, dbeta are overwritten; running_mean and
   running_var are updated in place in training. Sums are shifted by a per-channel
   reference (a value of the channel, or its mean) and accumulated in double.
   Loop nests:
     channel_sums_   S == 1: contiguous channel ranges per thread, rows in runs of 64
                     summed in T along C (row_sums_); S > 1: channels over threads,
                     then n, then the S values of the plane (SIMD).
     affine_         the one elementwise pass of both directions: out = (in - sub[c])
                     * mul[c] + add[c] (+ extra[c] * other); rows (S == 1) or (n, c)
                     planes over threads.
   Edges: training needs N*S >= 2 (the unbiased running variance); a negative variance
   from rounding is clamped to 0. */

/* Sums over the rows of (N, C) data for channels [lo, hi): runs of 64 rows are summed
   in T along C (vectorised, restrict pointers), then added to the double totals. */
static void FN(row_sums_)(int mode, const T *restrict x, const T *restrict dy,
                          const double *restrict ref, long n, long c, long lo, long hi,
                          double *restrict s1, double *restrict s2) {
    T p1[256], p2[256], rf[256];
    for (long j0 = lo; j0 < hi; j0 += 256) {
        long len = hi - j0 < 256 ? hi - j0 : 256;
        for (long j = 0; j < len; j++) {
            rf[j] = (T)ref[j0 + j];
            s1[j0 + j] = s2[j0 + j] = 0;
        }
        for (long i0 = 0; i0 < n; i0 += 64) {
            long i1 = n - i0 < 64 ? n : i0 + 64;
            for (long j = 0; j < len; j++) p1[j] = p2[j] = 0;
            for (long i = i0; i < i1; i++) {
                const T *restrict xr = x + i * c + j0;
                if (mode == 0) {
                    for (long j = 0; j < len; j++) {
                        T d = xr[j] - rf[j];
                        p1[j] += d;
                        p2[j] += d * d;
                    }
                } else {
                    const T *restrict dr = dy + i * c + j0;
                    for (long j = 0; j < len; j++) {
                        p1[j] += dr[j];
                        p2[j] += dr[j] * (xr[j] - rf[j]);
                    }
                }
            }
            for (long j = 0; j < len; j++) {
                s1[j0 + j] += p1[j];
                s2[j0 + j] += p2[j];
            }
        }
    }
}

/* The arguments of channel_sums_, shared by the threads' parts. */
typedef struct {
    int mode;
    const T *x, *dy;
    const double *ref;
    long n, c, s;
    double *s1, *s2;
} FN(sums_job_);

/* S == 1: part t of nt sums the contiguous channels [c * t / nt, c * (t + 1) / nt). */
static int FN(row_sums_part_)(void *p, int t, int nt) {
    const FN(sums_job_) *q = p;
    long lo = q->c * t / nt, hi = q->c * (t + 1) / nt;
    FN(row_sums_)(q->mode, q->x, q->dy, q->ref, q->n, q->c, lo, hi, q->s1, q->s2);
    return 0;
}

/* S > 1: channels [lo, hi), then n, then the S values of each plane. */
static int FN(plane_sums_)(void *p, long lo, long hi) {
    const FN(sums_job_) *q = p;
    long n = q->n, c = q->c, s = q->s;
    for (long j = lo; j < hi; j++) {
        double a = 0, b = 0;
        T r = (T)q->ref[j];
        for (long i = 0; i < n; i++) {
            const T *xp = q->x + (i * c + j) * s;
            T pa = 0, pb = 0;
            if (q->mode == 0) {
#pragma omp simd reduction(+ : pa, pb)
                for (long k = 0; k < s; k++) {
                    T d = xp[k] - r;
                    pa += d;
                    pb += d * d;
                }
            } else {
                const T *dp = q->dy + (i * c + j) * s;
#pragma omp simd reduction(+ : pa, pb)
                for (long k = 0; k < s; k++) {
                    pa += dp[k];
                    pb += dp[k] * (xp[k] - r);
                }
            }
            a += pa;
            b += pb;
        }
        q->s1[j] = a;
        q->s2[j] = b;
    }
    return 0;
}

/* Per channel sums over (N, S), shifted by ref[c] for accuracy:
   mode 0: s1 = sum(x - ref), s2 = sum((x - ref)^2)   (mean and variance);
   mode 1: s1 = sum(dy),      s2 = sum(dy * (x - ref)) (dbeta and dgamma / invstd).
   Each plane (or run of 64 rows) is summed in T with SIMD lanes, the runs in double. */
static void FN(channel_sums_)(int mode, const T *x, const T *dy, const double *ref,
                              long n, long c, long s, double *s1, double *s2) {
    FN(sums_job_) q = {mode, x, dy, ref, n, c, s, s1, s2};
    if (s == 1) {   /* (N, C): each thread owns a contiguous range of channels */
        int nt = n * c >= 65536 ? mg_threads_avail() : 1;
        mg_parallel(nt < c ? nt : (int)c, FN(row_sums_part_), &q);
    } else {
        mg_parallel_for(mg_threads_avail(), c, FN(plane_sums_), &q);
    }
}

static void FN(affine_row_)(const T *restrict in, const T *restrict other,
                            T *restrict out, const T *restrict sub, const T *restrict mul,
                            const T *restrict add, const T *restrict extra, long len) {
    if (other)
        for (long j = 0; j < len; j++)
            out[j] = (in[j] - sub[j]) * mul[j] + add[j] + extra[j] * other[j];
    else
        for (long j = 0; j < len; j++) out[j] = (in[j] - sub[j]) * mul[j] + add[j];
}

/* The arguments of affine_, shared by the threads' parts. */
typedef struct {
    const T *in, *other;
    T *out;
    const double *sub, *mul, *add, *extra;
    long n, c, s, j0, len;
    T (*cf)[256];   /* S == 1: the coefficients of channels [j0, j0 + len) in T */
} FN(affine_job_);

/* S == 1: rows [lo, hi) of the block of channels [j0, j0 + len). */
static int FN(affine_rows_)(void *p, long lo, long hi) {
    const FN(affine_job_) *q = p;
    long c = q->c, j0 = q->j0;
    for (long i = lo; i < hi; i++)
        FN(affine_row_)(q->in + i * c + j0, q->other ? q->other + i * c + j0 : NULL,
                        q->out + i * c + j0, q->cf[0], q->cf[1], q->cf[2], q->cf[3], q->len);
    return 0;
}

/* S > 1: the (n, c) planes [lo, hi). */
static int FN(affine_planes_)(void *p, long lo, long hi) {
    const FN(affine_job_) *q = p;
    long c = q->c, s = q->s;
    for (long pl = lo; pl < hi; pl++) {
        long j = pl % c;
        T sb = (T)q->sub[j], ml = (T)q->mul[j], ad = (T)q->add[j];
        T ex = q->extra ? (T)q->extra[j] : 0;
        const T *ip = q->in + pl * s, *op = q->other ? q->other + pl * s : NULL;
        T *o = q->out + pl * s;
        if (op)
#pragma omp simd
            for (long k = 0; k < s; k++) o[k] = (ip[k] - sb) * ml + ad + ex * op[k];
        else
#pragma omp simd
            for (long k = 0; k < s; k++) o[k] = (ip[k] - sb) * ml + ad;
    }
    return 0;
}

/* out = (in - sub[c]) * mul[c] + add[c]  (+ extra[c] * other, when other != NULL):
   the elementwise pass of both directions. */
static void FN(affine_)(const T *in, const T *other, T *out, const double *sub,
                        const double *mul, const double *add, const double *extra,
                        long n, long c, long s) {
    T cf[4][256];           /* the coefficients in T, a block of channels at a time */
    FN(affine_job_) q = {in, other, out, sub, mul, add, extra, n, c, s, 0, 0, cf};
    if (s > 1) {
        mg_parallel_for(mg_threads_avail(), n * c, FN(affine_planes_), &q);
        return;
    }
    int nt = n * c >= 65536 ? mg_threads_avail() : 1;
    for (long j0 = 0; j0 < c; j0 += 256) {
        long len = c - j0 < 256 ? c - j0 : 256;
        for (long j = 0; j < len; j++) {
            cf[0][j] = (T)sub[j0 + j];
            cf[1][j] = (T)mul[j0 + j];
            cf[2][j] = (T)add[j0 + j];
            cf[3][j] = extra ? (T)extra[j0 + j] : 0;
        }
        q.j0 = j0;
        q.len = len;
        mg_parallel_for(nt, n, FN(affine_rows_), &q);
    }
}

/* Positive sizes whose product in bytes, and the 6 per-channel doubles of the
   workspace, fit in a long. */
static int FN(sizes_ok_)(long n, long c, long s) {
    long t;
    return n >= 1 && c >= 1 && s >= 1 && !MG_PRODUCT(&t, n, c, s, (long)sizeof(T)) &&
           !MG_PRODUCT(&t, 6, c, (long)sizeof(double));
}

int BATCHNORM_FORWARD(const T *x, const T *gamma, const T *beta, T *running_mean,
                              T *running_var, int training, double momentum, double eps,
                              T *y, T *mean, T *invstd, long n, long c, long s) {
    if (!FN(sizes_ok_)(n, c, s) || !x || !gamma || !beta || !running_mean ||
        !running_var || !y || !mean || !invstd || (training && n * s < 2) || eps < 0)
        return MG_EINVAL;
    double *buf = mg_workspace(MG_WS_TILE, (size_t)5 * c * sizeof(double));
    if (buf == NULL) return MG_ENOMEM;
    double *ref = buf, *s1 = buf + c, *s2 = buf + 2 * c, *mul = buf + 3 * c,
           *add = buf + 4 * c;
    double count = (double)n * s;
    if (training) {
        for (long j = 0; j < c; j++) ref[j] = x[j * s];   /* shift: a value of channel j */
        FN(channel_sums_)(0, x, NULL, ref, n, c, s, s1, s2);
    }
    for (long j = 0; j < c; j++) {
        double m, v;
        if (training) {
            double d = s1[j] / count;
            m = ref[j] + d;
            v = s2[j] / count - d * d;
            v = v > 0 ? v : 0;
            running_mean[j] = (T)((1 - momentum) * running_mean[j] + momentum * m);
            running_var[j] = (T)((1 - momentum) * running_var[j] +
                                 momentum * v * count / (count - 1));
        } else {
            m = running_mean[j];
            v = running_var[j];
        }
        mean[j] = (T)m;
        invstd[j] = (T)(1.0 / sqrt(v + eps));
        ref[j] = mean[j];
        mul[j] = (double)invstd[j] * gamma[j];
        add[j] = beta[j];
    }
    FN(affine_)(x, NULL, y, ref, mul, add, NULL, n, c, s);
    return 0;
}

int BATCHNORM_BACKWARD(const T *dy, const T *x, const T *gamma, const T *mean,
                               const T *invstd, int training, T *dx, T *dgamma, T *dbeta,
                               long n, long c, long s) {
    if (!FN(sizes_ok_)(n, c, s) || !dy || !x || !gamma || !mean || !invstd || !dx ||
        !dgamma || !dbeta)
        return MG_EINVAL;
    double *buf = mg_workspace(MG_WS_TILE, (size_t)6 * c * sizeof(double));
    if (buf == NULL) return MG_ENOMEM;
    double *ref = buf, *s1 = buf + c, *s2 = buf + 2 * c, *mul = buf + 3 * c,
           *add = buf + 4 * c, *xmul = buf + 5 * c;
    double count = (double)n * s;
    for (long j = 0; j < c; j++) ref[j] = mean[j];
    FN(channel_sums_)(1, x, dy, ref, n, c, s, s1, s2);
    for (long j = 0; j < c; j++) {
        double is = invstd[j], k = gamma[j] * is, db = s1[j], dg = s2[j] * is;
        dbeta[j] = (T)db;
        dgamma[j] = (T)dg;
        /* dx = k*dy + xmul*(x - mean) + add; written as (dy - 0)*k + ... */
        mul[j] = k;
        add[j] = training ? -k * db / count : 0;
        xmul[j] = training ? -k * is * dg / count : 0;
        s1[j] = 0;
    }
    if (training) {
        /* (x - mean) * xmul + add + k * dy */
        FN(affine_)(x, dy, dx, ref, xmul, add, mul, n, c, s);
    } else {
        FN(affine_)(dy, NULL, dx, s1, mul, add, NULL, n, c, s);
    }
    return 0;
}

#undef BATCHNORM_FORWARD
#undef BATCHNORM_BACKWARD
