/* conv2d for one element type T, included by conv2d.c once per type (T, SFX, and the
   names CONV2D_FORWARD, CONV2D_BACKWARD, GEMM_THREADED, GEMM_IMPLICIT_B).

   Contract: conv2d.c's header (layouts, outputs, paths). Operands are contiguous and
   validated by conv_dims_init, so every offset below fits in a long.
   Loop nests:
     CONV2D_FORWARD  images n (pool threads, or one at a time with a threaded GEMM)
                       forward_image_: forward_direct_ (4 filters, oh, DB-wide ow
                         blocks, taps; conv2d_direct_impl.h)
                       | forward_implicit_ (one GEMM over padded-width rows)
                       | im2col_ (c, i, j, oh, ow) + GEMM
     CONV2D_BACKWARD images n split into one contiguous range per thread
                       backward_image_: dW and db together (dw_direct_: 2 filters,
                         16-lane blocks of padded-width rows, taps), or dW (implicit or
                         im2col GEMM) and db (f, pixels), accumulated into the thread's
                         partial from its second image on;
                       dX (implicit convolution of dy, or w^T @ dy + col2im_)
                     then the partials are added to dw/db in thread order.
   Edges: padding is explicit zeros in the padded copy (pad_image_), which also carries
   DB elements of slack so full-width row blocks may read past the last row; columns
   computed past a row's end on the padded-width paths are dropped. */

static size_t FN(padded_bytes_)(const conv_dims *d) {
    return ((size_t)d->c * (d->h + 2 * d->ph) * (d->w + 2 * d->pw) + DB) * sizeof(T);
}

/* xp (C, H + 2ph, W + 2pw) = x with zero borders, plus DB zeros of slack at the end so
   full-width row blocks may read past the last row. */
static void FN(pad_image_)(const conv_dims *d, const T *x, T *restrict xp) {
    long hp = d->h + 2 * d->ph, wp = d->w + 2 * d->pw;
    for (long c = 0; c < d->c; c++) {
        T *dst = xp + c * hp * wp;
        memset(dst, 0, (size_t)d->ph * wp * sizeof(T));
        for (long r = 0; r < d->h; r++) {
            T *row = dst + (d->ph + r) * wp;
            for (long q = 0; q < d->pw; q++) row[q] = row[d->pw + d->w + q] = 0;
            memcpy(row + d->pw, x + (c * d->h + r) * d->w, (size_t)d->w * sizeof(T));
        }
        memset(dst + (d->ph + d->h) * wp, 0, (size_t)d->ph * wp * sizeof(T));
    }
    memset(xp + d->c * hp * wp, 0, DB * sizeof(T));
}

/* cols[(c*KH + i)*KW + j][oh*OW + ow] = xp[c][oh*sh + i][ow*sw + j], xp the zero-padded
   image: every row of cols is OH runs of OW elements with no bounds to test. (Copying
   from x with per-run bounds and memcpy calls of OW = 14 floats cost as much as the
   GEMM's packing of the result.) */
MG_NO_MEMCPY_CALLS
static void FN(im2col_)(const conv_dims *d, const T *xp, T *restrict cols) {
    long hp = d->h + 2 * d->ph, wp = d->w + 2 * d->pw, ohw = d->oh * d->ow;
    long ow_n = d->ow, sw = d->sw;
    for (long c = 0; c < d->c; c++)
        for (long i = 0; i < d->kh; i++)
            for (long j = 0; j < d->kw; j++) {
                T *row = cols + ((c * d->kh + i) * d->kw + j) * ohw;
                const T *src = xp + (c * hp + i) * wp + j;
                for (long oh = 0; oh < d->oh; oh++, row += ow_n) {
                    const T *s = src + oh * d->sh * wp;
                    if (sw == 1)
                        for (long ow = 0; ow < ow_n; ow++) row[ow] = s[ow];
                    else
                        for (long ow = 0; ow < ow_n; ow++) row[ow] = s[ow * sw];
                }
            }
}

/* The adjoint of im2col: dxp (zero-padded layout, zeroed here) accumulates every
   row of dcols, then its interior is copied to dx (overwritten). */
static void FN(col2im_)(const conv_dims *d, const T *cols, T *restrict dxp, T *dx) {
    long hp = d->h + 2 * d->ph, wp = d->w + 2 * d->pw, ohw = d->oh * d->ow;
    long ow_n = d->ow, sw = d->sw;
    memset(dxp, 0, (size_t)d->c * hp * wp * sizeof(T));
    for (long c = 0; c < d->c; c++)
        for (long i = 0; i < d->kh; i++)
            for (long j = 0; j < d->kw; j++) {
                const T *row = cols + ((c * d->kh + i) * d->kw + j) * ohw;
                T *dst = dxp + (c * hp + i) * wp + j;
                for (long oh = 0; oh < d->oh; oh++, row += ow_n) {
                    T *t = dst + oh * d->sh * wp;
                    if (sw == 1)
                        for (long ow = 0; ow < ow_n; ow++) t[ow] += row[ow];
                    else
                        for (long ow = 0; ow < ow_n; ow++) t[ow * sw] += row[ow];
                }
            }
    for (long c = 0; c < d->c; c++)
        for (long r = 0; r < d->h; r++)
            memcpy(dx + (c * d->h + r) * d->w, dxp + (c * hp + d->ph + r) * wp + d->pw,
                   (size_t)d->w * sizeof(T));
}


/* ---- implicit GEMM (stride 1, one thread per image): the GEMM packs its B operand
   straight from the zero-padded image (mg_gemm_implicit_b), so no im2col matrix is
   written and read back. Output pixel (oh, ow) is column oh*wp + ow of a product over
   padded-width rows: the wp - OW columns past each row's end are computed and dropped
   (16 for 14 on the MNIST CNN: 7% more multiply-adds, against a 9x larger matrix
   written and read once more). */

/* The tap offsets (tap_offsets, conv2d.c) in the thread's workspace. */
static long *FN(tap_offsets_)(const conv_dims *d) {
    long *koff = mg_workspace(MG_WS_OFFSETS, (size_t)d->c * d->kh * d->kw * sizeof(long));
    if (koff != NULL) tap_offsets(d, koff);
    return koff;
}

/* What both implicit products need from the thread's workspaces: x zero-padded (xp,
   filled here), its tap offsets, and an F x OH*wp buffer. Returns xp, or NULL when
   out of memory. */
static T *FN(implicit_operands_)(const conv_dims *d, const T *x, long **koff, T **buf) {
    long wp = d->w + 2 * d->pw;
    T *xp = mg_workspace(MG_WS_PAD, FN(padded_bytes_)(d));
    *buf = mg_workspace(MG_WS_COLS, (size_t)d->f * d->oh * wp * sizeof(T));
    *koff = FN(tap_offsets_)(d);
    if (xp == NULL || *buf == NULL || *koff == NULL) return NULL;
    FN(pad_image_)(d, x, xp);
    return xp;
}

/* y (F, OH, OW) = w (F, C*KH*KW) @ cols(x) + b, b may be NULL. */
static int FN(forward_implicit_)(const conv_dims *d, const T *x, const T *w, const T *b,
                                 T *y) {
    long wp = d->w + 2 * d->pw, np = d->oh * wp, ckk = d->c * d->kh * d->kw, *koff;
    T *out, *xp = FN(implicit_operands_)(d, x, &koff, &out);
    if (xp == NULL) return MG_ENOMEM;
    int err = GEMM_IMPLICIT_B(0, d->f, np, ckk, w, ckk, xp, koff, 0, out, np);
    for (long f = 0; f < d->f; f++) {
        T bias = b ? b[f] : 0;
        for (long oh = 0; oh < d->oh; oh++) {
            const T *src = out + f * np + oh * wp;
            T *dst = y + (f * d->oh + oh) * d->ow;
            for (long ow = 0; ow < d->ow; ow++) dst[ow] = src[ow] + bias;
        }
    }
    return err;
}

/* dw_acc (F, C*KH*KW) (+)= dy (F, OH*OW) @ cols(x)^T, dy spread to padded-width rows
   with zeros in the dropped columns. `first`: dw_acc is overwritten. */
static int FN(dw_implicit_)(const conv_dims *d, const T *x, const T *dy, T *dw_acc,
                            int first) {
    long wp = d->w + 2 * d->pw, np = d->oh * wp, ckk = d->c * d->kh * d->kw, *koff;
    T *dyp, *xp = FN(implicit_operands_)(d, x, &koff, &dyp);
    if (xp == NULL) return MG_ENOMEM;
    for (long f = 0; f < d->f; f++)
        for (long oh = 0; oh < d->oh; oh++) {
            const T *src = dy + (f * d->oh + oh) * d->ow;
            T *dst = dyp + f * np + oh * wp;
            long ow = 0;
            for (; ow < d->ow; ow++) dst[ow] = src[ow];
            for (; ow < wp; ow++) dst[ow] = 0;
        }
    return GEMM_IMPLICIT_B(1, d->f, ckk, np, dyp, np, xp, koff, first ? 0 : 1,
                                   dw_acc, ckk);
}

/* w2[c][f][KH-1-i][KW-1-j] = w[f][c][i][j], in the caller's MG_WS_WEIGHTS. */
static T *FN(flipped_weights_)(const conv_dims *d, const T *w) {
    long kk = d->kh * d->kw;
    T *w2 = mg_workspace(MG_WS_WEIGHTS, (size_t)d->f * d->c * kk * sizeof(T));
    if (w2 == NULL) return NULL;
    for (long f = 0; f < d->f; f++)
        for (long c = 0; c < d->c; c++)
            for (long t = 0; t < kk; t++)
                w2[(c * d->f + f) * kk + (kk - 1 - t)] = w[(f * d->c + c) * kk + t];
    return w2;
}

/* db_acc (+)= dy summed over each channel's plane. */
static void FN(bias_grad_)(const conv_dims *d, const T *dy, T *db_acc, int first) {
    long ohw = d->oh * d->ow;
    for (long f = 0; f < d->f; f++) {
        T s = 0;        /* SIMD lanes keep the partial sums short */
#pragma omp simd reduction(+ : s)
        for (long p = 0; p < ohw; p++) s += dy[f * ohw + p];
        db_acc[f] = first ? s : db_acc[f] + s;
    }
}

/* y[n] = w @ cols(x[n]) + b for one image; `nt` threads inside the GEMM. */
static int FN(forward_image_)(const conv_dims *d, int nt, const T *x, const T *w,
                              const T *b, T *y) {
    long ckk = d->c * d->kh * d->kw, ohw = d->oh * d->ow;
    const T *cols = x;
    if (is_direct(d)) {
        T *xp = mg_workspace(MG_WS_PAD, FN(padded_bytes_)(d));
        if (xp == NULL) return MG_ENOMEM;
        FN(pad_image_)(d, x, xp);
        FN(forward_direct_)(d, xp, w, b, y);
        return 0;
    }
    if (nt == 1 && is_implicit(d)) return FN(forward_implicit_)(d, x, w, b, y);
    if (!is_pointwise(d)) {
        T *buf = mg_workspace(MG_WS_COLS, (size_t)ckk * ohw * sizeof(T));
        T *xp = mg_workspace(MG_WS_PAD, FN(padded_bytes_)(d));
        if (buf == NULL || xp == NULL) return MG_ENOMEM;
        FN(pad_image_)(d, x, xp);
        FN(im2col_)(d, xp, buf);
        cols = buf;
    }
    int err = GEMM_THREADED(nt, 0, 0, d->f, ohw, ckk, 1, w, ckk, cols, ohw, 0, y,
                                    ohw);
    if (b != NULL)
        for (long f = 0; f < d->f; f++)
            for (long p = 0; p < ohw; p++) y[f * ohw + p] += b[f];
    return err;
}

/* The arguments of a convolution over the batch, shared by the threads' parts. */
typedef struct {
    const conv_dims *d;
    const T *x, *w, *w2, *b, *dy;
    T *y, *dx, *dw, *db, *part;
} FN(conv_job_);

/* Images [lo, hi) of a forward, each on this thread. */
static int FN(forward_images_)(void *p, long lo, long hi) {
    const FN(conv_job_) *j = p;
    long xs = j->d->c * j->d->h * j->d->w, ys = j->d->f * j->d->oh * j->d->ow;
    int err = 0;
    for (long i = lo; i < hi && !err; i++)
        err = FN(forward_image_)(j->d, 1, j->x + i * xs, j->w, j->b, j->y + i * ys);
    return err;
}

/* y = conv(x, w) + b over the batch: images spread over threads, or with fewer
   images than threads, the threads inside each image's GEMM. */
static int FN(forward_batch_)(const conv_dims *d, const T *x, const T *w, const T *b,
                              T *y) {
    long n = d->n, xs = d->c * d->h * d->w, ys = d->f * d->oh * d->ow;
    int nt = mg_threads_avail(), err = 0;
    if (nt > 1 && n >= nt) {
        FN(conv_job_) j = {.d = d, .x = x, .w = w, .b = b, .y = y};
        err = mg_parallel_for(nt, n, FN(forward_images_), &j);
    } else {
        for (long i = 0; i < n && !err; i++)
            err = FN(forward_image_)(d, nt, x + i * xs, w, b, y + i * ys);
    }
    return err ? MG_ENOMEM : 0;
}

int CONV2D_FORWARD(const T *x, const T *w, const T *b, T *y, long n, long c,
                           long h, long wd, long f, long kh, long kw, long sh, long sw,
                           long ph, long pw) {
    conv_dims d;
    if (conv_dims_init(&d, n, c, h, wd, f, kh, kw, sh, sw, ph, pw) || !x || !w || !y)
        return MG_EINVAL;
    return FN(forward_batch_)(&d, x, w, b, y);
}

/* One image's contribution: dw_acc (+)= dy @ cols^T, db_acc += row sums of dy,
   dx = col2im(w^T @ dy). `first` says dw_acc is overwritten rather than added to. */
static int FN(backward_image_)(const conv_dims *d, int nt, const T *x, const T *w,
                               const T *w2, const T *dy, T *dx, T *dw_acc, T *db_acc,
                               int first) {
    long ckk = d->c * d->kh * d->kw, ohw = d->oh * d->ow;
    int pointwise = is_pointwise(d), err = 0;
    if (nt == 1 && is_direct(d) && (dw_acc != NULL || db_acc != NULL)) {
        T *xp = mg_workspace(MG_WS_PAD, FN(padded_bytes_)(d));
        if (xp == NULL) return MG_ENOMEM;
        FN(pad_image_)(d, x, xp);
        err = FN(dw_direct_)(d, xp, dy, dw_acc, db_acc, first);
        if (dx == NULL || err) return err;
        dw_acc = NULL, db_acc = NULL;   /* done: only dx below */
    }
    if (nt == 1 && is_implicit(d)) {
        /* dw first: dx reuses the same workspaces */
        if (dw_acc != NULL) err |= FN(dw_implicit_)(d, x, dy, dw_acc, first);
        if (db_acc != NULL) FN(bias_grad_)(d, dy, db_acc, first);
        if (dx != NULL && w2 != NULL) {
            conv_dims t;
            dx_as_conv(d, &t);   /* validated by the caller */
            return err | FN(forward_implicit_)(&t, dy, w2, NULL, dx);
        }
        if (dx == NULL) return err;
        dw_acc = NULL, db_acc = NULL;   /* done: only dx below, the im2col way */
    }
    T *buf = NULL, *xp = NULL;
    if (!pointwise && (dw_acc != NULL || dx != NULL)) {
        buf = mg_workspace(MG_WS_COLS, (size_t)ckk * ohw * sizeof(T));
        xp = mg_workspace(MG_WS_PAD, FN(padded_bytes_)(d));
        if (buf == NULL || xp == NULL) return MG_ENOMEM;
    }
    if (dw_acc != NULL) {
        const T *cols = x;
        if (!pointwise) {
            FN(pad_image_)(d, x, xp);
            FN(im2col_)(d, xp, buf);
            cols = buf;
        }
        err |= GEMM_THREADED(nt, 0, 1, d->f, ckk, ohw, 1, dy, ohw, cols, ohw,
                                     first ? 0 : 1, dw_acc, ckk);
    }
    if (db_acc != NULL) FN(bias_grad_)(d, dy, db_acc, first);
    if (dx != NULL) {
        if (pointwise)
            return err | GEMM_THREADED(nt, 1, 0, ckk, ohw, d->f, 1, w, ckk, dy, ohw,
                                               0, dx, ohw);
        err |= GEMM_THREADED(nt, 1, 0, ckk, ohw, d->f, 1, w, ckk, dy, ohw, 0, buf,
                                     ohw);
        FN(col2im_)(d, buf, xp, dx);  /* xp is free again: the padded dx */
    }
    return err;
}

/* Part t of nt of a backward: images [n * t / nt, n * (t + 1) / nt); thread 0 sums
   into dw/db directly, thread t > 0 into partial t (added in thread order after). */
static int FN(backward_images_)(void *p, int t, int nt) {
    const FN(conv_job_) *j = p;
    const conv_dims *d = j->d;
    long xs = d->c * d->h * d->w, ys = d->f * d->oh * d->ow;
    long nw = d->f * d->c * d->kh * d->kw, lo = d->n * t / nt, hi = d->n * (t + 1) / nt;
    T *mine = t == 0 || j->part == NULL ? NULL : j->part + (t - 1) * (nw + d->f);
    T *my_dw = j->dw == NULL ? NULL : (t == 0 ? j->dw : mine);
    T *my_db = j->db == NULL ? NULL : (t == 0 ? j->db : mine + nw);
    int err = 0;
    for (long i = lo; i < hi; i++)
        err |= FN(backward_image_)(d, 1, j->x + i * xs, j->w, j->w2, j->dy + i * ys,
                                   j->dx ? j->dx + i * xs : NULL, my_dw, my_db, i == lo);
    return err;
}

int CONV2D_BACKWARD(const T *x, const T *w, const T *dy, T *dx, T *dw, T *db,
                            long n, long c, long h, long wd, long f, long kh, long kw,
                            long sh, long sw, long ph, long pw) {
    conv_dims d;
    if (conv_dims_init(&d, n, c, h, wd, f, kh, kw, sh, sw, ph, pw) || !x || !w || !dy)
        return MG_EINVAL;
    long xs = c * h * wd, ys = f * d.oh * d.ow, nw = f * c * kh * kw;
    int nt = mg_threads_avail(), err = 0;
    if (nt > n) nt = 1;   /* few images: thread the GEMMs instead */
    int gemm_nt = nt == 1 ? mg_threads_avail() : 1;  /* threads inside each image */
    const T *w2 = NULL;
    /* dx as a convolution of dy has C output rows: worth it only for enough of them
       (a first layer with C = 1 keeps w^T @ dy and col2im). */
    if (dx != NULL && gemm_nt == 1 && is_implicit(&d) && c >= 16) {
        conv_dims t;
        if (dx_as_conv(&d, &t)) return MG_EINVAL;
        w2 = FN(flipped_weights_)(&d, w);
        if (w2 == NULL) return MG_ENOMEM;
    }
    if (nt == 1) {
        for (long i = 0; i < n && !err; i++)
            err = FN(backward_image_)(&d, gemm_nt, x + i * xs, w, w2, dy + i * ys,
                                      dx ? dx + i * xs : NULL, dw, db, i == 0);
        return err;
    }
    /* Thread t > 0 sums into partial t; thread 0 writes dw/db directly. */
    T *part = NULL;
    long part_bytes;
    if (MG_PRODUCT(&part_bytes, nt - 1, nw + f, (long)sizeof(T))) return MG_EINVAL;
    if (dw != NULL || db != NULL) {
        part = mg_workspace(MG_WS_PARTIAL, (size_t)part_bytes);
        if (part == NULL) return MG_ENOMEM;
    }
    FN(conv_job_) j = {.d = &d, .x = x, .w = w, .w2 = w2, .dy = dy, .dx = dx, .dw = dw,
                       .db = db, .part = part};
    err = mg_parallel(nt, FN(backward_images_), &j);
    for (long t = 1; t < nt; t++) {
        const T *p = part + (t - 1) * (nw + f);
        if (dw != NULL)
            for (long i = 0; i < nw; i++) dw[i] += p[i];
        if (db != NULL)
            for (long i = 0; i < f; i++) db[i] += p[nw + i];
    }
    return err ? MG_ENOMEM : 0;
}

#undef CONV2D_FORWARD
#undef CONV2D_BACKWARD
#undef GEMM_THREADED
#undef GEMM_IMPLICIT_B
