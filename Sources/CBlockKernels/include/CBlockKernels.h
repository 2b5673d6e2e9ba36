#ifndef HONE_CBLOCKKERNELS_H
#define HONE_CBLOCKKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// GGML block formats, in BlockMatrix.Format's order.
enum { HONE_Q8_0 = 0, HONE_Q4_0 = 1, HONE_Q4_1 = 2 };

/// Bytes of one 32-value block: 34 (Q8_0), 18 (Q4_0), 20 (Q4_1); the packed layout takes the same.
size_t hone_block_bytes(int format);

/// A GGML block matrix [rows, columns] (`blocks`, rows × columns / 32 blocks) rearranged into
/// `packed` (as many bytes) for the products: rows in groups of 4 (the last may be shorter),
/// and for each block column of a group its rows' fp16 scales, then their fp16 mins (Q4_1),
/// then their codes. The products then read one sequential stream and convert a group's four
/// scales with one instruction. Nothing is converted or lost.
void hone_block_pack(int format, const uint8_t *blocks, size_t rows, size_t columns, uint8_t *packed);

/// An input as the products read it: each 32-value block of x[0 ..< columns] quantized to int16
/// codes xq (columns of them) with its own scale dx, and its exact fp32 sum (which Q4_1's min
/// multiplies); columns / 32 scales and sums. int16, not llama.cpp's int8: SmolLM2's activations
/// have outlier features, and int8 steps of 1/127 of a block's outlier turned greedy answers
/// away from transformers' ("L'Étoile" for "The capital of France is Paris").
void hone_quantize_input(const float *x, size_t columns, int16_t *xq, float *dx, float *sums);

/// out[i * out_stride + r] = dot(row r of the packed matrix of `rows` rows, input i) for rows r
/// in [row_begin, row_end) (row_begin a multiple of 4, row_end too unless it is `rows`) and
/// inputs i in [0, inputs), input i being hone_quantize_input's output at xq + i * columns,
/// dx + i * columns / 32, sums + i * columns / 32. columns is a multiple of 32. A block's
/// products are summed in integers. `simd` chooses the AVX2 path (where hone_block_kernels_simd()
/// says it runs); both paths give the same bits, as does any slicing of the rows.
void hone_block_rows_dot(int format, const uint8_t *packed, size_t rows, size_t row_begin, size_t row_end, size_t columns,
                         const int16_t *xq, const float *dx, const float *sums, size_t inputs, float *out, size_t out_stride,
                         int simd);

/// 1 when this CPU runs the AVX2 + FMA + F16C path, else 0.
int hone_block_kernels_simd(void);

#endif
