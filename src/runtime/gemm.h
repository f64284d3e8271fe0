/* The one matrix product of the runtime. Every dense forward and backward
 * goes through rt_gemm, whose shape matches BLAS's sgemm (row-major); it
 * sends large products to cblas_sgemm of an OpenBLAS loaded at run time
 * when there is one (rt_blas_load, include/nnc/runtime.h), and the portable
 * loops stay compiled and tested as rt_gemm_portable. */
#ifndef NNC_RT_GEMM_H
#define NNC_RT_GEMM_H

#include <stdbool.h>
#include <stddef.h>

/* C = alpha * op(A) * op(B) + beta * C, all row-major.
 * op(A) is m x k (A is stored k x m when trans_a), op(B) is k x n (B is
 * stored n x k when trans_b), C is m x n. lda/ldb/ldc are row strides.
 * beta == 0 overwrites C without reading it (NaNs in C do not leak), like
 * BLAS. Sums accumulate in float, in a fixed order: results are identical
 * run to run. */
void rt_gemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
             float alpha, const float *a, size_t lda, const float *b,
             size_t ldb, float beta, float *c, size_t ldc);

/* Products with m*n*k at or above this go to BLAS when one is loaded
 * (only training calls rt_gemm for forward passes: evaluation uses
 * rt_gemm_portable, the emitted C's order; see op_dense_forward).
 * 32768 = 32^3: every product of the lecture's networks and the golden
 * cases is below it, so their outputs are the same with and without BLAS. */
#define RT_GEMM_BLAS_MIN 32768.0

/* The portable loops alone: same contract, fixed summation order (for each
 * C element, p ascending), whatever the build. */
void rt_gemm_portable(bool trans_a, bool trans_b, size_t m, size_t n,
                      size_t k, float alpha, const float *a, size_t lda,
                      const float *b, size_t ldb, float beta, float *c,
                      size_t ldc);

#endif
