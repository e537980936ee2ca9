/* conv2d forward and backward (cross-correlation, zero padding, as PyTorch).

   Layouts (row-major, contiguous): x and dx (N, C, H, W); w and dw (F, C, KH, KW);
   b and db (F,) or NULL; y and dy (N, F, OH, OW) with OH = (H + 2*ph - KH) / sh + 1,
   OW likewise. Every output is overwritten (dw and db are sums over the batch, formed
   in the kernel); dx, dw, db may each be NULL (not computed).

   Each image is a GEMM against B = its im2col matrix (C*KH*KW, OH*OW): the input window
   of every output pixel, zeros where it covers padding. Which way B is formed:
     implicit GEMM (the main path: stride 1, padding < kernel, C*KH*KW >= 64, one
       thread per image; conv2d_impl.h): the GEMM packs B straight from a zero-padded
       copy of the image (mg_gemm_implicit_b), so B is never written.
         forward  y  = w (F, CKK) @ B (+ b)
         dW       dw = sum_n dy[n] @ B^T
         dX       dx = the stride-1 convolution of dy, padded by KH-1-ph, KW-1-pw, with
                  the flipped, transposed weights (C >= 16; else as below)
     direct loops (stride 1, at most MG_DIRECT_TAPS taps, e.g. a first layer on
       1-channel images; conv2d_direct_impl.h): y accumulated in registers from the
       padded image; dW and db as 16-lane partial sums over its shifted rows.
     1x1, stride 1, no padding: B is x itself.
     im2col + GEMM otherwise (strided convolutions, and the threaded GEMM used when
       there are fewer images than threads): B is written to the thread's workspace;
       dX = col2im(w^T @ dy[n]).
   db = dy summed over N, OH, OW.
   Threads: with at least as many images as threads, images are spread over the pool's
   threads (static schedule), each summing its own partial dw/db; the partials are
   added in thread order, so results are repeatable for a given thread count. With
   fewer images the GEMM itself is threaded. Scratch buffers are the thread's
   workspaces (mg_workspace): no allocation per call in steady state.
   Errors: MG_EINVAL (-1) for non-positive sizes, a kernel larger than the padded
   input, or a derived size (padded image, im2col matrix, output) whose byte count
   overflows a long, before anything is written; MG_ENOMEM (-2). */
#include <stdint.h>
#include "minigrad_api.h"
#include "mg_internal.h"
#include <string.h>


/* Direct kernels: outputs per register block along a row, and the most taps
   (C*KH*KW) for which they beat im2col + GEMM (measured: 1->32 3x3 on 28x28). */
#define DB 32
#define MG_DIRECT_TAPS 32

typedef struct {
    long n, c, h, w, f, kh, kw, sh, sw, ph, pw, oh, ow;
} conv_dims;

/* Fills d, or returns MG_EINVAL for non-positive sizes, a kernel larger than the
   padded input, or a size product that does not fit in a long. Every buffer any path
   may touch is counted in bytes of the widest element (double): x, y and w, the
   zero-padded image plus DB of slack, one image's im2col matrix and the implicit
   path's F x OH*wp product; so no index below can wrap. */
static int conv_dims_init(conv_dims *d, long n, long c, long h, long w, long f, long kh,
                          long kw, long sh, long sw, long ph, long pw) {
    const long e = (long)sizeof(double);
    long hp, wp, t;
    if (n < 1 || c < 1 || h < 1 || w < 1 || f < 1 || kh < 1 || kw < 1 || sh < 1 ||
        sw < 1 || ph < 0 || pw < 0)
        return MG_EINVAL;
    if (MG_PRODUCT(&t, 2, ph) || mg_sum(&hp, h, t) || MG_PRODUCT(&t, 2, pw) ||
        mg_sum(&wp, w, t) || hp < kh || wp < kw)
        return MG_EINVAL;
    d->n = n; d->c = c; d->h = h; d->w = w; d->f = f; d->kh = kh; d->kw = kw;
    d->sh = sh; d->sw = sw; d->ph = ph; d->pw = pw;
    d->oh = (hp - kh) / sh + 1;
    d->ow = (wp - kw) / sw + 1;
    if (MG_PRODUCT(&t, n, c, h, w, e) || MG_PRODUCT(&t, n, f, d->oh, d->ow, e) ||
        MG_PRODUCT(&t, f, c, kh, kw, e) || MG_PRODUCT(&t, c, hp, wp) ||
        mg_sum(&t, t, DB) || MG_PRODUCT(&t, t, e) ||
        MG_PRODUCT(&t, c, kh, kw, d->oh, d->ow, e) || MG_PRODUCT(&t, f, d->oh, wp, e))
        return MG_EINVAL;
    return 0;
}

static int is_direct(const conv_dims *d) {
    return d->sh == 1 && d->sw == 1 && d->c * d->kh * d->kw <= MG_DIRECT_TAPS;
}

static int is_pointwise(const conv_dims *d) {
    return d->kh == 1 && d->kw == 1 && d->sh == 1 && d->sw == 1 && d->ph == 0 && d->pw == 0;
}

/* Stride 1 with padding smaller than the kernel (so dx is a stride-1 convolution of
   dy too), rows short enough for the DB elements of slack after the padded image (the
   padded-width product's last column reads KW - 2 past the image's end; the GEMM's
   packing reads no further, mg_internal.h), and at least 64 taps: with fewer (a first
   layer, C*9 = 9) the direct kernels win (conv2d_direct_impl.h). */
static int is_implicit(const conv_dims *d) {
    return d->sh == 1 && d->sw == 1 && d->ph < d->kh && d->pw < d->kw && d->kw <= DB
           && d->c * d->kh * d->kw >= 64 && !is_pointwise(d);
}

/* koff[(c*KH + i)*KW + j] = (c*hp + i)*wp + j: where tap (c, i, j) of output pixel
   (0, 0) lies in the zero-padded image; with stride 1, pixel (oh, ow) adds oh*wp + ow. */
static void tap_offsets(const conv_dims *d, long *koff) {
    long hp = d->h + 2 * d->ph, wp = d->w + 2 * d->pw;
    for (long c = 0; c < d->c; c++)
        for (long i = 0; i < d->kh; i++)
            for (long j = 0; j < d->kw; j++)
                koff[(c * d->kh + i) * d->kw + j] = (c * hp + i) * wp + j;
}

/* The dims of dx as a stride-1 convolution of dy ("full" correlation): dy's F channels
   padded by KH-1-ph, KW-1-pw, and C filters of the flipped, transposed weights.
   MG_EINVAL when its buffers would not fit (checked once per call, before the images). */
static int dx_as_conv(const conv_dims *d, conv_dims *t) {
    return conv_dims_init(t, d->n, d->f, d->oh, d->ow, d->c, d->kh, d->kw, 1, 1,
                          d->kh - 1 - d->ph, d->kw - 1 - d->pw);
}

#define T float
#define SFX f32
#define CONV2D_FORWARD mg_conv2d_forward_f32
#define CONV2D_BACKWARD mg_conv2d_backward_f32
#define GEMM_THREADED mg_gemm_threaded_f32
#define GEMM_IMPLICIT_B mg_gemm_implicit_b_f32
#include "conv2d_direct_impl.h"
#include "conv2d_impl.h"
#undef T
#undef SFX
#define T double
#define SFX f64
#define CONV2D_FORWARD mg_conv2d_forward_f64
#define CONV2D_BACKWARD mg_conv2d_backward_f64
#define GEMM_THREADED mg_gemm_threaded_f64
#define GEMM_IMPLICIT_B mg_gemm_implicit_b_f64
#include "conv2d_direct_impl.h"
#include "conv2d_impl.h"
