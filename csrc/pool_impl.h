/* Pooling for one element type, included twice by pool.c (T, SFX). */
#define MG_CAT_(a, b) a##b
#define MG_CAT(a, b) MG_CAT_(a, b)
#define FN(name) MG_CAT(name, SFX)

int FN(mg_maxpool2d_forward_)(const T *x, T *y, int64_t *argmax, long n, long c, long h,
                              long w, long kh, long kw, long sh, long sw) {
    if (!pool_sizes_ok(n, c, h, w, kh, kw, sh, sw) || !x || !y || !argmax)
        return MG_EINVAL;
    long oh = (h - kh) / sh + 1, ow = (w - kw) / sw + 1, planes = n * c;
#pragma omp parallel for schedule(static) num_threads(mg_threads_avail())
    for (long pl = 0; pl < planes; pl++) {
        const T *xp = x + pl * h * w;
        T *yp = y + pl * oh * ow;
        int64_t *ap = argmax + pl * oh * ow;
        for (long i = 0; i < oh; i++)
            for (long j = 0; j < ow; j++) {
                long best_at = i * sh * w + j * sw;
                T best = xp[best_at];
                for (long a = 0; a < kh; a++) {
                    const T *row = xp + (i * sh + a) * w + j * sw;
                    for (long b = 0; b < kw; b++) {
                        T v = row[b];
                        /* strict > keeps the first maximum; once best is NaN nothing
                           replaces it, and a NaN replaces any number */
                        if (v > best || (v != v && best == best)) {
                            best = v;
                            best_at = (i * sh + a) * w + j * sw + b;
                        }
                    }
                }
                yp[i * ow + j] = best;
                ap[i * ow + j] = best_at;
            }
    }
    return 0;
}

int FN(mg_maxpool2d_backward_)(const T *dy, const int64_t *argmax, T *dx, long n, long c,
                               long h, long w, long oh, long ow) {
    if (n < 1 || c < 1 || h < 1 || w < 1 || oh < 1 || ow < 1 || !dy || !argmax || !dx)
        return MG_EINVAL;
    long planes = n * c, per = oh * ow, bad = 0;
    for (long i = 0; i < planes * per; i++) bad |= argmax[i] < 0 || argmax[i] >= h * w;
    if (bad) return MG_EINVAL;
#pragma omp parallel for schedule(static) num_threads(mg_threads_avail())
    for (long pl = 0; pl < planes; pl++) {
        T *dxp = dx + pl * h * w;
        const T *dyp = dy + pl * per;
        const int64_t *ap = argmax + pl * per;
        memset(dxp, 0, (size_t)h * w * sizeof(T));
        for (long i = 0; i < per; i++) dxp[ap[i]] += dyp[i];
    }
    return 0;
}

int FN(mg_avgpool2d_forward_)(const T *x, T *y, long n, long c, long h, long w, long kh,
                              long kw, long sh, long sw) {
    if (!pool_sizes_ok(n, c, h, w, kh, kw, sh, sw) || !x || !y) return MG_EINVAL;
    long oh = (h - kh) / sh + 1, ow = (w - kw) / sw + 1, planes = n * c;
    T count = (T)(kh * kw);
#pragma omp parallel for schedule(static) num_threads(mg_threads_avail())
    for (long pl = 0; pl < planes; pl++) {
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

int FN(mg_avgpool2d_backward_)(const T *dy, T *dx, long n, long c, long h, long w, long kh,
                               long kw, long sh, long sw) {
    if (!pool_sizes_ok(n, c, h, w, kh, kw, sh, sw) || !dy || !dx) return MG_EINVAL;
    long oh = (h - kh) / sh + 1, ow = (w - kw) / sw + 1, planes = n * c;
    T count = (T)(kh * kw);
#pragma omp parallel for schedule(static) num_threads(mg_threads_avail())
    for (long pl = 0; pl < planes; pl++) {
        T *dxp = dx + pl * h * w;
        const T *dyp = dy + pl * oh * ow;
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

#undef FN
#undef MG_CAT
#undef MG_CAT_
