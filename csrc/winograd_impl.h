/* Winograd F(m x m, 3x3) for one element type T, included by winograd.c once per type
   (T, SFX, WINO_FORWARD, WINO_DW, GEMM_SERIAL, GEMM_PACKED_A, GEMM_PACK_A,
   GEMM_PACKED_A_LEN). Contract and algorithm: winograd.c.
   Loop nest of both kernels: filter transform (f, c) once; then tile blocks (OpenMP):
     tile offsets and runs of side-by-side tiles;
     input transform (c: gather the a x a patches into p[a*a][tb], then two passes of
       1-d transforms, each a simd loop over the tiles) -> V[e][c][t];
     forward: a*a GEMMs M[e] = U[e] @ V[e]; output transform (f: two passes, bias and
       ReLU, then the stores, bounds-checked);
     dw: dy transform (f: gather m x m tiles, two passes) -> Z[e][f][t]; a*a GEMMs
       dU[e] += Z[e] @ V[e]^T into this thread's partial sums.
   A 1-d transform maps streams of nb tiles, in[k * is + t] -> out[i * os + t]: the
   compiler vectorizes each over t, and the 2-d transform is a column pass then a row
   pass through a scratch block that stays in L1/L2. */

/* out_i = sum_k B^T[i][k] in_k (a -> a), B^T of winograd.c. */
static void FN(bt_)(int a, const T *restrict in, long is, T *restrict out, long os,
                    long nb) {
    if (a == 4) {
#pragma omp simd
        for (long t = 0; t < nb; t++) {
            T x0 = in[t], x1 = in[is + t], x2 = in[2 * is + t], x3 = in[3 * is + t];
            out[t] = x0 - x2;
            out[os + t] = x1 + x2;
            out[2 * os + t] = x2 - x1;
            out[3 * os + t] = x1 - x3;
        }
        return;
    }
#pragma omp simd
    for (long t = 0; t < nb; t++) {
        T x0 = in[t], x1 = in[is + t], x2 = in[2 * is + t], x3 = in[3 * is + t],
          x4 = in[4 * is + t], x5 = in[5 * is + t];
        out[t] = 4 * x0 - 5 * x2 + x4;
        out[os + t] = (x3 + x4) - 4 * (x1 + x2);
        out[2 * os + t] = (x4 - x3) + 4 * (x1 - x2);
        out[3 * os + t] = (x4 - x2) + 2 * (x3 - x1);
        out[4 * os + t] = (x4 - x2) - 2 * (x3 - x1);
        out[5 * os + t] = 4 * x1 - 5 * x3 + x5;
    }
}

/* out_i = sum_k A^T[i][k] in_k (a -> m), A^T of winograd.c. */
static void FN(at_)(int a, const T *restrict in, long is, T *restrict out, long os,
                    long nb) {
    if (a == 4) {
#pragma omp simd
        for (long t = 0; t < nb; t++) {
            T x0 = in[t], x1 = in[is + t], x2 = in[2 * is + t], x3 = in[3 * is + t];
            out[t] = x0 + x1 + x2;
            out[os + t] = x1 - x2 - x3;
        }
        return;
    }
#pragma omp simd
    for (long t = 0; t < nb; t++) {
        T x0 = in[t], x1 = in[is + t], x2 = in[2 * is + t], x3 = in[3 * is + t],
          x4 = in[4 * is + t], x5 = in[5 * is + t];
        T p12 = x1 + x2, m12 = x1 - x2, p34 = x3 + x4, m34 = x3 - x4;
        out[t] = x0 + p12 + p34;
        out[os + t] = m12 + 2 * m34;
        out[2 * os + t] = p12 + 4 * p34;
        out[3 * os + t] = m12 + 8 * m34 + x5;
    }
}

/* out_i = sum_k A[i][k] in_k = sum_k A^T[k][i] in_k (m -> a): dw's dy transform. */
static void FN(a_)(int a, const T *restrict in, long is, T *restrict out, long os,
                   long nb) {
    if (a == 4) {
#pragma omp simd
        for (long t = 0; t < nb; t++) {
            T y0 = in[t], y1 = in[is + t];
            out[t] = y0;
            out[os + t] = y0 + y1;
            out[2 * os + t] = y0 - y1;
            out[3 * os + t] = -y1;
        }
        return;
    }
#pragma omp simd
    for (long t = 0; t < nb; t++) {
        T y0 = in[t], y1 = in[is + t], y2 = in[2 * is + t], y3 = in[3 * is + t];
        T e = y0 + y2, o = y1 + y3, e4 = y0 + 4 * y2, o8 = 2 * y1 + 8 * y3;
        out[t] = y0;
        out[os + t] = e + o;
        out[2 * os + t] = e - o;
        out[3 * os + t] = e4 + o8;
        out[4 * os + t] = e4 - o8;
        out[5 * os + t] = y3;
    }
}

static const double *FN(g_table_)(int a) { return a == 4 ? &WINO_G2[0][0] : &WINO_G4[0][0]; }

/* U[e][f][c] = (G g G^T)[e] for g = w[f][c] (3x3). */
static void FN(filter_transform_)(const wino_dims *d, const T *w, T *restrict u) {
    long fc = d->f * d->c;
    int a = d->a;
    const double *g = FN(g_table_)(a);
    for (long k = 0; k < fc; k++) {
        const T *wk = w + 9 * k;
        double t[WINO_MAX_A][3];             /* in double: once per call, one rounding */
        for (int i = 0; i < a; i++)          /* t = G w */
            for (int j = 0; j < 3; j++)
                t[i][j] = g[3 * i] * wk[j] + g[3 * i + 1] * wk[3 + j] + g[3 * i + 2] * wk[6 + j];
        for (int i = 0; i < a; i++)          /* t G^T */
            for (int j = 0; j < a; j++)
                u[(i * a + j) * fc + k] =
                    (T)(t[i][0] * g[3 * j] + t[i][1] * g[3 * j + 1] + t[i][2] * g[3 * j + 2]);
    }
}

/* dw[f][c] = G^T dU[f][c] G (3x3), dU[e][f][c]: the transpose of filter_transform_. */
static void FN(filter_transform_t_)(const wino_dims *d, const T *du, T *restrict dw) {
    long fc = d->f * d->c;
    int a = d->a;
    const double *g = FN(g_table_)(a);
    for (long k = 0; k < fc; k++) {
        double t[3][WINO_MAX_A];             /* in double, as filter_transform_ */
        for (int p = 0; p < 3; p++)          /* t = G^T dU */
            for (int j = 0; j < a; j++) {
                double s = 0;
                for (int i = 0; i < a; i++) s += g[3 * i + p] * du[(i * a + j) * fc + k];
                t[p][j] = s;
            }
        for (int p = 0; p < 3; p++)          /* t G */
            for (int q = 0; q < 3; q++) {
                double s = 0;
                for (int j = 0; j < a; j++) s += t[p][j] * g[3 * j + q];
                dw[9 * k + 3 * p + q] = (T)s;
            }
    }
}

/* Tiles t0 .. t0 + nb - 1: their image, tile row and column, and run[t], how many
   tiles from t on lie side by side in the same image and tile row, which the gathers
   and stores move together as stride-m rows. */
static void FN(tile_offsets_)(const wino_dims *d, long t0, long nb, wino_tiles *o) {
    long per_image = d->th * d->tw;
    for (long t = 0; t < nb; t++) {
        long g = t0 + t, rem = g % per_image;
        o->img[t] = g / per_image;
        o->row[t] = rem / d->tw;
        o->col[t] = rem % d->tw;
    }
    for (long t = nb - 1; t >= 0; t--) {
        int beside = t + 1 < nb && o->col[t + 1] == o->col[t] + 1;  /* same row, image */
        o->run[t] = beside ? o->run[t + 1] + 1 : 1;
    }
}

/* pb = rows [r0, r1) of channel plane `plane` zero-padded to wp columns, in padded
   coordinates (row r is the image's row r - ph). */
static void FN(pad_rows_)(const wino_dims *d, const T *plane, long r0, long r1,
                          T *restrict pb) {
    long wp = d->wp;
    for (long r = r0; r < r1; r++, pb += wp) {
        long row = r - d->ph;
        long k = 0;
        if (row >= 0 && row < d->h) {
            for (; k < d->pw; k++) pb[k] = 0;
            const T *src = plane + row * d->w;
            for (long q = 0; q < d->w; q++) pb[k + q] = src[q];
            k += d->w;
        }
        for (; k < wp; k++) pb[k] = 0;
    }
}

/* The copies between a run of len side-by-side tiles and a*a (or m*m) streams of ld tb:
   element (i, j) of tile k sits at rows[i * ld + m * k + j]. Called with literal a and
   m, so that the compiler unrolls the patch loops: with m a variable they ran at ~5
   cycles per element and took a third of the forward's time. */
static inline __attribute__((always_inline)) void FN(rows_to_streams_)(
    const T *restrict rows, long ld, long len, T *restrict streams, long tb, const int a,
    const int m) {
    for (long k = 0; k < len; k++)
        for (int i = 0; i < a; i++)
            for (int j = 0; j < a; j++) streams[(a * i + j) * tb + k] = rows[i * ld + m * k + j];
}

static inline __attribute__((always_inline)) void FN(streams_to_rows_)(
    const T *restrict streams, long tb, long len, T *restrict rows, long ld, const int m) {
    for (long k = 0; k < len; k++)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++) rows[i * ld + m * k + j] = streams[(m * i + j) * tb + k];
}

/* p[k][t] (ld tb), k = a*i + j: element (i, j) of tile t's patch in channel c. Per
   image the rows the block's tiles read are first copied, zero-padded, into pb, so
   that every tile is then a plain strided read, the edge tiles too. */
static void FN(gather_)(const wino_dims *d, const T *x, long c, const wino_tiles *ti,
                        long nb, T *restrict pb, T *restrict p) {
    long tb = d->tb, wp = d->wp, m = d->m;
    int a = d->a;
    for (long t = 0; t < nb;) {
        long img = ti->img[t], end = t;
        while (end < nb && ti->img[end] == img) end++;
        long r0 = m * ti->row[t], r1 = m * ti->row[end - 1] + a;
        FN(pad_rows_)(d, x + (img * d->c + c) * d->h * d->w, r0, r1, pb);
        for (; t < end; t += ti->run[t]) {
            const T *src = pb + (m * ti->row[t] - r0) * wp + m * ti->col[t];
            if (a == 6)
                FN(rows_to_streams_)(src, wp, ti->run[t], p + t, tb, 6, 4);
            else
                FN(rows_to_streams_)(src, wp, ti->run[t], p + t, tb, 4, 2);
        }
    }
}

/* V[e][c][t] = (B^T d B)[e] for the nb tiles, ld tb; p, s: a*a x tb scratch each. */
static void FN(input_transform_)(const wino_dims *d, const T *x, const wino_tiles *ti,
                                 long nb, T *restrict p, T *restrict s, T *restrict pb,
                                 T *restrict v) {
    long tb = d->tb, ct = d->c * tb;
    int a = d->a;
    for (long c = 0; c < d->c; c++) {
        FN(gather_)(d, x, c, ti, nb, pb, p);
        for (int j = 0; j < a; j++)          /* s = B^T p, column by column */
            FN(bt_)(a, p + j * tb, a * tb, s + j * tb, a * tb, nb);
        for (int i = 0; i < a; i++)          /* (B^T p) B, row by row */
            FN(bt_)(a, s + i * a * tb, tb, v + c * tb + i * a * ct, ct, nb);
    }
}

/* y's m x m outputs of each tile: A^T M A (+ b, ReLU), M[e] = m[e][f][t]; outputs past
   OH or OW are dropped. o: m*m x tb scratch, s: m*a x tb. A run of tiles is laid out
   as its m rows of y in s, then copied out clipped to OH x OW. */
static void FN(output_transform_)(const wino_dims *d, const T *restrict mm, const T *b,
                                  int relu, const wino_tiles *ti, long nb,
                                  T *restrict o, T *restrict s, T *y) {
    long ft = d->f * d->tb, tb = d->tb, ow = d->ow, m = d->m;
    int a = d->a;
    for (long f = 0; f < d->f; f++) {
        const T *src = mm + f * tb;
        for (int j = 0; j < a; j++)          /* s = A^T M */
            FN(at_)(a, src + j * ft, a * ft, s + j * tb, a * tb, nb);
        for (int i = 0; i < m; i++)          /* (A^T M) A */
            FN(at_)(a, s + i * a * tb, tb, o + i * m * tb, tb, nb);
        if (b || relu) {                     /* NaN <= 0 is false: NaN is kept */
            T bias = b ? b[f] : 0;
            for (int k = 0; k < m * m; k++) {
                T *ok = o + k * tb;
#pragma omp simd
                for (long t = 0; t < nb; t++) {
                    T val = ok[t] + bias;
                    ok[t] = relu && val <= 0 ? 0 : val;
                }
            }
        }
        for (long t = 0; t < nb; t += ti->run[t]) {
            long len = ti->run[t], width = m * len, r = m * ti->row[t], q = m * ti->col[t];
            if (m == 4)
                FN(streams_to_rows_)(o + t, tb, len, s, width, 4);
            else
                FN(streams_to_rows_)(o + t, tb, len, s, width, 2);
            long rows = d->oh - r < m ? d->oh - r : m, cols = ow - q < width ? ow - q : width;
            T *dst = y + ((ti->img[t] * d->f + f) * d->oh + r) * ow + q;
            for (long i = 0; i < rows; i++)
                for (long k = 0; k < cols; k++) dst[i * ow + k] = s[i * width + k];
        }
    }
}

/* Z[e][f][t] = (A dY A^T)[e] for dY the m x m tile of dy (zero past OH or OW), ld tb;
   q: m*m x tb scratch, s: a*m x tb. */
static void FN(dy_transform_)(const wino_dims *d, const T *dy, const wino_tiles *ti,
                              long nb, T *restrict q, T *restrict s, T *restrict z) {
    long ft = d->f * d->tb, tb = d->tb, ow = d->ow, m = d->m;
    int a = d->a;
    for (long f = 0; f < d->f; f++) {
        for (long t = 0; t < nb; t += ti->run[t]) {  /* the run's m rows into s, then q */
            long len = ti->run[t], width = m * len, r = m * ti->row[t], c0 = m * ti->col[t];
            long rows = d->oh - r < m ? d->oh - r : m, cols = ow - c0 < width ? ow - c0 : width;
            const T *src = dy + ((ti->img[t] * d->f + f) * d->oh + r) * ow + c0;
            for (long i = 0; i < m; i++) {
                long k = 0;
                if (i < rows)
                    for (; k < cols; k++) s[i * width + k] = src[i * ow + k];
                for (; k < width; k++) s[i * width + k] = 0;
            }
            if (m == 4)
                FN(rows_to_streams_)(s, width, len, q + t, tb, 4, 4);
            else
                FN(rows_to_streams_)(s, width, len, q + t, tb, 2, 2);
        }
        for (int j = 0; j < m; j++)          /* s = A dY */
            FN(a_)(a, q + j * tb, m * tb, s + j * tb, m * tb, nb);
        for (int i = 0; i < a; i++)          /* (A dY) A^T */
            FN(a_)(a, s + i * m * tb, tb, z + f * tb + i * a * ft, ft, nb);
    }
}

/* This thread's V, M (or Z), 2 scratch blocks and the padded rows: a*a * (C + F + 2)
   * tb + pb_rows * wp elements. */
static T *FN(block_buffers_)(const wino_dims *d) {
    return mg_workspace(MG_WS_TILE, ((size_t)d->aa * (d->c + d->f + 2) * d->tb +
                                     (size_t)d->pb_rows * d->wp) * sizeof(T));
}

/* Forward of nb tiles from tile t0, on this thread. up: the a*a products' weights
   U[e] packed once per call (GEMM_PACK_A, plen elements each), or NULL when C exceeds
   one k block of the GEMM (then each product packs u + e*F*C itself). */
static int FN(forward_block_)(const wino_dims *d, const T *x, const T *u, const T *up,
                              long plen, const T *b, int relu, long t0, long nb, T *y) {
    long cs = d->c * d->tb, fs = d->f * d->tb, fc = d->f * d->c;
    T *v = FN(block_buffers_)(d);
    if (v == NULL) return MG_ENOMEM;
    T *mm = v + d->aa * cs, *p = mm + d->aa * fs, *s = p + d->aa * d->tb;
    wino_tiles ti;
    FN(tile_offsets_)(d, t0, nb, &ti);
    FN(input_transform_)(d, x, &ti, nb, p, s, s + d->aa * d->tb, v);
    int err = 0;
    for (int e = 0; e < d->aa && !err; e++)
        err = up != NULL
            ? GEMM_PACKED_A(d->f, nb, d->c, up + e * plen, v + e * cs, d->tb, (T)0,
                            mm + e * fs, d->tb)
            : GEMM_SERIAL(0, 0, d->f, nb, d->c, (T)1, u + e * fc, d->c, v + e * cs, d->tb,
                          (T)0, mm + e * fs, d->tb);
    if (!err) FN(output_transform_)(d, mm, b, relu, &ti, nb, p, s, y);
    return err;
}

int WINO_FORWARD(const T *x, const T *w, const T *b, T *y, long n, long c, long h,
                 long wd, long f, long ph, long pw, int relu, int tile) {
    wino_dims d;
    if (wino_dims_init(&d, n, c, h, wd, f, ph, pw, tile) || !x || !w || !y) return MG_EINVAL;
    /* U, and U packed for the GEMM once here rather than by every block's products
       (it was as much work as the multiply at 32->64: 64 x 32 per product) */
    long plen = GEMM_PACKED_A_LEN(f, c), fc = f * c;
    T *u = mg_workspace(MG_WS_WEIGHTS,
                        (size_t)d.aa * (fc + (plen > 0 ? plen : 0)) * sizeof(T));
    if (u == NULL) return MG_ENOMEM;
    FN(filter_transform_)(&d, w, u);
    T *up = plen > 0 ? u + d.aa * fc : NULL;
    for (int e = 0; up != NULL && e < d.aa; e++)
        GEMM_PACK_A(f, c, u + e * fc, c, up + e * plen);
    long blocks = (d.tiles + d.tb - 1) / d.tb;
    int nt = mg_threads_avail(), err = 0;
    if (nt > blocks) nt = (int)blocks;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(| : err)
    for (long k = 0; k < blocks; k++) {
        long t0 = k * d.tb, nb = d.tiles - t0 < d.tb ? d.tiles - t0 : d.tb;
        err |= FN(forward_block_)(&d, x, u, up, plen, b, relu, t0, nb, y);
    }
    return err ? MG_ENOMEM : 0;
}

/* dU += Z @ V^T over nb tiles from tile t0 (dU = when first), on this thread. */
static int FN(dw_block_)(const wino_dims *d, const T *x, const T *dy, long t0, long nb,
                         int first, T *du) {
    long cs = d->c * d->tb, fs = d->f * d->tb, fc = d->f * d->c;
    T *v = FN(block_buffers_)(d);
    if (v == NULL) return MG_ENOMEM;
    T *z = v + d->aa * cs, *p = z + d->aa * fs, *s = p + d->aa * d->tb;
    wino_tiles ti;
    FN(tile_offsets_)(d, t0, nb, &ti);
    FN(input_transform_)(d, x, &ti, nb, p, s, s + d->aa * d->tb, v);
    FN(dy_transform_)(d, dy, &ti, nb, p, s, z);
    int err = 0;
    for (int e = 0; e < d->aa && !err; e++)
        err = GEMM_SERIAL(0, 1, d->f, d->c, nb, (T)1, z + e * fs, d->tb, v + e * cs, d->tb,
                          first ? (T)0 : (T)1, du + e * fc, d->c);
    return err;
}

/* Thread k of a team of nt sums the blocks k, k + nt, ... into its own dU; the
   partial sums are then added in thread order, so a given thread count always gives
   the same bits. The team's real size is read inside the region: OpenMP may grant
   fewer threads than asked for, and a block left to a missing thread would be lost. */
int WINO_DW(const T *x, const T *dy, T *dw, long n, long c, long h, long wd, long f,
            long ph, long pw, int tile) {
    wino_dims d;
    if (wino_dims_init(&d, n, c, h, wd, f, ph, pw, tile) || !x || !dy || !dw)
        return MG_EINVAL;
    long blocks = (d.tiles + d.tb - 1) / d.tb, size = d.aa * f * c;
    int nt = mg_threads_avail(), err = 0, team = 1;
    if (nt > blocks) nt = (int)blocks;
    long bytes;
    if (MG_PRODUCT(&bytes, nt, size, (long)sizeof(T))) return MG_EINVAL;
    T *du = mg_workspace(MG_WS_PARTIAL, (size_t)bytes);
    if (du == NULL) return MG_ENOMEM;
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        int k0 = 0, step = 1;
#ifdef _OPENMP
        k0 = omp_get_thread_num();
        step = omp_get_num_threads();
        if (k0 == 0) team = step;
#endif
        for (long k = k0; k < blocks && !err; k += step) {
            long t0 = k * d.tb, nb = d.tiles - t0 < d.tb ? d.tiles - t0 : d.tb;
            err |= FN(dw_block_)(&d, x, dy, t0, nb, k == k0, du + k0 * size);
        }
    }
    if (err) return MG_ENOMEM;
    for (int k = 1; k < team; k++)
        for (long i = 0; i < size; i++) du[i] += du[k * size + i];
    FN(filter_transform_t_)(&d, du, dw);
    return 0;
}

#undef WINO_FORWARD
#undef WINO_DW
#undef GEMM_SERIAL
#undef GEMM_PACKED_A
#undef GEMM_PACK_A
#undef GEMM_PACKED_A_LEN
