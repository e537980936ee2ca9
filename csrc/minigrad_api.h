/* Every function minigrad._C exports. Plain C declarations only: cffi's cdef reads
   this file as it is. Each returns 0 on success or a negative MG_E* code. */
int mg_num_threads(void);
void mg_set_num_threads(int n);
const char *mg_build_info(void);

int mg_gemm_f32(int trans_a, int trans_b, long m, long n, long k, float alpha,
                const float *a, long lda, const float *b, long ldb, float beta,
                float *c, long ldc);
int mg_gemm_f64(int trans_a, int trans_b, long m, long n, long k, double alpha,
                const double *a, long lda, const double *b, long ldb, double beta,
                double *c, long ldc);
