#ifndef HONE_CFASTMATH_H
#define HONE_CFASTMATH_H

#include <stddef.h>

/// y[i] = exp(x[i] − shift) for i in [0, n) (y may be x); returns Σ y. The sum runs in eight
/// lanes (lane j adds the elements i ≡ j mod 8 of the whole groups of eight, in order), the
/// lanes are added 0 to 7 onto −0, then the tail in order: the bits depend on n alone.
/// exp: x clamped to [−87.3, 88.3] (a NaN takes 88.3); x = k·ln2 + r; e^r by a degree-6
/// polynomial (Cephes' expf coefficients); 2^k from the exponent bits. Relative error < 2e-7.
float hone_exp_shifted(const float *x, float *y, size_t n, float shift);

/// sigmoid[i] = σ(x[i]) = 1 / (1 + exp(−x[i])) when sigmoid is not NULL; out[i] = x[i]·σ(x[i]),
/// times times[i] when times is not NULL (SwiGLU's up projection).
void hone_silu(const float *x, const float *times, float *sigmoid, float *out, size_t n);

/// SwiGLU's backward, h = silu(gate)·up: with s = σ(gate[i]) computed as hone_silu does (the same
/// bits), dup[i] = dh·gate·s and dgate[i] = dh·up·s·(1 + gate·(1 − s)), each product left to right.
void hone_swiglu_backward(const float *gate, const float *up, const float *dh, float *dgate, float *dup, size_t n);

/// For the rows k < rows (at most 8) of c floats at x (row k at x + k·c): sums[k] = Σ_j x[k·c+j]²,
/// added in column order j = 0, 1, … onto 0, as a loop over one row alone adds them.
void hone_square_sums(const float *x, size_t rows, size_t c, float *sums);

/// For the rows k < rows (at most 8) of dy and x (row k at + k·c): dots[k] = Σ_j dy·w[j]·x·r[k],
/// each product taken left to right and added in column order onto 0 (RMSNorm's backward).
void hone_scaled_dots(const float *dy, const float *x, const float *w, const float *r, size_t rows, size_t c, float *dots);

/// One Adam(W) step's constants (HoneTrain's Optimizer computes them).
struct hone_adam {
    int decoupled;          // AdamW: p *= decay; else Adam with L2: g += wd·p
    float decay, wd, b1, b2, c1, c2, step_size, bc2_root, eps;  // c1 = 1 − b1, c2 = 1 − b2
};

/// For i in [0, n): m = b1·m + c1·g; v = b2·v + c2·g·g; p −= step_size·m / (√v / bc2_root + eps),
/// after the decay above; in that order, as the Swift it replaced, so with the same bits.
void hone_adam_update(float *p, const float *g, float *m, float *v, size_t n, const struct hone_adam *a);

/// 1 (the default): take the AVX2 path when the CPU has AVX2; 0: always the portable one.
/// Both do the same operations on every element in the same order (no fused multiply-add),
/// so they give the same bits; tests switch to compare them.
void hone_fastmath_allow_simd(int allow);

#endif
