/* Max and average pooling for one element type T, included by pool.c once per type
   (T, SFX, and the names MAXPOOL2D_FORWARD, MAXPOOL2D_BACKWARD, AVGPOOL2D_FORWARD,
   AVGPOOL2D_BACKWARD).

   Contract: pool.c's header. x/dx (N, C, H, W), y/dy/argmax (N, C, OH, OW), contiguous;
   no padding, floor mode, so every window lies inside its plane and needs no bounds
   test. y, argmax and dx are overwritten (dx zeroed, then accumulated into where
   windows overlap).
   Loop nest: (n, c) planes over the pool's threads; in a plane, outputs (i, j) row-major,
   then the window (a, b) row-major, which fixes the first-maximum rule. Fast paths per
   plane: 2x2 stride 2 (AVX2 in pool.c, or maxpool_2x2_plane_), and for backward,
   windows that tile the plane (each input written once, no memset). */

/* The common 2x2 window, stride 2, with the same first-maximum / NaN rule written as
   straight-line selects the compiler can vectorise along the row. */
static void FN(maxpool_2x2_plane_)(const T *xp, T *yp, int64_t *ap, long w, long oh,
                                   long ow) {
    for (long i = 0; i < oh; i++) {
        const T *r0 = xp + 2 * i * w, *r1 = r0 + w;
        for (long j = 0; j < ow; j++) {
            T v0 = r0[2 * j], v1 = r0[2 * j + 1], v2 = r1[2 * j], v3 = r1[2 * j + 1];
            T best = v0;
            long at = 0;
            int t = (v1 > best) | ((v1 != v1) & (best == best));
            best = t ? v1 : best;
            at = t ? 1 : at;
            t = (v2 > best) | ((v2 != v2) & (best == best));
            best = t ? v2 : best;
            at = t ? w : at;
            t = (v3 > best) | ((v3 != v3) & (best == best));
            best = t ? v3 : best;
            at = t ? w + 1 : at;
            yp[i * ow + j] = best;
            ap[i * ow + j] = 2 * i * w + 2 * j + at;
        }
    }
}

/* The arguments of a pooling kernel, shared by the threads' parts. */
typedef struct {
    const T *x, *dy;
    T *y, *dx;
    const int64_t *am_in;
    int64_t *am_out;
    long h, w, kh, kw, sh, sw, oh, ow;
} FN(pool_job_);

/* The planes [lo, hi) of a max pool forward, on this thread. */
static int FN(maxpool_planes_)(void *p, long lo, long hi) {
    const FN(pool_job_) *q = p;
    const T *x = q->x;
    T *y = q->y;
    int64_t *argmax = q->am_out;
    long h = q->h, w = q->w, kh = q->kh, kw = q->kw, sh = q->sh, sw = q->sw;
    long oh = q->oh, ow = q->ow;
    for (long pl = lo; pl < hi; pl++) {
        const T *xp = x + pl * h * w;
        T *yp = y + pl * oh * ow;
        int64_t *ap = argmax + pl * oh * ow;
        if (kh == 2 && kw == 2 && sh == 2 && sw == 2) {
#ifdef MG_MAXPOOL_2X2_F32
            if (sizeof(T) == sizeof(float) && w < MG_AVX2_MAX_W) {
                MG_MAXPOOL_2X2_F32((const float *)xp, (float *)yp, ap, w, oh, ow);
                continue;
            }
#endif
            FN(maxpool_2x2_plane_)(xp, yp, ap, w, oh, ow);
            continue;
        }
        for (long i = 0; i < oh; i++)
            for (long j = 0; j < ow; j++) {
                long best_at = i * sh * w + j * sw;
                T best = xp[best_at];
                for (long a = 0; a < kh; a++) {
                    const T *row = xp + (i * sh + a) * w + j * sw;
                    for (long b = 0; b < kw; b++) {
                        T v = row[b];
                        /* strict > keeps the first maximum; once best is NaN nothing
                           replaces it, and a NaN replaces any number. Selects, not
                           branches: which element wins is random, a branch would
                           mispredict half the time. */
                        int take = (v > best) | ((v != v) & (best == best));
                        best = take ? v : best;
                        best_at = take ? (i * sh + a) * w + j * sw + b : best_at;
                    }
                }
                yp[i * ow + j] = best;
                ap[i * ow + j] = best_at;
            }
    }
    return 0;
}

int MAXPOOL2D_FORWARD(const T *x, T *y, int64_t *argmax, long n, long c, long h,
                              long w, long kh, long kw, long sh, long sw) {
    if (!pool_sizes_ok(n, c, h, w, kh, kw, sh, sw) || !x || !y || !argmax)
        return MG_EINVAL;
    long oh = (h - kh) / sh + 1, ow = (w - kw) / sw + 1, planes = n * c;
    FN(pool_job_) q = {.x = x, .y = y, .am_out = argmax, .h = h, .w = w, .kh = kh, .kw = kw,
                       .sh = sh, .sw = sw, .oh = oh, .ow = ow};
    return mg_parallel_for(mg_threads_avail(), planes, FN(maxpool_planes_), &q);
}

/* When the windows tile the plane exactly (kernel == stride, no remainder), every
   input belongs to one window and dx is written in one pass, without a memset.
   Returns 0 when some argmax lies outside its own window (then the caller takes the
   general path for this plane). */
static int FN(maxpool_tiled_plane_)(const T *dyp, const int64_t *ap, T *dxp, long w,
                                    long oh, long ow, long k_h, long k_w) {
    for (long i = 0; i < oh; i++)
        for (long j = 0; j < ow; j++) {
            long at = ap[i * ow + j], found = 0;
            T g = dyp[i * ow + j];
            for (long a = 0; a < k_h; a++)
                for (long b = 0; b < k_w; b++) {
                    long pos = (i * k_h + a) * w + j * k_w + b;
                    dxp[pos] = pos == at ? g : 0;
                    found |= pos == at;
                }
            if (!found) return 0;
        }
    return 1;
}

/* The planes [lo, hi) of a max pool backward, on this thread; MG_EINVAL for an argmax
   outside its plane. */
static int FN(maxpool_bwd_planes_)(void *p, long lo, long hi) {
    const FN(pool_job_) *q = p;
    const T *dy = q->dy;
    T *dx = q->dx;
    const int64_t *argmax = q->am_in;
    long h = q->h, w = q->w, oh = q->oh, ow = q->ow, per = oh * ow;
    /* Windows of kernel = stride tile the plane when h, w are multiples of oh, ow. */
    long k_h = h % oh == 0 ? h / oh : 0, k_w = w % ow == 0 ? w / ow : 0;
    uint64_t size = (uint64_t)(h * w);
    int bad = 0;
    for (long pl = lo; pl < hi; pl++) {
        T *dxp = dx + pl * h * w;
        const T *dyp = dy + pl * per;
        const int64_t *ap = argmax + pl * per;
#ifdef MG_MAXPOOL_2X2_BWD_F32
        if (sizeof(T) == sizeof(float) && k_h == 2 && k_w == 2 && w < MG_AVX2_MAX_W &&
            MG_MAXPOOL_2X2_BWD_F32((const float *)dyp, ap, (float *)dxp, w, oh, ow))
            continue;
#endif
        if (k_h && k_w && FN(maxpool_tiled_plane_)(dyp, ap, dxp, w, oh, ow, k_h, k_w))
            continue;
        /* The fast paths above accept only indices inside their own windows; this one
           takes any index, so check this plane's (cache-hot) before scattering. */
        uint64_t out = 0;
        for (long i = 0; i < per; i++) out |= (uint64_t)ap[i] >= size; /* < 0 too */
        if (out) {
            bad = 1;
            continue;
        }
        memset(dxp, 0, (size_t)h * w * sizeof(T));
        for (long i = 0; i < per; i++) dxp[ap[i]] += dyp[i];
    }
    return bad ? MG_EINVAL : 0;
}

int MAXPOOL2D_BACKWARD(const T *dy, const int64_t *argmax, T *dx, long n, long c,
                               long h, long w, long oh, long ow) {
    long t;
    if (n < 1 || c < 1 || h < 1 || w < 1 || oh < 1 || ow < 1 || !dy || !argmax || !dx ||
        MG_PRODUCT(&t, n, c, h, w, (long)sizeof(double)) ||
        MG_PRODUCT(&t, n, c, oh, ow, (long)sizeof(int64_t)))
        return MG_EINVAL;
    FN(pool_job_) q = {.dy = dy, .dx = dx, .am_in = argmax, .h = h, .w = w, .oh = oh,
                       .ow = ow};
    return mg_parallel_for(mg_threads_avail(), n * c, FN(maxpool_bwd_planes_), &q);
}

/* The planes [lo, hi) of an average pool forward, on this thread. */
static int FN(avgpool_planes_)(void *p, long lo, long hi) {
    const FN(pool_job_) *q = p;
    const T *x = q->x;
    T *y = q->y;
    long h = q->h, w = q->w, kh = q->kh, kw = q->kw, sh = q->sh, sw = q->sw;
    long oh = q->oh, ow = q->ow;
    T count = (T)(kh * kw);
    for (long pl = lo; pl < hi; pl++) {
        const T *xp = x + pl * h * w;
        T *yp = y + pl * oh * ow;
        for (long i = 0; i < oh; i++)
            for (long j = 0; j < ow; j++) {
                T s = 0;
                for (long a = 0; a < kh; a++) {
                    const T *row = xp + (i * sh + a) * w + j * sw;
                    for (long b = 0; b < kw; b++) s += row[b];
                }
                yp[i * ow + j] = s / count;
            }
    }
    return 0;
}

int AVGPOOL2D_FORWARD(const T *x, T *y, long n, long c, long h, long w, long kh,
                              long kw, long sh, long sw) {
    if (!pool_sizes_ok(n, c, h, w, kh, kw, sh, sw) || !x || !y) return MG_EINVAL;
    long oh = (h - kh) / sh + 1, ow = (w - kw) / sw + 1, planes = n * c;
    FN(pool_job_) q = {.x = x, .y = y, .h = h, .w = w, .kh = kh, .kw = kw, .sh = sh,
                       .sw = sw, .oh = oh, .ow = ow};
    return mg_parallel_for(mg_threads_avail(), planes, FN(avgpool_planes_), &q);
}

/* The planes [lo, hi) of an average pool backward, on this thread. */
static int FN(avgpool_bwd_planes_)(void *p, long lo, long hi) {
    const FN(pool_job_) *q = p;
    const T *dy = q->dy;
    T *dx = q->dx;
    long h = q->h, w = q->w, kh = q->kh, kw = q->kw, sh = q->sh, sw = q->sw;
    long oh = q->oh, ow = q->ow;
    T count = (T)(kh * kw);
    for (long pl = lo; pl < hi; pl++) {
        T *dxp = dx + pl * h * w;
        const T *dyp = dy + pl * oh * ow;
        if (kh == sh && kw == sw && h == oh * sh && w == ow * sw) {
            /* windows tile the plane: each input written once, no memset */
            for (long i = 0; i < oh; i++)
                for (long a = 0; a < kh; a++)
                    for (long j = 0; j < ow; j++) {
                        T g = dyp[i * ow + j] / count;
                        for (long b = 0; b < kw; b++) dxp[(i * sh + a) * w + j * sw + b] = g;
                    }
            continue;
        }
        memset(dxp, 0, (size_t)h * w * sizeof(T));
        for (long i = 0; i < oh; i++)
            for (long j = 0; j < ow; j++) {
                T g = dyp[i * ow + j] / count;
                for (long a = 0; a < kh; a++) {
                    T *row = dxp + (i * sh + a) * w + j * sw;
                    for (long b = 0; b < kw; b++) row[b] += g;
                }
            }
    }
    return 0;
}

int AVGPOOL2D_BACKWARD(const T *dy, T *dx, long n, long c, long h, long w, long kh,
                               long kw, long sh, long sw) {
    if (!pool_sizes_ok(n, c, h, w, kh, kw, sh, sw) || !dy || !dx) return MG_EINVAL;
    long oh = (h - kh) / sh + 1, ow = (w - kw) / sw + 1, planes = n * c;
    FN(pool_job_) q = {.dy = dy, .dx = dx, .h = h, .w = w, .kh = kh, .kw = kw, .sh = sh,
                       .sw = sw, .oh = oh, .ow = ow};
    return mg_parallel_for(mg_threads_avail(), planes, FN(avgpool_bwd_planes_), &q);
}

#undef MAXPOOL2D_FORWARD
#undef MAXPOOL2D_BACKWARD
#undef AVGPOOL2D_FORWARD
#undef AVGPOOL2D_BACKWARD
