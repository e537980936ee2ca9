/* Winograd F(2x2, 3x3) for one element type T, included by winograd.c once per type
   (T, SFX, WINO_FORWARD, GEMM_SERIAL). Contract: winograd.c's header.
   Loop nest: filter transform (f, c) once; then tile blocks (OpenMP threads):
     tile offsets and runs of side-by-side tiles;
     input transform (c: gather patches, then a simd loop over tiles) -> V[e][c][t];
     16 GEMMs M[e] = U[e] @ V[e];
     output transform (f: a simd loop over tiles, then the stores, bounds-checked). */

/* U[e][f][c] = (G g G^T)[e] for g = w[f][c] (3x3), G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]. */
static void FN(filter_transform_)(const wino_dims *d, const T *w, T *restrict u) {
    long fc = d->f * d->c;
    for (long k = 0; k < fc; k++) {
        const T *g = w + 9 * k;
        T t[4][3], r[4][4];
        for (int j = 0; j < 3; j++) {      /* t = G g */
            t[0][j] = g[j];
            t[1][j] = (T)0.5 * (g[j] + g[3 + j] + g[6 + j]);
            t[2][j] = (T)0.5 * (g[j] - g[3 + j] + g[6 + j]);
            t[3][j] = g[6 + j];
        }
        for (int i = 0; i < 4; i++) {      /* r = t G^T */
            r[i][0] = t[i][0];
            r[i][1] = (T)0.5 * (t[i][0] + t[i][1] + t[i][2]);
            r[i][2] = (T)0.5 * (t[i][0] - t[i][1] + t[i][2]);
            r[i][3] = t[i][2];
        }
        for (int e = 0; e < 16; e++) u[e * fc + k] = r[e / 4][e % 4];
    }
}

/* Where the nb tiles from tile t0 lie: in[t], the offset in x of the top-left of the
   tile's 4x4 patch (channel 0; it may point into padding), at row pr[t] and column
   pc[t] of its plane; edge[t] != 0 when the patch leaves the image; out[t], the offset
   in y of the tile's first output (filter 0); rc[t] = 2 * (second row kept) + (second
   column kept). run_in[t] / run_out[t]: how many tiles from t on lie side by side in
   one row (2 apart), all inside the image / all keeping their 4 outputs, so the
   transforms move them as strided runs the compiler vectorizes. */
static void FN(tile_offsets_)(const wino_dims *d, long t0, long nb, long *in, long *pr,
                              long *pc, char *edge, long *out, char *rc, long *run_in,
                              long *run_out) {
    long per_image = d->th * d->tw;
    for (long t = 0; t < nb; t++) {
        long g = t0 + t, img = g / per_image, rem = g % per_image;
        long r = 2 * (rem / d->tw), q = 2 * (rem % d->tw);
        long r0 = r - d->ph, c0 = q - d->pw;
        in[t] = (img * d->c * d->h + r0) * d->w + c0;
        pr[t] = r0;
        pc[t] = c0;
        edge[t] = !(r0 >= 0 && c0 >= 0 && r0 + 4 <= d->h && c0 + 4 <= d->w);
        out[t] = (img * d->f * d->oh + r) * d->ow + q;
        rc[t] = (char)(2 * (r + 1 < d->oh) + (q + 1 < d->ow));
    }
    for (long t = nb - 1; t >= 0; t--) {
        int beside = t + 1 < nb && pc[t + 1] == pc[t] + 2;   /* the next one, same row */
        run_in[t] = edge[t] ? 0 : (beside && !edge[t + 1] ? run_in[t + 1] + 1 : 1);
        run_out[t] = rc[t] != 3 ? 0 : (beside && rc[t + 1] == 3 ? run_out[t + 1] + 1 : 1);
    }
}

/* p[k][t] (ld tb), k = 4i + j, for one tile at the image's edge: its patch element
   (i, j) from channel plane `plane`, zero where it covers padding. Branch-free: every
   load is from a clamped position inside the plane. */
static void FN(gather_edge_)(const wino_dims *d, const T *plane, long r0, long c0,
                             T *restrict p, long t) {
    long rr[4], qq[4];
    int rok[4], qok[4];
    for (int i = 0; i < 4; i++) {
        long r = r0 + i, q = c0 + i;
        rok[i] = r >= 0 && r < d->h;
        qok[i] = q >= 0 && q < d->w;
        rr[i] = r < 0 ? 0 : (r >= d->h ? d->h - 1 : r);
        qq[i] = q < 0 ? 0 : (q >= d->w ? d->w - 1 : q);
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            T val = plane[rr[i] * d->w + qq[j]];
            p[(4 * i + j) * d->tb + t] = rok[i] && qok[j] ? val : 0;
        }
}

/* p[k][t] = element k = 4i + j of tile t's patch in channel c, ld tb: runs of inside
   tiles as stride-2 rows of x, edge tiles one by one. */
static void FN(gather_)(const wino_dims *d, const T *x, long c, const long *in,
                        const long *pr, const long *pc, const long *run_in, long nb,
                        T *restrict p) {
    long hw = d->h * d->w, tb = d->tb, w = d->w;
    for (long t = 0; t < nb;) {
        const T *src = x + in[t] + c * hw;
        if (run_in[t] == 0) {
            FN(gather_edge_)(d, src - pr[t] * w - pc[t], pr[t], pc[t], p, t);
            t++;
            continue;
        }
        long len = run_in[t];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                const T *s = src + i * w + j;
                T *dst = p + (4 * i + j) * tb + t;
                for (long k = 0; k < len; k++) dst[k] = s[2 * k];
            }
        t += len;
    }
}

/* V[e][c][t] = (B^T d B)[e] for the nb tiles at in[], ld tb;
   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. Per channel, the patches are first
   gathered into p[16][tb], so that the transform itself runs as one vectorizable loop
   over the tiles writing 16 streams in order. */
static void FN(input_transform_)(const wino_dims *d, const T *x, const long *in,
                                 const long *pr, const long *pc, const long *run_in, long nb,
                                 T *restrict p, T *restrict v) {
    long ct = d->c * d->tb, tb = d->tb;
    for (long c = 0; c < d->c; c++) {
        FN(gather_)(d, x, c, in, pr, pc, run_in, nb, p);
        T *o = v + c * tb;
        /* Plain scalars, not a local array, and simd: GCC vectorizes the loop only so. */
#pragma omp simd
        for (long t = 0; t < nb; t++) {
#define P_(k) p[(k) * tb + t]
#define ROW_(i, a0, a1, a2, a3)                         \
    o[(4 * (i) + 0) * ct + t] = (a0) - (a2);            \
    o[(4 * (i) + 1) * ct + t] = (a1) + (a2);            \
    o[(4 * (i) + 2) * ct + t] = (a2) - (a1);            \
    o[(4 * (i) + 3) * ct + t] = (a1) - (a3);
            /* rows of B^T p, then each times B */
            ROW_(0, P_(0) - P_(8), P_(1) - P_(9), P_(2) - P_(10), P_(3) - P_(11))
            ROW_(1, P_(4) + P_(8), P_(5) + P_(9), P_(6) + P_(10), P_(7) + P_(11))
            ROW_(2, P_(8) - P_(4), P_(9) - P_(5), P_(10) - P_(6), P_(11) - P_(7))
            ROW_(3, P_(4) - P_(12), P_(5) - P_(13), P_(6) - P_(14), P_(7) - P_(15))
#undef ROW_
#undef P_
        }
    }
}

/* y's 2x2 outputs of each tile: A^T m A (+ b, ReLU) with A^T = [1 1 1 0; 0 1 -1 -1],
   m[e] = M[e][f][t]; outputs past OH or OW are dropped. Per filter, one vectorizable
   loop over the tiles reads the 16 streams in order into o[4][tb]; a scalar loop then
   stores each tile's kept outputs. */
static void FN(output_transform_)(const wino_dims *d, const T *restrict m, const T *b,
                                  int relu, const long *out, const char *rc,
                                  const long *run_out, long nb, T *restrict o, T *y) {
    long ft = d->f * d->tb, ohw = d->oh * d->ow, tb = d->tb, ow = d->ow;
    for (long f = 0; f < d->f; f++) {
        T bias = b ? b[f] : 0;
        const T *src = m + f * tb;
#pragma omp simd
        for (long t = 0; t < nb; t++) {
            T s[2][4];
            for (int j = 0; j < 4; j++) {  /* s = A^T m */
                s[0][j] = src[j * ft + t] + src[(4 + j) * ft + t] + src[(8 + j) * ft + t];
                s[1][j] = src[(4 + j) * ft + t] - src[(8 + j) * ft + t] -
                          src[(12 + j) * ft + t];
            }
            for (int i = 0; i < 2; i++) {  /* (A^T m) A + b; NaN <= 0 is false: kept */
                T o0 = s[i][0] + s[i][1] + s[i][2] + bias;
                T o1 = s[i][1] - s[i][2] - s[i][3] + bias;
                o[(2 * i) * tb + t] = relu && o0 <= 0 ? 0 : o0;
                o[(2 * i + 1) * tb + t] = relu && o1 <= 0 ? 0 : o1;
            }
        }
        for (long t = 0; t < nb;) {
            T *dst = y + out[t] + f * ohw;
            if (run_out[t] > 0) {  /* a run of whole tiles: two interleaved rows of y */
                long len = run_out[t];
                for (long k = 0; k < len; k++) {
                    dst[2 * k] = o[t + k];
                    dst[2 * k + 1] = o[tb + t + k];
                    dst[ow + 2 * k] = o[2 * tb + t + k];
                    dst[ow + 2 * k + 1] = o[3 * tb + t + k];
                }
                t += len;
                continue;
            }
            dst[0] = o[t];
            if (rc[t] & 1) dst[1] = o[tb + t];
            if (rc[t] & 2) dst[ow] = o[2 * tb + t];
            t++;
        }
    }
}

/* One block of nb tiles from tile t0, on this thread, V and M in its workspace. */
static int FN(block_)(const wino_dims *d, const T *x, const T *u, const T *b, int relu,
                      long t0, long nb, T *y) {
    long cs = d->c * d->tb, fs = d->f * d->tb, fc = d->f * d->c;
    /* V, M, and the 16 x TB gather buffer of the transforms */
    T *v = mg_workspace(MG_WS_TILE, (size_t)16 * (cs + fs + d->tb) * sizeof(T));
    if (v == NULL) return MG_ENOMEM;
    T *m = v + 16 * cs, *scratch = m + 16 * fs;
    long in[WINO_MAX_TB], pr[WINO_MAX_TB], pc[WINO_MAX_TB], out[WINO_MAX_TB];
    long run_in[WINO_MAX_TB], run_out[WINO_MAX_TB];
    char edge[WINO_MAX_TB], rc[WINO_MAX_TB];
    FN(tile_offsets_)(d, t0, nb, in, pr, pc, edge, out, rc, run_in, run_out);
    FN(input_transform_)(d, x, in, pr, pc, run_in, nb, scratch, v);
    int err = 0;
    for (int e = 0; e < 16 && !err; e++)
        err = GEMM_SERIAL(0, 0, d->f, nb, d->c, (T)1, u + e * fc, d->c, v + e * cs, d->tb,
                          (T)0, m + e * fs, d->tb);
    if (!err) FN(output_transform_)(d, m, b, relu, out, rc, run_out, nb, scratch, y);
    return err;
}

int WINO_FORWARD(const T *x, const T *w, const T *b, T *y, long n, long c, long h,
                 long wd, long f, long ph, long pw, int relu) {
    wino_dims d;
    if (wino_dims_init(&d, n, c, h, wd, f, ph, pw) || !x || !w || !y) return MG_EINVAL;
    T *u = mg_workspace(MG_WS_WEIGHTS, (size_t)16 * f * c * sizeof(T));
    if (u == NULL) return MG_ENOMEM;
    FN(filter_transform_)(&d, w, u);
    long blocks = (d.tiles + d.tb - 1) / d.tb;
    int nt = mg_threads_avail(), err = 0;
    if (nt > blocks) nt = (int)blocks;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(| : err)
    for (long k = 0; k < blocks; k++) {
        long t0 = k * d.tb, nb = d.tiles - t0 < d.tb ? d.tiles - t0 : d.tb;
        err |= FN(block_)(&d, x, u, b, relu, t0, nb, y);
    }
    return err ? MG_ENOMEM : 0;
}

#undef WINO_FORWARD
#undef GEMM_SERIAL
