// One Adam(W) update over a run of parameters. Swift builds for baseline x86-64, so its
// eight-lane version ran as pairs of SSE operations, and the square root and division of every
// element made the optimizer as slow as a trip through memory twice over (perf: 1.8% of config
// A's step, 9-14% of SmolLM2's full fine-tuning step); here they run as AVX2 operations when the
// CPU has them. Both paths do each element's operations in the order HoneTrain's Swift did
// (no fused multiply-add), so the bits are the same.
#include "CFastMath.h"
#include "simd.h"

#include <math.h>

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define HONE_X86 1
#endif

static inline void adam_one(float *p, const float *g, float *m, float *v, size_t i, const struct hone_adam *a) {
    float gi = g[i], pi = p[i];
    if (a->decoupled) pi *= a->decay; else gi += a->wd * pi;
    float mi = a->b1 * m[i] + a->c1 * gi;
    float vi = a->b2 * v[i] + a->c2 * gi * gi;
    pi -= a->step_size * mi / (sqrtf(vi) / a->bc2_root + a->eps);
    m[i] = mi; v[i] = vi; p[i] = pi;
}

#ifdef HONE_X86
__attribute__((target("avx2")))
static size_t adam_avx2(float *p, const float *g, float *m, float *v, size_t n, const struct hone_adam *a) {
    const __m256 decay = _mm256_set1_ps(a->decay), wd = _mm256_set1_ps(a->wd), b1 = _mm256_set1_ps(a->b1),
                 b2 = _mm256_set1_ps(a->b2), c1 = _mm256_set1_ps(a->c1), c2 = _mm256_set1_ps(a->c2),
                 step = _mm256_set1_ps(a->step_size), root = _mm256_set1_ps(a->bc2_root), eps = _mm256_set1_ps(a->eps);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_loadu_ps(g + i), pi = _mm256_loadu_ps(p + i);
        if (a->decoupled) pi = _mm256_mul_ps(pi, decay); else gi = _mm256_add_ps(gi, _mm256_mul_ps(wd, pi));
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(c1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(_mm256_mul_ps(c2, gi), gi));
        __m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), root), eps);
        pi = _mm256_sub_ps(pi, _mm256_div_ps(_mm256_mul_ps(step, mi), den));
        _mm256_storeu_ps(m + i, mi); _mm256_storeu_ps(v + i, vi); _mm256_storeu_ps(p + i, pi);
    }
    return i;
}
#endif

void hone_adam_update(float *p, const float *g, float *m, float *v, size_t n, const struct hone_adam *a) {
    size_t i = 0;
#ifdef HONE_X86
    if (hone_fastmath_simd()) i = adam_avx2(p, g, m, v, n, a);
#endif
    for (; i < n; i++) adam_one(p, g, m, v, i, a);
}
