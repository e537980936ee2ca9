/* Winograd F(m x m, 3x3) for one element type T, included by winograd.c once per type
   (T, SFX, WINO_FORWARD, WINO_DW, GEMM_SERIAL). Contract and algorithm: winograd.c.
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

/* Where the nb tiles from tile t0 lie. base[t]: offset in x of the tile's image
   (channel 0); its patch's top-left at row pr[t], column pc[t] (maybe in padding);
   out[t]: offset in y (or dy) of its first output (filter 0); kr[t], kc[t]: its rows
   and columns of outputs inside OH x OW. run_in[t] / run_out[t]: how many tiles from
   t on lie side by side in one row (m apart), all with the patch inside the image /
   all with m x m outputs kept, so the gathers and stores move them as strided runs. */
typedef struct {
    long base[WINO_MAX_TB], pr[WINO_MAX_TB], pc[WINO_MAX_TB], out[WINO_MAX_TB];
    long run_in[WINO_MAX_TB], run_out[WINO_MAX_TB];
    char kr[WINO_MAX_TB], kc[WINO_MAX_TB];
} FN(wino_tiles_);

static void FN(tile_offsets_)(const wino_dims *d, long t0, long nb, FN(wino_tiles_) *o) {
    long per_image = d->th * d->tw, m = d->m;
    for (long t = 0; t < nb; t++) {
        long g = t0 + t, img = g / per_image, rem = g % per_image;
        long r = m * (rem / d->tw), q = m * (rem % d->tw);
        o->base[t] = img * d->c * d->h * d->w;
        o->pr[t] = r - d->ph;
        o->pc[t] = q - d->pw;
        o->out[t] = (img * d->f * d->oh + r) * d->ow + q;
        o->kr[t] = (char)(d->oh - r < m ? d->oh - r : m);
        o->kc[t] = (char)(d->ow - q < m ? d->ow - q : m);
    }
    for (long t = nb - 1; t >= 0; t--) {
        long r0 = o->pr[t], c0 = o->pc[t];
        int inside = r0 >= 0 && c0 >= 0 && r0 + d->a <= d->h && c0 + d->a <= d->w;
        int whole = o->kr[t] == m && o->kc[t] == m;
        int beside = t + 1 < nb && o->pc[t + 1] == c0 + m;  /* the next one, same row */
        o->run_in[t] = !inside ? 0 : (beside && o->run_in[t + 1] ? o->run_in[t + 1] + 1 : 1);
        o->run_out[t] = !whole ? 0 : (beside && o->run_out[t + 1] ? o->run_out[t + 1] + 1 : 1);
    }
}

/* p[k][t] (ld tb), k = a*i + j: element (i, j) of tile t's patch in channel c, zero
   over the padding. Runs of inside tiles are copied as stride-m rows of x; an edge
   tile reads clamped positions (branch-free) and zeroes the outside ones. */
static void FN(gather_)(const wino_dims *d, const T *x, long c, const FN(wino_tiles_) *o,
                        long nb, T *restrict p) {
    long tb = d->tb, w = d->w, m = d->m;
    int a = d->a;
    for (long t = 0; t < nb;) {
        const T *plane = x + o->base[t] + c * d->h * w;
        long r0 = o->pr[t], c0 = o->pc[t], len = o->run_in[t];
        if (len > 0) {
            const T *src = plane + r0 * w + c0;
            for (int i = 0; i < a; i++)
                for (int j = 0; j < a; j++) {
                    const T *s = src + i * w + j;
                    T *dst = p + (a * i + j) * tb + t;
                    for (long k = 0; k < len; k++) dst[k] = s[m * k];
                }
            t += len;
            continue;
        }
        long rr[WINO_MAX_A], qq[WINO_MAX_A];
        int rok[WINO_MAX_A], qok[WINO_MAX_A];
        for (int i = 0; i < a; i++) {
            long r = r0 + i, q = c0 + i;
            rok[i] = r >= 0 && r < d->h;
            qok[i] = q >= 0 && q < w;
            rr[i] = r < 0 ? 0 : (r >= d->h ? d->h - 1 : r);
            qq[i] = q < 0 ? 0 : (q >= w ? w - 1 : q);
        }
        for (int i = 0; i < a; i++)
            for (int j = 0; j < a; j++) {
                T val = plane[rr[i] * w + qq[j]];
                p[(a * i + j) * tb + t] = rok[i] && qok[j] ? val : 0;
            }
        t++;
    }
}

/* V[e][c][t] = (B^T d B)[e] for the nb tiles, ld tb; p, s: a*a x tb scratch each. */
static void FN(input_transform_)(const wino_dims *d, const T *x, const FN(wino_tiles_) *o,
                                 long nb, T *restrict p, T *restrict s, T *restrict v) {
    long tb = d->tb, ct = d->c * tb;
    int a = d->a;
    for (long c = 0; c < d->c; c++) {
        FN(gather_)(d, x, c, o, nb, p);
        for (int j = 0; j < a; j++)          /* s = B^T p, column by column */
            FN(bt_)(a, p + j * tb, a * tb, s + j * tb, a * tb, nb);
        for (int i = 0; i < a; i++)          /* (B^T p) B, row by row */
            FN(bt_)(a, s + i * a * tb, tb, v + c * tb + i * a * ct, ct, nb);
    }
}

/* y's m x m outputs of each tile: A^T M A (+ b, ReLU), M[e] = m[e][f][t]; outputs past
   OH or OW are dropped. o: m*m x tb scratch, s: m*a x tb. */
static void FN(output_transform_)(const wino_dims *d, const T *restrict mm, const T *b,
                                  int relu, const FN(wino_tiles_) *ti, long nb,
                                  T *restrict o, T *restrict s, T *y) {
    long ft = d->f * d->tb, ohw = d->oh * d->ow, tb = d->tb, ow = d->ow;
    int a = d->a, m = d->m;
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
        for (long t = 0; t < nb;) {
            T *dst = y + ti->out[t] + f * ohw;
            long len = ti->run_out[t];
            if (len > 0) {  /* a run of whole tiles: m interleaved rows of y */
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < m; j++) {
                        T *dd = dst + i * ow + j;
                        const T *oo = o + (i * m + j) * tb + t;
                        for (long k = 0; k < len; k++) dd[m * k] = oo[k];
                    }
                t += len;
                continue;
            }
            for (int i = 0; i < ti->kr[t]; i++)
                for (int j = 0; j < ti->kc[t]; j++) dst[i * ow + j] = o[(i * m + j) * tb + t];
            t++;
        }
    }
}

/* Z[e][f][t] = (A dY A^T)[e] for dY the m x m tile of dy (zero past OH or OW), ld tb;
   q: m*m x tb scratch, s: a*m x tb. */
static void FN(dy_transform_)(const wino_dims *d, const T *dy, const FN(wino_tiles_) *ti,
                              long nb, T *restrict q, T *restrict s, T *restrict z) {
    long ft = d->f * d->tb, ohw = d->oh * d->ow, tb = d->tb, ow = d->ow;
    int a = d->a, m = d->m;
    for (long f = 0; f < d->f; f++) {
        for (long t = 0; t < nb;) {
            const T *src = dy + ti->out[t] + f * ohw;
            long len = ti->run_out[t];
            if (len > 0) {
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < m; j++) {
                        const T *ss = src + i * ow + j;
                        T *qq = q + (i * m + j) * tb + t;
                        for (long k = 0; k < len; k++) qq[k] = ss[m * k];
                    }
                t += len;
                continue;
            }
            for (int i = 0; i < m; i++)
                for (int j = 0; j < m; j++)
                    q[(i * m + j) * tb + t] =
                        i < ti->kr[t] && j < ti->kc[t] ? src[i * ow + j] : 0;
            t++;
        }
        for (int j = 0; j < m; j++)          /* s = A dY */
            FN(a_)(a, q + j * tb, m * tb, s + j * tb, m * tb, nb);
        for (int i = 0; i < a; i++)          /* (A dY) A^T */
            FN(a_)(a, s + i * m * tb, tb, z + f * tb + i * a * ft, ft, nb);
    }
}

/* This thread's V, M (or Z) and 2 scratch blocks: a*a * (C + F + 2) * tb elements. */
static T *FN(block_buffers_)(const wino_dims *d) {
    return mg_workspace(MG_WS_TILE, (size_t)d->aa * (d->c + d->f + 2) * d->tb * sizeof(T));
}

/* Forward of nb tiles from tile t0, on this thread. */
static int FN(forward_block_)(const wino_dims *d, const T *x, const T *u, const T *b,
                              int relu, long t0, long nb, T *y) {
    long cs = d->c * d->tb, fs = d->f * d->tb, fc = d->f * d->c;
    T *v = FN(block_buffers_)(d);
    if (v == NULL) return MG_ENOMEM;
    T *mm = v + d->aa * cs, *p = mm + d->aa * fs, *s = p + d->aa * d->tb;
    FN(wino_tiles_) ti;
    FN(tile_offsets_)(d, t0, nb, &ti);
    FN(input_transform_)(d, x, &ti, nb, p, s, v);
    int err = 0;
    for (int e = 0; e < d->aa && !err; e++)
        err = GEMM_SERIAL(0, 0, d->f, nb, d->c, (T)1, u + e * fc, d->c, v + e * cs, d->tb,
                          (T)0, mm + e * fs, d->tb);
    if (!err) FN(output_transform_)(d, mm, b, relu, &ti, nb, p, s, y);
    return err;
}

int WINO_FORWARD(const T *x, const T *w, const T *b, T *y, long n, long c, long h,
                 long wd, long f, long ph, long pw, int relu, int tile) {
    wino_dims d;
    if (wino_dims_init(&d, n, c, h, wd, f, ph, pw, tile) || !x || !w || !y) return MG_EINVAL;
    T *u = mg_workspace(MG_WS_WEIGHTS, (size_t)d.aa * f * c * sizeof(T));
    if (u == NULL) return MG_ENOMEM;
    FN(filter_transform_)(&d, w, u);
    long blocks = (d.tiles + d.tb - 1) / d.tb;
    int nt = mg_threads_avail(), err = 0;
    if (nt > blocks) nt = (int)blocks;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(| : err)
    for (long k = 0; k < blocks; k++) {
        long t0 = k * d.tb, nb = d.tiles - t0 < d.tb ? d.tiles - t0 : d.tb;
        err |= FN(forward_block_)(&d, x, u, b, relu, t0, nb, y);
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
    FN(wino_tiles_) ti;
    FN(tile_offsets_)(d, t0, nb, &ti);
    FN(input_transform_)(d, x, &ti, nb, p, s, v);
    FN(dy_transform_)(d, dy, &ti, nb, p, s, z);
    int err = 0;
    for (int e = 0; e < d->aa && !err; e++)
        err = GEMM_SERIAL(0, 1, d->f, d->c, nb, (T)1, z + e * fs, d->tb, v + e * cs, d->tb,
                          first ? (T)0 : (T)1, du + e * fc, d->c);
    return err;
}

/* Thread k sums the blocks k, k + nt, ... into its own dU; the partial sums are then
   added in thread order, so a given thread count always gives the same bits. */
int WINO_DW(const T *x, const T *dy, T *dw, long n, long c, long h, long wd, long f,
            long ph, long pw, int tile) {
    wino_dims d;
    if (wino_dims_init(&d, n, c, h, wd, f, ph, pw, tile) || !x || !dy || !dw)
        return MG_EINVAL;
    long blocks = (d.tiles + d.tb - 1) / d.tb, size = d.aa * f * c;
    int nt = mg_threads_avail(), err = 0;
    if (nt > blocks) nt = (int)blocks;
    T *du = mg_workspace(MG_WS_PARTIAL, (size_t)nt * size * sizeof(T));
    if (du == NULL) return MG_ENOMEM;
#pragma omp parallel num_threads(nt) reduction(| : err)
    {
        int k0 = 0;
#ifdef _OPENMP
        k0 = omp_get_thread_num();
#endif
        for (long k = k0; k < blocks && !err; k += nt) {
            long t0 = k * d.tb, nb = d.tiles - t0 < d.tb ? d.tiles - t0 : d.tb;
            err |= FN(dw_block_)(&d, x, dy, t0, nb, k == k0, du + k0 * size);
        }
    }
    if (err) return MG_ENOMEM;
    for (int k = 1; k < nt; k++)
        for (long i = 0; i < size; i++) du[i] += du[k * size + i];
    FN(filter_transform_t_)(&d, du, dw);
    return 0;
}

#undef WINO_FORWARD
#undef WINO_DW
#undef GEMM_SERIAL
