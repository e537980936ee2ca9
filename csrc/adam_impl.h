/* The multi-tensor Adam step for one element type T, included by adam.c once per type
   (T, its SQRT and the name ADAM_MULTI). Contract: adam.c's header. The flags are loop
   invariant: GCC unswitches the loop, so each combination runs a plain vector loop. */

int ADAM_MULTI(long count, T **p, T **g, T **m, T **v, T **vmax, const long *size,
               const T *h, int coupled, int decoupled, int amsgrad) {
    if (count < 0 || (count && (!p || !g || !m || !v || !size || (amsgrad && !vmax))) || !h)
        return MG_EINVAL;
    for (long k = 0; k < count; k++)
        if (size[k] < 0 || !p[k] || !g[k] || !m[k] || !v[k] || (amsgrad && !vmax[k]))
            return MG_EINVAL;
    const T step_size = h[0], bc2_sqrt = h[1], beta2 = h[2], keep1 = h[3];
    const T keep2 = h[4], eps = h[5], wd = h[6], shrink = h[7];
    for (long k = 0; k < count; k++) {
        T *restrict pk = p[k], *restrict mk = m[k], *restrict vk = v[k];
        const T *restrict gk = g[k];
        T *restrict vmk = amsgrad ? vmax[k] : NULL;
        const long n = size[k];
        for (long i = 0; i < n; i++) {
            T pi = pk[i];
            if (decoupled) pi = pi * shrink;
            T gi = gk[i];
            if (coupled) gi = pi * wd + gi;
            T mi = mk[i];
            mi = mi + (gi - mi) * keep1;
            mk[i] = mi;
            T vi = vk[i] * beta2 + gi * gi * keep2;
            vk[i] = vi;
            if (amsgrad) {
                T vm = vmk[i];
                if (vi > vm || vi != vi) vm = vi;
                vmk[i] = vm;
                vi = vm;
            }
            T denom = SQRT(vi) / bc2_sqrt + eps;
            pk[i] = pi - mi / denom * step_size;
        }
    }
    return 0;
}
