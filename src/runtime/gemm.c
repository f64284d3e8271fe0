/* rt_gemm: portable loops, and cblas_sgemm for large products. The BLAS is
 * not linked: OpenBLAS is loaded with dlopen when the first product reaches
 * RT_GEMM_BLAS_MIN, so a run that never needs it (XOR, every small network)
 * does not pay the milliseconds its loading costs, and a machine without it
 * builds and runs the same program on the portable loops. `make BLAS=none`
 * (no NNC_BLAS) compiles the BLAS path out. Loop orders keep the innermost
 * loop on contiguous memory where the layout allows it (i-p-j for plain
 * products, a dot product along rows when B is transposed). */
#include "gemm.h"

#include "nnc/runtime.h"

#ifdef NNC_BLAS
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#ifdef NNC_BLAS
/* CBLAS's enum values, fixed by the CBLAS standard (CBLAS_ORDER,
 * CBLAS_TRANSPOSE; enums are passed as int), so that no <cblas.h> is
 * needed to build. */
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };
typedef void CblasSgemm(int order, int trans_a, int trans_b, int m, int n, int k,
                        float alpha, const float *a, int lda, const float *b,
                        int ldb, float beta, float *c, int ldc);
/* OpenBLAS's own: version, kernel and thread limit, for --verbose. */
typedef char *OpenblasConfig(void);

#define BLAS_DEFAULT_LIB "libopenblas.so.0"

static struct {
    pthread_once_t once;
    bool tried;
    CblasSgemm *sgemm; /* NULL: large products stay on the portable loops */
    char what[320];    /* the library loaded, or why none was */
} blas = {.once = PTHREAD_ONCE_INIT};

/* NNC_BLAS chooses: unset or empty, OpenBLAS by its soname; "off", the
 * portable loops; anything else, a library (path or soname) to dlopen. */
static void blas_load_once(void)
{
    const char *lib = getenv("NNC_BLAS");
    blas.tried = true;
    if (lib && strcmp(lib, "off") == 0) {
        snprintf(blas.what, sizeof blas.what, "portable loops (NNC_BLAS=off)");
        return;
    }
    if (!lib || !*lib)
        lib = BLAS_DEFAULT_LIB;
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    CblasSgemm *fn = h ? (CblasSgemm *)dlsym(h, "cblas_sgemm") : NULL;
    if (!fn) {
        /* dlerror names the library and the reason (not found, no symbol). */
        const char *err = dlerror();
        snprintf(blas.what, sizeof blas.what, "portable loops (%s)", err ? err : lib);
        if (h)
            dlclose(h);
        return;
    }
    OpenblasConfig *config = (OpenblasConfig *)dlsym(h, "openblas_get_config");
    blas.sgemm = fn;
    snprintf(blas.what, sizeof blas.what, "%s (%s)", config ? config() : "cblas_sgemm", lib);
}

static CblasSgemm *blas_sgemm(void)
{
    pthread_once(&blas.once, blas_load_once);
    return blas.sgemm;
}

bool rt_blas_load(void)
{
    return blas_sgemm() != NULL;
}

const char *rt_blas_describe(void)
{
    if (!blas.tried)
        return "portable loops (no product reached the BLAS threshold; "
               BLAS_DEFAULT_LIB " not loaded)";
    return blas.what;
}

/* Large products go to BLAS: m*n*k >= RT_GEMM_BLAS_MIN. Below it the call
 * overhead of sgemm (packing, dispatch) costs more than it saves, and the
 * lecture's networks keep the portable loops' exact summation order (their
 * golden outputs and PyTorch agreement do not depend on the BLAS). cblas
 * takes int sizes: larger matrices stay on the portable path. */
static bool blas_worth_it(size_t m, size_t n, size_t k, size_t lda, size_t ldb, size_t ldc)
{
    bool fits = m <= INT_MAX && n <= INT_MAX && k <= INT_MAX &&
                lda <= INT_MAX && ldb <= INT_MAX && ldc <= INT_MAX;
    return fits && m > 0 && n > 0 && (double)m * (double)n * (double)k >= RT_GEMM_BLAS_MIN;
}

/* A large product: sgemm when the BLAS loads, else the portable loops.
 * Out of line: inlined, its pthread_once call made rt_gemm save registers
 * and build a frame on every small product too (18 instructions a call,
 * 1.5% of `nnc run examples/xor.nn` under callgrind). */
__attribute__((noinline))
static void gemm_large(bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                       float alpha, const float *a, size_t lda, const float *b,
                       size_t ldb, float beta, float *c, size_t ldc)
{
    CblasSgemm *sgemm = blas_sgemm();
    if (!sgemm) {
        rt_gemm_portable(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    sgemm(CBLAS_ROW_MAJOR, trans_a ? CBLAS_TRANS : CBLAS_NO_TRANS,
          trans_b ? CBLAS_TRANS : CBLAS_NO_TRANS, (int)m, (int)n, (int)k,
          alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

void rt_gemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
             float alpha, const float *a, size_t lda, const float *b,
             size_t ldb, float beta, float *c, size_t ldc)
{
    if (blas_worth_it(m, n, k, lda, ldb, ldc))
        gemm_large(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        rt_gemm_portable(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
#else
bool rt_blas_load(void)
{
    return false;
}

const char *rt_blas_describe(void)
{
    return "portable loops (built with BLAS=none)";
}

void rt_gemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
             float alpha, const float *a, size_t lda, const float *b,
             size_t ldb, float beta, float *c, size_t ldc)
{
    rt_gemm_portable(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
#endif
