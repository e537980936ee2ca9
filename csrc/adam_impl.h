/* The multi-tensor Adam step for one element type T, included by adam.c once per type
   (T, its SQRT, SFX and the name ADAM_MULTI). Contract: adam.c's header. The flags
   are loop invariant: GCC unswitches the loop, so each combination runs a plain
   vector loop. */

/* Elements [lo, hi) of one tensor. */
static void FN(adam_range_)(T *restrict p, const T *restrict g, T *restrict m,
                            T *restrict v, T *restrict vmax, long lo, long hi,
                            const T *h, int coupled, int decoupled, int amsgrad) {
    const T step_size = h[0], bc2_sqrt = h[1], beta2 = h[2], keep1 = h[3];
    const T keep2 = h[4], eps = h[5], wd = h[6], shrink = h[7];
    for (long i = lo; i < hi; i++) {
        T pi = p[i];
        if (decoupled) pi = pi * shrink;
        T gi = g[i];
        if (coupled) gi = pi * wd + gi;
        T mi = m[i];
        mi = mi + (gi - mi) * keep1;
        m[i] = mi;
        T vi = v[i] * beta2 + gi * gi * keep2;
        v[i] = vi;
        if (amsgrad) {
            T vm = vmax[i];
            if (vi > vm || vi != vi) vm = vi;
            vmax[i] = vm;
            vi = vm;
        }
        T denom = SQRT(vi) / bc2_sqrt + eps;
        p[i] = pi - mi / denom * step_size;
    }
}

/* One tensor's update, shared by the threads' parts. */
typedef struct {
    T *p, *m, *v, *vmax;
    const T *g, *h;
    long n;
    int coupled, decoupled, amsgrad;
} FN(adam_job_);

/* Elements [64 lo, 64 hi) of the job's tensor: whole chunks of 64 per thread. */
static int FN(adam_chunks_)(void *ctx, long lo, long hi) {
    const FN(adam_job_) *q = ctx;
    long a = lo * 64, b = hi * 64 < q->n ? hi * 64 : q->n;
    FN(adam_range_)(q->p, q->g, q->m, q->v, q->vmax, a, b, q->h, q->coupled, q->decoupled,
                    q->amsgrad);
    return 0;
}

int ADAM_MULTI(long count, T **p, T **g, T **m, T **v, T **vmax, const long *size,
               const T *h, int coupled, int decoupled, int amsgrad) {
    if (count < 0 || (count && (!p || !g || !m || !v || !size || (amsgrad && !vmax))) || !h)
        return MG_EINVAL;
    for (long k = 0; k < count; k++)
        if (size[k] < 0 || !p[k] || !g[k] || !m[k] || !v[k] || (amsgrad && !vmax[k]))
            return MG_EINVAL;
    for (long k = 0; k < count; k++) {
        const long n = size[k];
        T *vm = amsgrad ? vmax[k] : NULL;
        int nt = n >= MG_ADAM_PARALLEL_MIN ? mg_threads_avail() : 1;
        if (nt <= 1) {
            FN(adam_range_)(p[k], g[k], m[k], v[k], vm, 0, n, h, coupled, decoupled,
                            amsgrad);
            continue;
        }
        FN(adam_job_) q = {.p = p[k], .g = g[k], .m = m[k], .v = v[k], .vmax = vm, .h = h,
                           .n = n, .coupled = coupled, .decoupled = decoupled,
                           .amsgrad = amsgrad};
        mg_parallel_for(nt, (n + 63) / 64, FN(adam_chunks_), &q);
    }
    return 0;
}
