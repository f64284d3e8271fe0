/* rt_gemm: portable loops, and cblas_sgemm for large products when the
 * build has a BLAS (NNC_BLAS, set by `make BLAS=openblas`, the default when
 * <cblas.h> is installed). Loop orders keep the innermost loop on contiguous
 * memory where the layout allows it (i-p-j for plain products, a dot product
 * along rows when B is transposed). */
#include "gemm.h"

#ifdef NNC_BLAS
#include <cblas.h>
#include <limits.h>
#endif

static void gemm_scale_c(size_t m, size_t n, float beta, float *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++) {
        float *row = c + i * ldc;
        for (size_t j = 0; j < n; j++)
            row[j] = beta == 0.0f ? 0.0f : beta * row[j];
    }
}

/* C += alpha * A * B: walk B and C row by row (both contiguous). */
static void gemm_nn(size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        for (size_t p = 0; p < k; p++) {
            float aip = alpha * a[i * lda + p];
            const float *bp = b + p * ldb;
            for (size_t j = 0; j < n; j++)
                ci[j] += aip * bp[j];
        }
    }
}

/* C += alpha * A * B^T: each C[i][j] is a dot product of two rows. A dot
 * product is one chain of dependent additions (its order is fixed: p
 * ascending), so four of them run side by side, each in that same order:
 * the same bits, four times the throughput of a single chain. */
static void gemm_nt(size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++) {
        const float *ai = a + i * lda;
        size_t j = 0;
        for (; j + 4 <= n; j += 4) {
            const float *b0 = b + j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
            for (size_t p = 0; p < k; p++) {
                float ap = ai[p];
                s0 += ap * b0[p];
                s1 += ap * b1[p];
                s2 += ap * b2[p];
                s3 += ap * b3[p];
            }
            float *cij = c + i * ldc + j;
            cij[0] += alpha * s0;
            cij[1] += alpha * s1;
            cij[2] += alpha * s2;
            cij[3] += alpha * s3;
        }
        for (; j < n; j++) {
            const float *bj = b + j * ldb;
            float sum = 0.0f;
            for (size_t p = 0; p < k; p++)
                sum += ai[p] * bj[p];
            c[i * ldc + j] += alpha * sum;
        }
    }
}

/* C += alpha * A^T * B: A's row p holds column p of op(A), so sweep p
 * outermost and update C row by row. */
static void gemm_tn(size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float *c, size_t ldc)
{
    for (size_t p = 0; p < k; p++) {
        const float *ap = a + p * lda;
        const float *bp = b + p * ldb;
        for (size_t i = 0; i < m; i++) {
            float api = alpha * ap[i];
            float *ci = c + i * ldc;
            for (size_t j = 0; j < n; j++)
                ci[j] += api * bp[j];
        }
    }
}

/* C += alpha * A^T * B^T: rare (no op uses it); strided dot products. */
static void gemm_tt(size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            const float *bj = b + j * ldb;
            float sum = 0.0f;
            for (size_t p = 0; p < k; p++)
                sum += a[p * lda + i] * bj[p];
            c[i * ldc + j] += alpha * sum;
        }
    }
}

void rt_gemm_portable(bool trans_a, bool trans_b, size_t m, size_t n,
                      size_t k, float alpha, const float *a, size_t lda,
                      const float *b, size_t ldb, float beta, float *c,
                      size_t ldc)
{
    if (beta != 1.0f)
        gemm_scale_c(m, n, beta, c, ldc);
    if (alpha == 0.0f || k == 0)
        return;
    if (!trans_a && !trans_b)
        gemm_nn(m, n, k, alpha, a, lda, b, ldb, c, ldc);
    else if (!trans_a)
        gemm_nt(m, n, k, alpha, a, lda, b, ldb, c, ldc);
    else if (!trans_b)
        gemm_tn(m, n, k, alpha, a, lda, b, ldb, c, ldc);
    else
        gemm_tt(m, n, k, alpha, a, lda, b, ldb, c, ldc);
}

bool rt_gemm_has_blas(void)
{
#ifdef NNC_BLAS
    return true;
#else
    return false;
#endif
}

/* Large products go to BLAS: m*n*k >= RT_GEMM_BLAS_MIN. Below it the call
 * overhead of sgemm (packing, dispatch) costs more than it saves, and the
 * lecture's networks keep the portable loops' exact summation order (their
 * golden outputs and PyTorch agreement do not depend on the BLAS). */
void rt_gemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
             float alpha, const float *a, size_t lda, const float *b,
             size_t ldb, float beta, float *c, size_t ldc)
{
#ifdef NNC_BLAS
    /* cblas takes int sizes: larger matrices stay on the portable path. */
    bool fits = m <= INT_MAX && n <= INT_MAX && k <= INT_MAX &&
                lda <= INT_MAX && ldb <= INT_MAX && ldc <= INT_MAX;
    if (fits && m > 0 && n > 0 && (double)m * (double)n * (double)k >= RT_GEMM_BLAS_MIN) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                    alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
        return;
    }
#endif
    rt_gemm_portable(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
