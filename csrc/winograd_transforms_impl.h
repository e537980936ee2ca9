/* The Winograd transforms for one element type T (T and SFX defined), included by
   winograd_impl.h: the 1-d transforms over streams of tiles, the filter transform and
   its transpose, the gather of tiles from the image, and the input, output and dy
   transforms of a block of tiles. winograd_impl.h drives them and the GEMMs between;
   winograd.c holds the matrices, the contract and the algorithm. */

/* out_i = sum_k B^T[i][k] in_k (a -> a), B^T of winograd.c. */
static void FN(bt_)(int a, const T *restrict in, long is, T *restrict out, long os,
                    long nb) {
    if (a == 4) {
#pragma omp simd
        for (long t = 0; t < nb; t++) {
            T x[4] = {in[t], in[is + t], in[2 * is + t], in[3 * is + t]}, o[4];
            WINO_BT4(x, o);
            for (int i = 0; i < 4; i++) out[i * os + t] = o[i];
        }
        return;
    }
#pragma omp simd
    for (long t = 0; t < nb; t++) {
        T x[6] = {in[t], in[is + t], in[2 * is + t], in[3 * is + t], in[4 * is + t],
                  in[5 * is + t]}, o[6];
        WINO_BT6(x, o);
        for (int i = 0; i < 6; i++) out[i * os + t] = o[i];
    }
}

/* out_i = sum_k A^T[i][k] in_k (a -> m), A^T of winograd.c. */
static void FN(at_)(int a, const T *restrict in, long is, T *restrict out, long os,
                    long nb) {
    if (a == 4) {
#pragma omp simd
        for (long t = 0; t < nb; t++) {
            T x[4] = {in[t], in[is + t], in[2 * is + t], in[3 * is + t]}, o[2];
            WINO_AT4(x, o);
            out[t] = o[0];
            out[os + t] = o[1];
        }
        return;
    }
#pragma omp simd
    for (long t = 0; t < nb; t++) {
        T x[6] = {in[t], in[is + t], in[2 * is + t], in[3 * is + t], in[4 * is + t],
                  in[5 * is + t]}, o[4];
        WINO_AT6(x, o);
        for (int i = 0; i < 4; i++) out[i * os + t] = o[i];
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

/* pb = rows [r0, r1) of channel plane `plane`, in padded coordinates (row r is the
   image's row r - ph), wp columns, the image's row at column pw. Only the image's
   pixels are written: the padding is the zeros input_transform_ put in pb once per
   block, as every channel of a block has the same rows at the same places. Rows of a
   few floats: the copies stay inline (a call to memmove per row cost more); floats
   of rows >= 8 wide go by 8, the last 8 overlapping. */
MG_NO_MEMCPY_CALLS
static void FN(pad_rows_)(const wino_dims *d, const T *plane, long r0, long r1,
                          T *restrict pb) {
    long wp = d->wp, w = d->w, lo = r0 > d->ph ? r0 : d->ph;
    long hi = r1 < d->ph + d->h ? r1 : d->ph + d->h;
    for (long r = lo; r < hi; r++) {
        const T *src = plane + (r - d->ph) * w;
        T *dst = pb + (r - r0) * wp + d->pw;
#if defined(__AVX__)
        if (sizeof(T) == sizeof(float) && w >= 8) {
            const float *s = (const float *)src;
            float *o = (float *)dst;
            long q = 0;
            for (; q + 8 <= w; q += 8) _mm256_storeu_ps(o + q, _mm256_loadu_ps(s + q));
            if (q < w) _mm256_storeu_ps(o + w - 8, _mm256_loadu_ps(s + w - 8));
            continue;
        }
#endif
        for (long q = 0; q < w; q++) dst[q] = src[q];
    }
}

/* The copy from a run of len side-by-side tiles to a*a streams of ld tb:
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

/* p[k][t] (ld tb), k = a*i + j: element (i, j) of d B, d tile t's patch in channel c.
   Per image the rows the block's tiles read are first copied, zero-padded, into pb
   (one region per image), so that every tile is then a plain strided read, the edge
   tiles too; floats go 8 tiles at a time through wino_patches8_f32, the rest run by
   run into the scratch s, then through bt_. */
static void FN(gather_)(const wino_dims *d, const T *x, long c, const wino_tiles *ti,
                        long nb, T *restrict pb, T *restrict s, T *restrict p) {
    long tb = d->tb, wp = d->wp, m = d->m;
    int a = d->a;
    const T *org[WINO_MAX_TB];               /* each tile's patch origin in pb */
    for (long t = 0; t < nb;) {
        long img = ti->img[t], end = t;
        while (end < nb && ti->img[end] == img) end++;
        long r0 = m * ti->row[t], r1 = m * ti->row[end - 1] + a;
        FN(pad_rows_)(d, x + (img * d->c + c) * d->h * d->w, r0, r1, pb);
        for (; t < end; t++) org[t] = pb + (m * ti->row[t] - r0) * wp + m * ti->col[t];
        pb += (r1 - r0) * wp;
    }
    long t = 0;
#if defined(__AVX__)
    if (sizeof(T) == sizeof(float))
        for (; t + 8 <= nb; t += 8)
            wino_patches8_f32((const float *const *)(org + t), wp, a, (float *)(p + t), tb);
#endif
    long t0 = t;
    for (; t < nb; t += ti->run[t]) {
        if (a == 6)
            FN(rows_to_streams_)(org[t], wp, ti->run[t], s + t, tb, 6, 4);
        else
            FN(rows_to_streams_)(org[t], wp, ti->run[t], s + t, tb, 4, 2);
    }
    for (int i = 0; t0 < nb && i < a; i++)  /* d B, row by row */
        FN(bt_)(a, s + a * i * tb + t0, tb, p + a * i * tb + t0, tb, nb - t0);
}

/* V[e] = (B^T d B)[e] for the nb tiles, each V[e] (C x tb) in panels of pw tiles
   (pw divides tb): element (c, t) at v[e * C * tb + (t / pw) * C * pw + c * pw + t % pw].
   pw = tb is the plain row-major V[e][c][t]; pw = NR the GEMM's packed-B layout.
   p, s: a*a x tb scratch each. */
static void FN(input_transform_)(const wino_dims *d, const T *x, const wino_tiles *ti,
                                 long nb, long pw, T *restrict p, T *restrict s,
                                 T *restrict pb, T *restrict v) {
    long tb = d->tb, ct = d->c * tb;
    int a = d->a;
    for (long k = 0; k < d->pb_rows * d->wp + 8; k++) pb[k] = 0;   /* see pad_rows_ */
    for (long c = 0; c < d->c; c++) {
        FN(gather_)(d, x, c, ti, nb, pb, s, p);
        for (long t0 = 0; t0 < nb; t0 += pw) /* B^T (d B), column by column, by panel */
            for (int j = 0; j < a; j++)
                FN(bt_)(a, p + j * tb + t0, a * tb, v + t0 * d->c + c * pw + j * ct, a * ct,
                        nb - t0 < pw ? nb - t0 : pw);
    }
}

/* The m x m outputs of tile t, streams o[(m*i + j) * tb], into y's plane yf of filter
   f, clipped to OH x OW. */
static inline __attribute__((always_inline)) void FN(store_tile_)(
    const wino_dims *d, const T *restrict o, const wino_tiles *ti, long t, T *yf,
    const int m) {
    long r = m * ti->row[t], q = m * ti->col[t], tb = d->tb, ow = d->ow;
    long rows = d->oh - r < m ? d->oh - r : m, cols = ow - q < m ? ow - q : m;
    T *dst = yf + ti->img[t] * d->f * d->oh * ow + r * ow + q;
    for (long i = 0; i < rows; i++)
        for (long j = 0; j < cols; j++) dst[i * ow + j] = o[(m * i + j) * tb + t];
}

/* y's m x m outputs of each tile: A^T M A (+ b, ReLU), M[e] = m[e][f][t]; outputs past
   OH or OW are dropped. o: m*m x tb scratch, s: m*a x tb. After the column pass (s =
   A^T M), F(4x4) floats finish 4 tiles at a time in registers (wino_out4_f32); the
   rest take the row pass into o, the bias and ReLU, and the scalar stores. */
static void FN(output_transform_)(const wino_dims *d, const T *restrict mm, const T *b,
                                  int relu, const wino_tiles *ti, long nb,
                                  T *restrict o, T *restrict s, T *y) {
    long ft = d->f * d->tb, tb = d->tb, ow = d->ow, m = d->m;
    int a = d->a;
    for (long f = 0; f < d->f; f++) {
        const T *src = mm + f * tb;
        T bias = b ? b[f] : 0, *yf = y + f * d->oh * ow;
        for (int j = 0; j < a; j++)          /* s = A^T M */
            FN(at_)(a, src + j * ft, a * ft, s + j * tb, a * tb, nb);
        long t = 0;
#if defined(__AVX__)
        for (long plane = d->f * d->oh * ow;
             sizeof(T) == sizeof(float) && m == 4 && t + 4 <= nb; t += 4) {
            float *dst[4];
            long rows[4], cols[4];
            for (int k = 0; k < 4; k++) {
                long r = 4 * ti->row[t + k], q = 4 * ti->col[t + k];
                rows[k] = d->oh - r < 4 ? d->oh - r : 4;
                cols[k] = ow - q < 4 ? ow - q : 4;
                dst[k] = (float *)yf + ti->img[t + k] * plane + r * ow + q;
            }
            wino_out4_f32((const float *)s + t, tb, b || relu, (float)bias, relu, dst, rows,
                          cols, ow);
        }
#endif
        if (t == nb) continue;
        for (int i = 0; i < m; i++)          /* (A^T M) A */
            FN(at_)(a, s + i * a * tb + t, tb, o + i * m * tb + t, tb, nb - t);
        if (b || relu) {                     /* NaN <= 0 is false: NaN is kept */
            for (int k = 0; k < m * m; k++) {
                T *ok = o + k * tb;
#pragma omp simd
                for (long u = t; u < nb; u++) {
                    T val = ok[u] + bias;
                    ok[u] = relu && val <= 0 ? 0 : val;
                }
            }
        }
        for (; t < nb; t++)
            if (m == 4)
                FN(store_tile_)(d, o, ti, t, yf, 4);
            else
                FN(store_tile_)(d, o, ti, t, yf, 2);
    }
}

/* q[(m*i + j) * tb + t] = element (i, j) of tile t's m x m tile of dy's plane dyf
   (filter f), zero past OH or OW. */
static inline __attribute__((always_inline)) void FN(load_tile_)(
    const wino_dims *d, const T *dyf, const wino_tiles *ti, long t, T *restrict q,
    const int m) {
    long r = m * ti->row[t], c = m * ti->col[t], tb = d->tb, ow = d->ow;
    long rows = d->oh - r < m ? d->oh - r : m, cols = ow - c < m ? ow - c : m;
    const T *src = dyf + ti->img[t] * d->f * d->oh * ow + r * ow + c;
    for (long i = 0; i < m; i++)
        for (long j = 0; j < m; j++)
            q[(m * i + j) * tb + t] = i < rows && j < cols ? src[i * ow + j] : 0;
}

/* The block's dy tiles of filter f (plane dyf) into q: F(4x4) floats 4 tiles at a time
   through wino_load4_f32, the rest one by one (literal m). */
static void FN(load_tiles_)(const wino_dims *d, const T *dyf, const wino_tiles *ti,
                            long nb, T *restrict q) {
    long t = 0;
#if defined(__AVX__)
    for (long ow = d->ow, plane = d->f * d->oh * ow;
         sizeof(T) == sizeof(float) && d->m == 4 && t + 4 <= nb; t += 4) {
        const float *src[4];
        long rows[4], cols[4];
        for (int k = 0; k < 4; k++) {
            long r = 4 * ti->row[t + k], c = 4 * ti->col[t + k];
            rows[k] = d->oh - r < 4 ? d->oh - r : 4;
            cols[k] = ow - c < 4 ? ow - c : 4;
            src[k] = (const float *)dyf + ti->img[t + k] * plane + r * ow + c;
        }
        wino_load4_f32(src, rows, cols, ow, (float *)q + t, d->tb);
    }
#endif
    for (; t < nb; t++)
        if (d->m == 4)
            FN(load_tile_)(d, dyf, ti, t, q, 4);
        else
            FN(load_tile_)(d, dyf, ti, t, q, 2);
}

/* Z[e][f][t] = (A dY A^T)[e] for dY the m x m tile of dy (zero past OH or OW), ld tb;
   q: m*m x tb scratch, s: a*m x tb. */
static void FN(dy_transform_)(const wino_dims *d, const T *dy, const wino_tiles *ti,
                              long nb, T *restrict q, T *restrict s, T *restrict z) {
    long ft = d->f * d->tb, tb = d->tb, m = d->m;
    int a = d->a;
    for (long f = 0; f < d->f; f++) {
        FN(load_tiles_)(d, dy + f * d->oh * d->ow, ti, nb, q);
        for (int j = 0; j < m; j++)          /* s = A dY */
            FN(a_)(a, q + j * tb, m * tb, s + j * tb, m * tb, nb);
        for (int i = 0; i < a; i++)          /* (A dY) A^T */
            FN(a_)(a, s + i * m * tb, tb, z + f * tb + i * a * ft, ft, nb);
    }
}
