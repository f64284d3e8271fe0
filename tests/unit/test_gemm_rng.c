/* rt_gemm and rt_gemm_portable against a naive triple loop (both paths in
 * every build: the BLAS one above the size threshold when OpenBLAS loads);
 * the fallback when it does not; the RNG's determinism and pinned first
 * values. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/runtime/gemm.h"
#include "../../src/runtime/rng.h"
#include "nnc/runtime.h"

/* Reference: C = alpha op(A) op(B) + beta C in double. */
static void naive_gemm(bool ta, bool tb, size_t m, size_t n, size_t k, float alpha,
                       const float *a, size_t lda, const float *b, size_t ldb,
                       float beta, double *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double sum = 0.0;
            for (size_t p = 0; p < k; p++) {
                double av = ta ? a[p * lda + i] : a[i * lda + p];
                double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                sum += av * bv;
            }
            c[i * ldc + j] = alpha * sum + beta * c[i * ldc + j];
        }
}

typedef void GemmFn(bool, bool, size_t, size_t, size_t, float, const float *,
                    size_t, const float *, size_t, float, float *, size_t);

static void check_gemm_with(GemmFn *gemm, bool ta, bool tb, size_t m, size_t n,
                            size_t k, float alpha, float beta)
{
    RtRng r;
    rt_rng_seed(&r, 42, 0);
    /* Padded strides exercise lda/ldb/ldc != the logical widths. */
    size_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
    size_t arows = ta ? k : m, brows = tb ? n : k;
    float *a = malloc(arows * lda * sizeof *a), *b = malloc(brows * ldb * sizeof *b);
    float *c = malloc(m * ldc * sizeof *c);
    double *ref = malloc(m * ldc * sizeof *ref);
    for (size_t i = 0; i < arows * lda; i++)
        a[i] = rt_rng_uniform(&r) * 2 - 1;
    for (size_t i = 0; i < brows * ldb; i++)
        b[i] = rt_rng_uniform(&r) * 2 - 1;
    for (size_t i = 0; i < m * ldc; i++)
        ref[i] = c[i] = rt_rng_uniform(&r);
    naive_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, ref, ldc);
    gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            cr_assert(fabs(c[i * ldc + j] - ref[i * ldc + j]) <= 1e-5 * (double)k + 1e-6,
                      "ta=%d tb=%d m=%zu n=%zu k=%zu: C[%zu][%zu] = %g, want %g",
                      ta, tb, m, n, k, i, j, c[i * ldc + j], ref[i * ldc + j]);
    free(a), free(b), free(c), free(ref);
}

static void check_gemm(bool ta, bool tb, size_t m, size_t n, size_t k, float alpha, float beta)
{
    check_gemm_with(rt_gemm_portable, ta, tb, m, n, k, alpha, beta);
    check_gemm_with(rt_gemm, ta, tb, m, n, k, alpha, beta);
}

Test(gemm, all_transposes_odd_sizes)
{
    static const size_t sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {7, 3, 5}, {13, 1, 9}, {1, 17, 2}, {33, 31, 29}};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                check_gemm(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], 1.0f, 0.0f);
                check_gemm(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], -0.5f, 1.0f);
                check_gemm(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], 2.0f, 0.25f);
            }
}

/* Above RT_GEMM_BLAS_MIN: the BLAS path of rt_gemm when built with one,
 * and the portable loops on the same shapes. */
Test(gemm, all_transposes_large_sizes)
{
    static const size_t sizes[][3] = {{32, 32, 32}, {37, 65, 41}, {128, 10, 64}, {5, 300, 40}};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                cr_assert_geq(sizes[s][0] * sizes[s][1] * sizes[s][2], (size_t)RT_GEMM_BLAS_MIN);
                check_gemm(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], 1.0f, 0.0f);
                check_gemm(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], -0.5f, 1.0f);
            }
}

/* Below the threshold rt_gemm is the portable loops, bit for bit: the
 * golden outputs of small networks do not depend on the BLAS. */
Test(gemm, small_products_bit_identical_to_portable)
{
    enum { M = 31, N = 32, K = 32 }; /* 31744 < 32768 */
    cr_assert_lt((double)M * N * K, RT_GEMM_BLAS_MIN);
    static float a[M * K], b[K * N], c1[M * N], c2[M * N];
    RtRng r;
    rt_rng_seed(&r, 9, 0);
    for (size_t i = 0; i < M * K; i++)
        a[i] = rt_rng_uniform(&r) - 0.5f;
    for (size_t i = 0; i < K * N; i++)
        b[i] = rt_rng_uniform(&r) - 0.5f;
    rt_gemm(false, false, M, N, K, 1.0f, a, K, b, N, 0.0f, c1, N);
    rt_gemm_portable(false, false, M, N, K, 1.0f, a, K, b, N, 0.0f, c2, N);
    cr_assert_eq(memcmp(c1, c2, sizeof c1), 0);
}

Test(gemm, beta_zero_ignores_nan_in_c)
{
    float a[2] = {1, 2}, b[2] = {3, 4}, c[1] = {NAN};
    rt_gemm(false, false, 1, 1, 2, 1.0f, a, 2, b, 1, 0.0f, c, 1);
    cr_assert_float_eq(c[0], 11.0f, 0);
    c[0] = NAN;
    rt_gemm_portable(false, false, 1, 1, 2, 1.0f, a, 2, b, 1, 0.0f, c, 1);
    cr_assert_float_eq(c[0], 11.0f, 0);
}

/* The same on the BLAS path: C full of NaN, beta 0, a large product. */
Test(gemm, beta_zero_ignores_nan_in_c_large)
{
    enum { M = 40, N = 40, K = 40 };
    static float a[M * K], b[K * N], c[M * N];
    for (size_t i = 0; i < M * K; i++)
        a[i] = 1.0f;
    for (size_t i = 0; i < K * N; i++)
        b[i] = 0.5f;
    for (size_t i = 0; i < M * N; i++)
        c[i] = NAN;
    rt_gemm(false, false, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    for (size_t i = 0; i < M * N; i++)
        cr_assert_float_eq(c[i], 20.0f, 0);
}

/* Which path large products take, so that a test log says what was tested:
 * before the first large product nothing is loaded; after it, OpenBLAS when
 * this machine has it, else the portable loops with the reason. */
Test(gemm, reports_its_blas)
{
    cr_assert_not_null(strstr(rt_blas_describe(), "portable loops ("));
    bool loaded = rt_blas_load();
    cr_log_info("large products: %s", rt_blas_describe());
#ifdef NNC_BLAS
    cr_assert_eq(loaded, strstr(rt_blas_describe(), "portable loops") == NULL);
#else
    cr_assert_not(loaded);
    cr_assert_str_eq(rt_blas_describe(), "portable loops (built with BLAS=none)");
#endif
}

/* NNC_BLAS=off and a library that is not there both fall back to the
 * portable loops (bit-identical to rt_gemm_portable above the threshold)
 * and say why. Criterion runs each test in its own process, so the
 * environment is read afresh. */
static void check_fallback(const char *env, const char *why)
{
    setenv("NNC_BLAS", env, 1);
    cr_assert_not(rt_blas_load());
    cr_assert_not_null(strstr(rt_blas_describe(), why), "%s", rt_blas_describe());
    enum { M = 40, N = 40, K = 40 };
    static float a[M * K], b[K * N], c1[M * N], c2[M * N];
    for (size_t i = 0; i < M * K; i++)
        a[i] = (float)i * 0.01f;
    for (size_t i = 0; i < K * N; i++)
        b[i] = 1.0f / (float)(i + 1);
    rt_gemm(false, true, M, N, K, 1.0f, a, K, b, K, 0.0f, c1, N);
    rt_gemm_portable(false, true, M, N, K, 1.0f, a, K, b, K, 0.0f, c2, N);
    cr_assert_arr_eq(c1, c2, sizeof c1);
}

Test(gemm, nnc_blas_off_falls_back)
{
#ifdef NNC_BLAS
    check_fallback("off", "NNC_BLAS=off");
#else
    check_fallback("off", "BLAS=none");
#endif
}

Test(gemm, missing_library_falls_back)
{
#ifdef NNC_BLAS
    check_fallback("/nonexistent/libcblas.so", "/nonexistent/libcblas.so");
#else
    check_fallback("/nonexistent/libcblas.so", "BLAS=none");
#endif
}

Test(rng, same_seed_same_sequence)
{
    RtRng a, b, c;
    rt_rng_seed(&a, 7, 0);
    rt_rng_seed(&b, 7, 0);
    rt_rng_seed(&c, 7, 1);
    bool stream_differs = false;
    for (int i = 0; i < 1000; i++) {
        uint32_t x = rt_rng_next(&a);
        cr_assert_eq(x, rt_rng_next(&b));
        stream_differs |= x != rt_rng_next(&c);
    }
    cr_assert(stream_differs);
}

/* Pinned values: a change here changes every seeded run's numbers, which
 * users' saved outputs depend on. Values computed by the reference
 * algorithm in rng.h (checked independently in Python). */
Test(rng, pinned_first_values)
{
    RtRng r;
    rt_rng_seed(&r, 0, 0);
    static const uint32_t want[4] = {UINT32_C(3918949401), UINT32_C(3103299678), UINT32_C(3277025221), UINT32_C(2547427574)};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(rt_rng_next(&r), want[i], "value %d", i);
}

Test(rng, uniform_range_and_below_bounds)
{
    RtRng r;
    rt_rng_seed(&r, 123, 0);
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        float u = rt_rng_uniform(&r);
        cr_assert(u >= 0.0f && u < 1.0f);
        sum += u;
        cr_assert_lt(rt_rng_below(&r, 7), 7u);
    }
    cr_assert(fabs(sum / 100000 - 0.5) < 0.01);
}

Test(rng, shuffle_is_a_permutation_and_deterministic)
{
    size_t a[50], b[50];
    for (size_t i = 0; i < 50; i++)
        a[i] = b[i] = i;
    RtRng r1, r2;
    rt_rng_seed(&r1, 5, 1);
    rt_rng_seed(&r2, 5, 1);
    rt_rng_shuffle(&r1, a, 50);
    rt_rng_shuffle(&r2, b, 50);
    bool seen[50] = {0}, moved = false;
    for (size_t i = 0; i < 50; i++) {
        cr_assert_eq(a[i], b[i]);
        cr_assert(!seen[a[i]]);
        seen[a[i]] = true;
        moved |= a[i] != i;
    }
    cr_assert(moved);
}
