/* The direct conv2d kernels for one element type T, included by conv2d.c once per
   type before conv2d_impl.h (T and SFX defined). Both work from the zero-padded image
   xp (pad_image_) of one image, stride 1 and few taps (C*KH*KW <= MG_DIRECT_TAPS): with
   K = C*KH*KW tiny, a GEMM spends its time packing and storing tiles (forward), or
   multiplies a sliver of one NR-column panel (dW: F x K with K = 9 on a first layer). */

/* Filters per pass of forward_direct_: each load of the image feeds four of them. */
#define FWD_FILTERS 4

/* acc[k][0:DB] += sum over taps of w_k[tap] * xr[koff[tap] + 0:DB], k < FWD_FILTERS.
   Inlined with taps = 9 as a constant (3x3 on one channel), the loops unroll and the
   accumulators stay in registers. */
static inline __attribute__((always_inline)) void FN(fwd_block_)(
        long taps, const long *koff, const T *xr, const T *const *wk,
        T acc[FWD_FILTERS][DB]) {
    for (long t = 0; t < taps; t++) {
        const T *x = xr + koff[t];
        for (int k = 0; k < FWD_FILTERS; k++) {
            T v = wk[k][t];
            for (int q = 0; q < DB; q++) acc[k][q] += v * x[q];
        }
    }
}

/* y[f] = b[f] + sum over taps of w[f, tap] * shifted xp: FWD_FILTERS filters and DB
   outputs of a row at a time held in registers. */
MG_NO_MEMCPY_CALLS
static void FN(forward_direct_)(const conv_dims *d, const T *xp, const T *w, const T *b,
                                T *y) {
    long wp = d->w + 2 * d->pw, oh_n = d->oh, ow_n = d->ow, ohw = oh_n * ow_n;
    long taps = d->c * d->kh * d->kw, koff[MG_DIRECT_TAPS];
    tap_offsets(d, koff);
    for (long f0 = 0; f0 < d->f; f0 += FWD_FILTERS) {
        long nf = d->f - f0 < FWD_FILTERS ? d->f - f0 : FWD_FILTERS;
        const T *wk[FWD_FILTERS];   /* past the last filter: the last one again, unused */
        T bk[FWD_FILTERS];
        for (int k = 0; k < FWD_FILTERS; k++) {
            long f = k < nf ? f0 + k : f0 + nf - 1;
            wk[k] = w + f * taps, bk[k] = b ? b[f] : 0;
        }
        for (long oh = 0; oh < oh_n; oh++)
            for (long o0 = 0; o0 < ow_n; o0 += DB) {
                T acc[FWD_FILTERS][DB];
                for (int k = 0; k < FWD_FILTERS; k++)
                    for (int q = 0; q < DB; q++) acc[k][q] = bk[k];
                const T *xr = xp + oh * wp + o0;
                if (taps == 9)
                    FN(fwd_block_)(9, koff, xr, wk, acc);
                else
                    FN(fwd_block_)(taps, koff, xr, wk, acc);
                long len = ow_n - o0 < DB ? ow_n - o0 : DB;
                for (long k = 0; k < nf; k++) {
                    T *dst = y + (f0 + k) * ohw + oh * ow_n + o0;
                    for (long q = 0; q < len; q++) dst[q] = acc[k][q];
                }
            }
    }
}

/* Lanes of one partial sum in dw_direct_: a 64-byte vector of float, two of double. */
#define DW_LANES 16

/* acc0[t] and acc1[t] (DW_LANES lanes each) = the products of the padded-width rows g0
   and g1 of two filters with tap t's stream of xp, over np positions. Inlined with
   taps = 9 as a constant (3x3 on one channel), the 18 accumulators stay in registers;
   each load of the image feeds both filters. */
static inline __attribute__((always_inline)) void FN(dw_pair_)(
        long taps, long np, const T *restrict g0, const T *restrict g1, const T *xp,
        const long *koff, T acc0[][DW_LANES], T acc1[][DW_LANES]) {
    for (long t = 0; t < taps; t++)
        for (int v = 0; v < DW_LANES; v++) acc0[t][v] = acc1[t][v] = 0;
    long q0 = 0;
    for (; q0 + DW_LANES <= np; q0 += DW_LANES)
        for (long t = 0; t < taps; t++) {
            const T *xr = xp + koff[t] + q0;
            for (int v = 0; v < DW_LANES; v++) {
                acc0[t][v] += g0[q0 + v] * xr[v];
                acc1[t][v] += g1[q0 + v] * xr[v];
            }
        }
    for (long t = 0; t < taps; t++)     /* the last partial block */
        for (long v = 0; q0 + v < np; v++) {
            acc0[t][v] += g0[q0 + v] * xp[koff[t] + q0 + v];
            acc1[t][v] += g1[q0 + v] * xp[koff[t] + q0 + v];
        }
}

/* dw_acc[f, tap] (+)= sum over pixels of dy[f] * the image shifted by the tap, and
   db_acc[f] (+)= sum of dy[f] (either may be NULL). Pixel (oh, ow) is position
   oh*wp + ow of a padded-width row, where tap (c, i, j) reads xp[koff + oh*wp + ow]
   with koff = (c*hp + i)*wp + j: one contiguous stream per tap. dy[f] is spread into
   such rows (gp, zeros in the dropped columns) and consumed DW_LANES positions at a
   time against every tap, so each partial sum stays a vector until the end (one dot
   product per tap would wait on a single accumulator). Reads stay within the image
   plus KW - 1 of the DB elements of slack that pad_image_ leaves. */
static int FN(dw_direct_)(const conv_dims *d, const T *xp, const T *dy, T *dw_acc,
                          T *db_acc, int first) {
    long wp = d->w + 2 * d->pw, np = d->oh * wp;
    long taps = d->c * d->kh * d->kw, koff[MG_DIRECT_TAPS], oh_n = d->oh, ow_n = d->ow;
    T *gp = mg_workspace(MG_WS_COLS, (size_t)2 * np * sizeof(T));
    if (gp == NULL) return MG_ENOMEM;
    tap_offsets(d, koff);
    T acc[2][MG_DIRECT_TAPS][DW_LANES];
    for (long f0 = 0; f0 < d->f; f0 += 2) {
        long nf = f0 + 1 < d->f ? 2 : 1;    /* an odd last filter pairs with zeros */
        for (long k = 0; k < 2; k++) {
            const T *g = dy + (f0 + k) * oh_n * ow_n;
            for (long oh = 0; oh < oh_n; oh++) {
                long ow = 0;
                if (k < nf)
                    for (; ow < ow_n; ow++) gp[k * np + oh * wp + ow] = g[oh * ow_n + ow];
                for (; ow < wp; ow++) gp[k * np + oh * wp + ow] = 0;
            }
        }
        if (taps == 9)
            FN(dw_pair_)(9, np, gp, gp + np, xp, koff, acc[0], acc[1]);
        else
            FN(dw_pair_)(taps, np, gp, gp + np, xp, koff, acc[0], acc[1]);
        for (long k = 0; k < nf; k++) {
            long f = f0 + k;
            for (long t = 0; t < taps && dw_acc != NULL; t++) {
                T s = 0;
                for (int v = 0; v < DW_LANES; v++) s += acc[k][t][v];
                dw_acc[f * taps + t] = first ? s : dw_acc[f * taps + t] + s;
            }
            if (db_acc != NULL) {
                T s = 0;
#pragma omp simd reduction(+ : s)
                for (long q = 0; q < np; q++) s += gp[k * np + q];
                db_acc[f] = first ? s : db_acc[f] + s;
            }
        }
    }
    return 0;
}
