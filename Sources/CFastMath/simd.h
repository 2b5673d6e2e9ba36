#ifndef HONE_CFASTMATH_SIMD_H
#define HONE_CFASTMATH_SIMD_H

/// 1 when the AVX2 paths run: the CPU has AVX2 and hone_fastmath_allow_simd has not turned them off.
int hone_fastmath_simd(void);

#endif
