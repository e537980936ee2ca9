/* Every function minigrad._C exports. Plain C declarations only: cffi's cdef reads
   this file as it is. Each kernel returns 0 on success or a negative code:
   -1 invalid sizes, strides or arguments; -2 out of memory. Sizes are element counts,
   strides ("ld", "stride") are in elements. */
int mg_num_threads(void);
void mg_set_num_threads(int n);
const char *mg_build_info(void);
/* Reserves (touches) the calling thread's GEMM packing buffers, sized from gemm.c's
   cache blocks; starts no thread (each pool worker reserves its own when it starts). */
int mg_warmup(void);
/* Unmaps the workspaces of the calling thread and of the pool's workers (a thread's
   are also unmapped when it exits); the next kernel call maps them again. */
void mg_release_workspaces(void);
/* The pool's own check, for tests (workers.c): runs a job of nt parts; part t writes
   out[3 * t] = its tid, out[3 * t + 1] = mg_threads_avail() inside it, out[3 * t + 2]
   = 1 when a job of nt parts started from inside it ran all of them on its thread.
   Returns the OR of the parts' results (0). */
int mg_pool_selftest(int nt, int *out);

int mg_gemm_f32(int trans_a, int trans_b, long m, long n, long k, float alpha,
                const float *a, long lda, const float *b, long ldb, float beta,
                float *c, long ldc);
int mg_gemm_f64(int trans_a, int trans_b, long m, long n, long k, double alpha,
                const double *a, long lda, const double *b, long ldb, double beta,
                double *c, long ldc);
int mg_gemm_batch_f32(int trans_a, int trans_b, long batch, long m, long n, long k,
                      float alpha, const float *a, long lda, long stride_a,
                      const float *b, long ldb, long stride_b, float beta,
                      float *c, long ldc, long stride_c);
int mg_gemm_batch_f64(int trans_a, int trans_b, long batch, long m, long n, long k,
                      double alpha, const double *a, long lda, long stride_a,
                      const double *b, long ldb, long stride_b, double beta,
                      double *c, long ldc, long stride_c);

/* conv2d: x (n, c, h, w), w (f, c, kh, kw), b (f) or NULL, y/dy (n, f, oh, ow).
   Backward outputs dx, dw, db may be NULL (not computed). */
int mg_conv2d_forward_f32(const float *x, const float *w, const float *b, float *y,
                          long n, long c, long h, long wd, long f, long kh, long kw,
                          long sh, long sw, long ph, long pw);
int mg_conv2d_forward_f64(const double *x, const double *w, const double *b, double *y,
                          long n, long c, long h, long wd, long f, long kh, long kw,
                          long sh, long sw, long ph, long pw);
int mg_conv2d_backward_f32(const float *x, const float *w, const float *dy, float *dx,
                           float *dw, float *db, long n, long c, long h, long wd, long f,
                           long kh, long kw, long sh, long sw, long ph, long pw);
int mg_conv2d_backward_f64(const double *x, const double *w, const double *dy, double *dx,
                           double *dw, double *db, long n, long c, long h, long wd, long f,
                           long kh, long kw, long sh, long sw, long ph, long pw);

/* Winograd F(tile x tile, 3x3) conv2d, tile 2 or 4 (winograd.c): x (n, c, h, w),
   w and dw (f, c, 3, 3), b (f) or NULL, y and dy (n, f, h + 2ph - 2, wd + 2pw - 2);
   stride 1; relu != 0 fuses ReLU into the forward. */
int mg_conv2d_winograd_forward_f32(const float *x, const float *w, const float *b,
                                   float *y, long n, long c, long h, long wd, long f,
                                   long ph, long pw, int relu, int tile);
int mg_conv2d_winograd_forward_f64(const double *x, const double *w, const double *b,
                                   double *y, long n, long c, long h, long wd, long f,
                                   long ph, long pw, int relu, int tile);
int mg_conv2d_winograd_backward_weight_f32(const float *x, const float *dy, float *dw,
                                           long n, long c, long h, long wd, long f,
                                           long ph, long pw, int tile);
int mg_conv2d_winograd_backward_weight_f64(const double *x, const double *dy, double *dw,
                                           long n, long c, long h, long wd, long f,
                                           long ph, long pw, int tile);

/* Pooling: x/dx (n, c, h, w); y/dy/argmax (n, c, oh, ow). */
int mg_maxpool2d_forward_f32(const float *x, float *y, int64_t *argmax, long n, long c,
                             long h, long w, long kh, long kw, long sh, long sw);
int mg_maxpool2d_forward_f64(const double *x, double *y, int64_t *argmax, long n, long c,
                             long h, long w, long kh, long kw, long sh, long sw);
int mg_maxpool2d_backward_f32(const float *dy, const int64_t *argmax, float *dx, long n,
                              long c, long h, long w, long oh, long ow);
int mg_maxpool2d_backward_f64(const double *dy, const int64_t *argmax, double *dx, long n,
                              long c, long h, long w, long oh, long ow);
int mg_avgpool2d_forward_f32(const float *x, float *y, long n, long c, long h, long w,
                             long kh, long kw, long sh, long sw);
int mg_avgpool2d_forward_f64(const double *x, double *y, long n, long c, long h, long w,
                             long kh, long kw, long sh, long sw);
int mg_avgpool2d_backward_f32(const float *dy, float *dx, long n, long c, long h, long w,
                              long kh, long kw, long sh, long sw);
int mg_avgpool2d_backward_f64(const double *dy, double *dx, long n, long c, long h, long w,
                              long kh, long kw, long sh, long sw);

/* Batch norm over x (n, c, s): s = H*W, or 1 for (N, C) input. */
int mg_batchnorm_forward_f32(const float *x, const float *gamma, const float *beta,
                             float *running_mean, float *running_var, int training,
                             double momentum, double eps, float *y, float *mean,
                             float *invstd, long n, long c, long s);
int mg_batchnorm_forward_f64(const double *x, const double *gamma, const double *beta,
                             double *running_mean, double *running_var, int training,
                             double momentum, double eps, double *y, double *mean,
                             double *invstd, long n, long c, long s);
int mg_batchnorm_backward_f32(const float *dy, const float *x, const float *gamma,
                              const float *mean, const float *invstd, int training,
                              float *dx, float *dgamma, float *dbeta, long n, long c,
                              long s);
int mg_batchnorm_backward_f64(const double *dy, const double *x, const double *gamma,
                              const double *mean, const double *invstd, int training,
                              double *dx, double *dgamma, double *dbeta, long n, long c,
                              long s);

/* Fused bias + ReLU over z/y/dy/dz (n, f, s): s = OH*OW for a conv output, 1 for a
   Linear output. b/db (f) or NULL. forward works in place on z. */
int mg_bias_relu_forward_f32(float *z, const float *b, long n, long f, long s);
int mg_bias_relu_forward_f64(double *z, const double *b, long n, long f, long s);
int mg_bias_relu_backward_f32(const float *dy, const float *y, float *dz, float *db,
                              long n, long f, long s);
int mg_bias_relu_backward_f64(const double *dy, const double *y, double *dz, double *db,
                              long n, long f, long s);

/* Adam / AdamW over count tensors in one call (adam.c): p, g, m, v, vmax are arrays
   of count pointers to size[k] elements each (vmax only read under amsgrad); h the
   8 step scalars. p, m, v, vmax updated in place. */
int mg_adam_multi_f32(long count, float **p, float **g, float **m, float **v,
                      float **vmax, const long *size, const float *h, int coupled,
                      int decoupled, int amsgrad);
int mg_adam_multi_f64(long count, double **p, double **g, double **m, double **v,
                      double **vmax, const long *size, const double *h, int coupled,
                      int decoupled, int amsgrad);
