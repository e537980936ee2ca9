/* Winograd F(m x m, 3x3) for one element type T, included by winograd.c once per type
   (T, SFX, WINO_FORWARD, WINO_DW, GEMM_SERIAL, GEMM_PACKED_AB, GEMM_PACK_A,
   GEMM_PACKED_A_LEN, GEMM_NR). Contract and algorithm: winograd.c.
   Loop nest of both kernels: filter transform (f, c) once; then tile blocks (pool threads):
     tile offsets and runs of side-by-side tiles;
     input transform (c: gather the a x a patches times B into p[a*a][tb] (floats:
       8 tiles at a time in registers), then B^T's pass, a simd loop over the tiles)
       -> V[e][c][t]; the forward
       writes V[e] straight in the GEMM's packed-B layout (panels of NR tiles), so its
       GEMMs pack neither operand;
     forward: a*a GEMMs M[e] = U[e] @ V[e]; output transform (f: two passes, bias and
       ReLU, then the stores, bounds-checked);
     dw: dy transform (f: gather m x m tiles, two passes) -> Z[e][f][t]; a*a GEMMs
       dU[e] += Z[e] @ V[e]^T into this thread's partial sums.
   A 1-d transform maps streams of nb tiles, in[k * is + t] -> out[i * os + t]: the
   compiler vectorizes each over t, and the 2-d transform is a column pass then a row
   pass through a scratch block that stays in L1/L2. The transforms live in
   winograd_transforms_impl.h; this file holds the block drivers and the entry points. */

#include "winograd_transforms_impl.h"

/* This thread's V, M (or Z), 2 scratch blocks and the padded rows: a*a * (C + F + 2)
   * tb + pb_rows * wp elements, plus 8 past them that wino_patches8_f32 may read. */
static T *FN(block_buffers_)(const wino_dims *d) {
    return mg_workspace(MG_WS_TILE, ((size_t)d->aa * (d->c + d->f + 2) * d->tb +
                                     (size_t)d->pb_rows * d->wp + 8) * sizeof(T));
}

/* Forward of nb tiles from tile t0, on this thread. up: the a*a products' weights
   U[e] packed once per call (GEMM_PACK_A, plen elements each), V then in NR-tile
   panels (GEMM_PACKED_AB); or NULL when C exceeds one k block of the GEMM (then each
   product packs u + e*F*C and V[e], one panel of tb tiles, itself). */
static int FN(forward_block_)(const wino_dims *d, const T *x, const T *u, const T *up,
                              long plen, const T *b, int relu, long t0, long nb, T *y) {
    long cs = d->c * d->tb, fs = d->f * d->tb, fc = d->f * d->c;
    T *v = FN(block_buffers_)(d);
    if (v == NULL) return MG_ENOMEM;
    T *mm = v + d->aa * cs, *p = mm + d->aa * fs, *s = p + d->aa * d->tb;
    wino_tiles ti;
    FN(tile_offsets_)(d, t0, nb, &ti);
    FN(input_transform_)(d, x, &ti, nb, up != NULL ? GEMM_NR : d->tb, p, s,
                         s + d->aa * d->tb, v);
    int err = 0;
    for (int e = 0; e < d->aa && !err; e++)
        err = up != NULL
            ? GEMM_PACKED_AB(d->f, nb, d->c, up + e * plen, v + e * cs, (T)0, mm + e * fs,
                             d->tb)
            : GEMM_SERIAL(0, 0, d->f, nb, d->c, (T)1, u + e * fc, d->c, v + e * cs, d->tb,
                          (T)0, mm + e * fs, d->tb);
    if (!err) FN(output_transform_)(d, mm, b, relu, &ti, nb, p, s, y);
    return err;
}

/* The arguments of a Winograd kernel, shared by the threads' parts. */
typedef struct {
    const wino_dims *d;
    const T *x, *dy, *u, *up, *b;
    T *y, *du;
    long plen, blocks, size;
    int relu;
} FN(wino_job_);

/* Forward of the tile blocks [lo, hi), on this thread. */
static int FN(forward_blocks_)(void *p, long lo, long hi) {
    const FN(wino_job_) *q = p;
    const wino_dims *d = q->d;
    int err = 0;
    for (long k = lo; k < hi && !err; k++) {
        long t0 = k * d->tb, nb = d->tiles - t0 < d->tb ? d->tiles - t0 : d->tb;
        err = FN(forward_block_)(d, q->x, q->u, q->up, q->plen, q->b, q->relu, t0, nb, q->y);
    }
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
    int nt = mg_threads_avail();
    FN(wino_job_) q = {.d = &d, .x = x, .u = u, .up = up, .b = b, .y = y, .plen = plen,
                       .relu = relu};
    return mg_parallel_for(nt, blocks, FN(forward_blocks_), &q) ? MG_ENOMEM : 0;
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
    FN(input_transform_)(d, x, &ti, nb, d->tb, p, s, s + d->aa * d->tb, v);
    FN(dy_transform_)(d, dy, &ti, nb, p, s, z);
    int err = 0;
    for (int e = 0; e < d->aa && !err; e++)
        err = GEMM_SERIAL(0, 1, d->f, d->c, nb, (T)1, z + e * fs, d->tb, v + e * cs, d->tb,
                          first ? (T)0 : (T)1, du + e * fc, d->c);
    return err;
}

/* Part k of nt sums the blocks k, k + nt, ... into its own dU (du + k * size); the
   partial sums are then added in part order, so a given thread count always gives the
   same bits. */
static int FN(dw_blocks_)(void *p, int k0, int nt) {
    const FN(wino_job_) *q = p;
    const wino_dims *d = q->d;
    int err = 0;
    for (long k = k0; k < q->blocks && !err; k += nt) {
        long t0 = k * d->tb, nb = d->tiles - t0 < d->tb ? d->tiles - t0 : d->tb;
        err = FN(dw_block_)(d, q->x, q->dy, t0, nb, k == k0, q->du + k0 * q->size);
    }
    return err;
}

int WINO_DW(const T *x, const T *dy, T *dw, long n, long c, long h, long wd, long f,
            long ph, long pw, int tile) {
    wino_dims d;
    if (wino_dims_init(&d, n, c, h, wd, f, ph, pw, tile) || !x || !dy || !dw)
        return MG_EINVAL;
    long blocks = (d.tiles + d.tb - 1) / d.tb, size = d.aa * f * c;
    int nt = mg_threads_avail();
    if (nt > blocks) nt = (int)blocks;
    long bytes;
    if (MG_PRODUCT(&bytes, nt, size, (long)sizeof(T))) return MG_EINVAL;
    T *du = mg_workspace(MG_WS_PARTIAL, (size_t)bytes);
    if (du == NULL) return MG_ENOMEM;
    FN(wino_job_) q = {.d = &d, .x = x, .dy = dy, .du = du, .blocks = blocks, .size = size};
    if (mg_parallel(nt, FN(dw_blocks_), &q)) return MG_ENOMEM;
    for (int k = 1; k < nt; k++)
        for (long i = 0; i < size; i++) du[i] += du[k * size + i];
    FN(filter_transform_t_)(&d, du, dw);
    return 0;
}

#undef WINO_FORWARD
#undef WINO_DW
#undef GEMM_SERIAL
#undef GEMM_PACKED_AB
#undef GEMM_NR
#undef GEMM_PACK_A
#undef GEMM_PACKED_A_LEN
