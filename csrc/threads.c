/* Thread count of the OpenMP kernels and the build description shown by `doctor`. */
#include "minigrad_api.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef MG_BUILD_FLAGS
#define MG_BUILD_FLAGS "unknown"
#endif

int mg_num_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void mg_set_num_threads(int n) {
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n);
#else
    (void)n;
#endif
}

const char *mg_build_info(void) {
    return "flags: " MG_BUILD_FLAGS
#ifdef __AVX2__
           "; simd: avx2"
#ifdef __FMA__
           "+fma"
#endif
#else
           "; simd: none"
#endif
#ifdef _OPENMP
           "; openmp: yes"
#else
           "; openmp: no"
#endif
        ;
}
