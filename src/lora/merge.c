/*
 * merge.c - several LoRA adapters of one base become one adapter file:
 * linear (exact, by stacking factors, or truncated to a rank), TIES-Merging
 * (Yadav et al. 2023, "TIES-Merging: Resolving Interference When Merging
 * Models", NeurIPS) and DARE (Yu et al. 2024, "Language Models are Super
 * Mario: Absorbing Abilities from Homologous Models as a Free Lunch", ICML).
 * docs/composition.md explains the methods and what a rank costs.
 *
 * Legend: O n_out and I n_in of a projection, r an input's rank, K the sum
 * of the inputs' ranks, R the rank written, N the number of inputs.
 *
 * Input i's update to one projection is delta_i = w_i * f_i * B_i A_i, with
 * f_i = alpha_i / r_i the factor the loader applies (lora_pair.factor), so
 * a linear merge equals the run-time set that gives adapter i scale w_i.
 * Dense deltas are small for the models LocoLLM runs (the largest of the
 * default model is 1536 x 576), so TIES and DARE work on them entry by
 * entry and a truncated SVD turns the result back into factors: the top
 * eigenpairs of the smaller Gram matrix (LAPACK's dsyevr, from OpenBLAS),
 * several times cheaper than a full SVD of d. A linear merge truncated to
 * a rank never forms d: two thin SVDs (dgesdd) of the stacked factors give
 * d's SVD directly.
 */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loco/models.h"
#include "loco/quant.h"
#include "lora/lora_internal.h"

/* LAPACK (Fortran, column-major; the trailing arguments are the hidden
 * lengths of the character arguments), from OpenBLAS: the divide-and-
 * conquer SVD, and the symmetric eigensolver that can stop at the largest
 * few eigenpairs. */
extern void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda,
                    double *s, double *u, const int *ldu, double *vt, const int *ldvt, double *work,
                    const int *lwork, int *iwork, int *info, size_t jobz_len);
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
                    const int *lda, const double *vl, const double *vu, const int *il,
                    const int *iu, const double *abstol, int *m, double *w, double *z,
                    const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
                    const int *liwork, int *info, size_t jobz_len, size_t range_len,
                    size_t uplo_len);

/* ---- methods ---------------------------------------------------------------- */

static const char *const method_names[] = {
    [LOCO_MERGE_LINEAR] = "linear",
    [LOCO_MERGE_TIES] = "ties",
    [LOCO_MERGE_DARE] = "dare",
};
#define N_METHODS (sizeof method_names / sizeof method_names[0])

const char *loco_merge_method_name(enum loco_merge_method m)
{
    return (unsigned)m < N_METHODS ? method_names[m] : "?";
}

int loco_merge_method_parse(const char *name, enum loco_merge_method *out)
{
    for (size_t i = 0; name && i < N_METHODS; i++) {
        if (strcmp(name, method_names[i]) == 0) {
            *out = (enum loco_merge_method)i;
            return LOCO_OK;
        }
    }
    return loco_error_set(LOCO_ERR_INVALID, "unknown merge method '%s' (use linear, ties or dare)",
                          name ? name : "(null)");
}

struct loco_merge_params loco_merge_default_params(void)
{
    return (struct loco_merge_params){
        .method = LOCO_MERGE_LINEAR, .rank = 0, .density = 0.2f, .seed = 1, .type = LOCO_TYPE_F16};
}

static bool density_ok(float density)
{
    return isfinite(density) && density > 0.0f && density <= 1.0f;
}

static int density_error(float density)
{
    return loco_error_set(LOCO_ERR_INVALID,
                          "density %g is not usable: give the fraction of entries kept, a "
                          "number in (0, 1]",
                          (double)density);
}

/* ---- TIES ------------------------------------------------------------------- */

/* The k-th largest of v[0..n) (1 <= k <= n), reordering v (Hoare's
 * selection: partition around a pivot, keep the side holding position k-1
 * of the descending order). */
static float kth_largest(float *v, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        float pivot = v[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) { /* v[lo..i) >= pivot, v(j..hi] <= pivot */
            while (v[i] > pivot)
                i++;
            while (v[j] < pivot)
                j--;
            if (i <= j) {
                float t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        if (want <= j)
            hi = j;
        else if (want >= i)
            lo = i;
        else
            return v[want]; /* between the halves: equal to the pivot */
    }
    return v[lo];
}

/* out = x with all but its k largest magnitudes set to 0; entries equal to
 * the threshold are kept in index order until k are kept. scratch[len]. */
static void trim_top(const float *x, size_t len, size_t k, float *scratch, float *out)
{
    for (size_t j = 0; j < len; j++)
        scratch[j] = fabsf(x[j]);
    float thr = kth_largest(scratch, (int64_t)len, (int64_t)k);
    size_t above = 0;
    for (size_t j = 0; j < len; j++)
        above += fabsf(x[j]) > thr;
    size_t at_thr = k - above;
    for (size_t j = 0; j < len; j++) {
        float m = fabsf(x[j]);
        bool keep = m > thr || (m == thr && at_thr > 0);
        if (m == thr && keep)
            at_thr--;
        out[j] = keep ? x[j] : 0.0f;
    }
}

static int check_dense(const float *const *deltas, int32_t n, size_t len, float density,
                       const float *out)
{
    if (!deltas || n < 1 || !len || !out)
        return loco_error_set(LOCO_ERR_INVALID, "merge: no deltas given");
    for (int32_t i = 0; i < n; i++)
        if (!deltas[i])
            return loco_error_set(LOCO_ERR_INVALID, "merge: delta %d is NULL", (int)i);
    return density_ok(density) ? LOCO_OK : density_error(density);
}

int loco_merge_ties(const float *const *deltas, int32_t n, size_t len, float density, float *out)
{
    int rc = check_dense(deltas, n, len, density, out);
    if (rc)
        return rc;
    size_t k = (size_t)llround((double)density * (double)len);
    k = k < 1 ? 1 : k > len ? len : k;
    float *trimmed = malloc((size_t)n * len * sizeof *trimmed); /* [N][len] */
    float *scratch = malloc(len * sizeof *scratch);
    if (!trimmed || !scratch) {
        free(trimmed);
        free(scratch);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory merging %zu values", len);
    }
    /* 1. trim */
    for (int32_t i = 0; i < n; i++)
        trim_top(deltas[i], len, k, scratch, trimmed + (size_t)i * len);
    for (size_t j = 0; j < len; j++) {
        /* 2. elect the sign */
        double sum = 0;
        for (int32_t i = 0; i < n; i++)
            sum += trimmed[(size_t)i * len + j];
        float sign = sum > 0 ? 1.0f : sum < 0 ? -1.0f : 0.0f;
        /* 3. disjoint mean over the values that agree with it */
        double agree = 0;
        int count = 0;
        for (int32_t i = 0; i < n; i++) {
            float v = trimmed[(size_t)i * len + j];
            if (v * sign > 0) {
                agree += v;
                count++;
            }
        }
        out[j] = count ? (float)(agree / count) : 0.0f;
    }
    free(trimmed);
    free(scratch);
    return LOCO_OK;
}

/* ---- DARE ------------------------------------------------------------------- */

/* splitmix64 (Steele, Lea and Flood 2014): one 64-bit step of a stream. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int loco_merge_dare(const float *const *deltas, int32_t n, size_t len, float density, uint64_t seed,
                    float *out)
{
    int rc = check_dense(deltas, n, len, density, out);
    if (rc)
        return rc;
    memset(out, 0, len * sizeof *out);
    for (int32_t i = 0; i < n; i++) {
        uint64_t state = seed ^ ((uint64_t)(i + 1) * 0xd1b54a32d192ed03ULL);
        for (size_t j = 0; j < len; j++) {
            double u = (double)(splitmix64(&state) >> 11) * 0x1.0p-53; /* [0, 1) */
            if (u < (double)density)
                out[j] += deltas[i][j] / density;
        }
    }
    return LOCO_OK;
}

/* ---- truncated SVD ---------------------------------------------------------- */

/* The thin SVD of x [rows][cols] (row-major, k = min(rows, cols)):
 * x = u diag(s) vt with u [rows][k], s[k] descending, vt [k][cols]. x is
 * destroyed. LAPACK is column-major: it sees x^T = vt^T diag(s) u^T, so it
 * is asked for x^T's SVD and hands back our vt as its U and our u as its
 * V^T, already in our row-major layout. */
static int svd_thin(double *x, int64_t rows, int64_t cols, double *u, double *s, double *vt)
{
    if (rows * cols > INT_MAX)
        return loco_error_set(LOCO_ERR_INVALID, "a %lld x %lld matrix is too large for the SVD",
                              (long long)rows, (long long)cols);
    int m = (int)cols, n = (int)rows, k = m < n ? m : n, lwork = -1, info = 0;
    int *iwork = malloc(8 * (size_t)k * sizeof *iwork);
    double query = 0, *work = NULL;
    if (iwork) /* the first call asks for the workspace size */
        dgesdd_("S", &m, &n, x, &m, s, vt, &m, u, &k, &query, &lwork, iwork, &info, 1);
    if (iwork && !info) {
        lwork = (int)query;
        work = malloc((size_t)lwork * sizeof *work);
        if (work)
            dgesdd_("S", &m, &n, x, &m, s, vt, &m, u, &k, work, &lwork, iwork, &info, 1);
    }
    int rc = !iwork || (!info && !work) ? loco_error_set(LOCO_ERR_NOMEM, "out of memory for an SVD")
             : info
                 ? loco_error_set(LOCO_ERR_INVALID,
                                  "the SVD of a %d x %d matrix failed (LAPACK info %d)", n, m, info)
                 : LOCO_OK;
    free(iwork);
    free(work);
    return rc;
}

/* b = u_R sqrt(s_R) [rows][R] and a = sqrt(s_R) vt_R [R][cols] from a thin
 * SVD with k values (values past k are zero); the energies of s. */
static void split_factors(const double *u, const double *s, const double *vt, int64_t rows,
                          int64_t cols, int64_t k, int32_t R, float *b, float *a, double *kept,
                          double *total)
{
    *kept = *total = 0;
    for (int64_t j = 0; j < k; j++) {
        *total += s[j] * s[j];
        *kept += j < R ? s[j] * s[j] : 0;
    }
    for (int64_t j = 0; j < R; j++) {
        double root = j < k ? sqrt(s[j]) : 0;
        for (int64_t o = 0; o < rows; o++)
            b[o * R + j] = j < k ? (float)(u[o * k + j] * root) : 0.0f;
        for (int64_t i = 0; i < cols; i++)
            a[j * cols + i] = j < k ? (float)(vt[j * cols + i] * root) : 0.0f;
    }
}

static int rank_error(int32_t rank, int64_t n_out, int64_t n_in)
{
    int64_t kmin = n_out < n_in ? n_out : n_in;
    return loco_error_set(LOCO_ERR_INVALID,
                          "rank %d is not usable for a %lld x %lld matrix: give 1 to %lld",
                          (int)rank, (long long)n_out, (long long)n_in, (long long)kmin);
}

/* The R largest eigenvalues of the symmetric g [k][k] (only its upper
 * triangle in row-major order is read) in descending order into w[R], and
 * their unit eigenvectors into z [R][k]. g is destroyed. */
static int top_eigen(double *g, int64_t k, int32_t R, double *w, double *z)
{
    int n = (int)k, il = n - R + 1, iu = n, found = 0, lwork = -1, liwork = -1, iq = 0, info = 0;
    double vl = 0, vu = 0, abstol = 0, query = 0, *work = NULL;
    int *isuppz = malloc(2 * (size_t)R * sizeof *isuppz), *iwork = NULL;
    /* w holds n values even when fewer are asked for (LAPACK's rule) */
    double *wa = malloc((size_t)k * sizeof *wa), *za = malloc((size_t)(R * k) * sizeof *za);
    if (isuppz && wa && za) /* row-major upper = column-major lower; the first call sizes */
        dsyevr_("V", "I", "L", &n, g, &n, &vl, &vu, &il, &iu, &abstol, &found, wa, za, &n, isuppz,
                &query, &lwork, &iq, &liwork, &info, 1, 1, 1);
    if (isuppz && wa && za && !info) {
        lwork = (int)query;
        liwork = iq;
        work = malloc((size_t)lwork * sizeof *work);
        iwork = malloc((size_t)liwork * sizeof *iwork);
        if (work && iwork)
            dsyevr_("V", "I", "L", &n, g, &n, &vl, &vu, &il, &iu, &abstol, &found, wa, za, &n,
                    isuppz, work, &lwork, iwork, &liwork, &info, 1, 1, 1);
    }
    int rc = !isuppz || !wa || !za || (!info && (!work || !iwork))
                 ? loco_error_set(LOCO_ERR_NOMEM, "out of memory for an eigensolver")
             : info || found != R ? loco_error_set(LOCO_ERR_INVALID,
                                                   "the eigensolver failed on a %d x %d matrix "
                                                   "(LAPACK info %d, %d of %d values)",
                                                   n, n, info, found, (int)R)
                                  : LOCO_OK;
    for (int32_t j = 0; !rc && j < R; j++) { /* ascending columns -> descending rows */
        w[j] = wa[R - 1 - j];
        memcpy(z + (size_t)j * (size_t)k, za + (size_t)(R - 1 - j) * (size_t)k,
               (size_t)k * sizeof *z);
    }
    free(isuppz);
    free(iwork);
    free(work);
    free(wa);
    free(za);
    return rc;
}

/* Singular values below this fraction of the largest are taken as 0: their
 * vectors, from a Gram matrix, are noise. */
#define SIGMA_FLOOR 1e-10

int loco_merge_factorise(const float *d, int64_t n_out, int64_t n_in, int32_t rank, float *b,
                         float *a, double *energy_kept, double *energy_total)
{
    if (!d || !a || !b || n_out < 1 || n_in < 1 || n_out > INT_MAX || n_in > INT_MAX)
        return loco_error_set(LOCO_ERR_INVALID, "factorise: a %lld x %lld matrix is not usable",
                              (long long)n_out, (long long)n_in);
    bool tall = n_out > n_in; /* the Gram matrix is on the smaller side */
    int64_t k = tall ? n_in : n_out, other = tall ? n_out : n_in;
    if (rank < 1 || rank > k)
        return rank_error(rank, n_out, n_in);
    double *x = malloc((size_t)(n_out * n_in) * sizeof *x),
           *g = malloc((size_t)(k * k) * sizeof *g);
    double *lam = malloc((size_t)rank * sizeof *lam), *z = malloc((size_t)(rank * k) * sizeof *z);
    double *y = malloc((size_t)other * sizeof *y);
    int rc = x && g && lam && z && y ? LOCO_OK
                                     : loco_error_set(LOCO_ERR_NOMEM, "out of memory for an SVD");
    for (int64_t i = 0; !rc && i < n_out * n_in; i++)
        x[i] = d[i];
    double total = 0, kept = 0;
    if (!rc) { /* g = d d^T [O][O], or d^T d [I][I] when d is tall */
        cblas_dsyrk(CblasRowMajor, CblasUpper, tall ? CblasTrans : CblasNoTrans, (int)k, (int)other,
                    1.0, x, (int)n_in, 0.0, g, (int)k);
        for (int64_t j = 0; j < k; j++)
            total += g[j * k + j]; /* trace = ||d||_F^2 */
        rc = top_eigen(g, k, rank, lam, z);
    }
    for (int32_t j = 0; !rc && j < rank; j++) {
        /* z_j is d's left vector u_j (right vector v_j when tall), sigma_j^2
         * = lam_j; the other vector is d^T u_j / sigma_j (d v_j / sigma_j) */
        double sigma = sqrt(fmax(lam[j], 0.0)), root = sqrt(sigma);
        bool zero = sigma <= SIGMA_FLOOR * sqrt(fmax(lam[0], 0.0));
        kept += zero ? 0 : sigma * sigma;
        const double *zj = z + (size_t)j * (size_t)k;
        cblas_dgemv(CblasRowMajor, tall ? CblasNoTrans : CblasTrans, (int)n_out, (int)n_in, 1.0, x,
                    (int)n_in, zj, 1, 0.0, y, 1);
        for (int64_t o = 0; o < n_out; o++) /* b = U_R sqrt(S_R) */
            b[o * rank + j] = zero ? 0.0f : (float)(tall ? y[o] / root : zj[o] * root);
        for (int64_t i = 0; i < n_in; i++) /* a = sqrt(S_R) V_R^T */
            a[j * n_in + i] = zero ? 0.0f : (float)(tall ? zj[i] * root : y[i] / root);
    }
    if (!rc && energy_kept)
        *energy_kept = kept;
    if (!rc && energy_total)
        *energy_total = total;
    free(x);
    free(g);
    free(lam);
    free(z);
    free(y);
    return rc;
}

/* The same for d = B A given as factors B [O][K] and A [K][I], without
 * forming d: B = U1 S1 V1^T, then M = S1 V1^T A [k1][I] = U2 S2 V2^T, so
 * d = (U1 U2) S2 V2^T is d's SVD. Both SVDs are of thin matrices. */
static int factorise_product(const float *B, const float *A, int64_t n_out, int64_t K, int64_t n_in,
                             int32_t rank, float *b, float *a, double *kept, double *total)
{
    int64_t k1 = n_out < K ? n_out : K, k2 = k1 < n_in ? k1 : n_in;
    double *x = malloc((size_t)(n_out * K) * sizeof *x), *s1 = malloc((size_t)k1 * sizeof *s1);
    double *u1 = malloc((size_t)(n_out * k1) * sizeof *u1),
           *v1t = malloc((size_t)(k1 * K) * sizeof *v1t);
    double *M = malloc((size_t)(k1 * n_in) * sizeof *M), *s2 = malloc((size_t)k2 * sizeof *s2);
    double *u2 = malloc((size_t)(k1 * k2) * sizeof *u2),
           *v2t = malloc((size_t)(k2 * n_in) * sizeof *v2t);
    double *u = malloc((size_t)(n_out * k2) * sizeof *u);
    int rc = x && s1 && u1 && v1t && M && s2 && u2 && v2t && u
                 ? LOCO_OK
                 : loco_error_set(LOCO_ERR_NOMEM, "out of memory for an SVD");
    for (int64_t i = 0; !rc && i < n_out * K; i++)
        x[i] = B[i];
    if (!rc)
        rc = svd_thin(x, n_out, K, u1, s1, v1t); /* B = U1 S1 V1^T */
    for (int64_t j = 0; !rc && j < k1; j++)      /* M = S1 V1^T A */
        for (int64_t i = 0; i < n_in; i++) {
            double acc = 0;
            for (int64_t q = 0; q < K; q++)
                acc += v1t[j * K + q] * A[q * n_in + i];
            M[j * n_in + i] = s1[j] * acc;
        }
    if (!rc)
        rc = svd_thin(M, k1, n_in, u2, s2, v2t); /* M = U2 S2 V2^T */
    for (int64_t o = 0; !rc && o < n_out; o++)   /* d's left vectors: U1 U2 */
        for (int64_t j = 0; j < k2; j++) {
            double acc = 0;
            for (int64_t q = 0; q < k1; q++)
                acc += u1[o * k1 + q] * u2[q * k2 + j];
            u[o * k2 + j] = acc;
        }
    if (!rc)
        split_factors(u, s2, v2t, n_out, n_in, k2, rank, b, a, kept, total);
    free(x);
    free(s1);
    free(u1);
    free(v1t);
    free(M);
    free(s2);
    free(u2);
    free(v2t);
    free(u);
    return rc;
}

/* ---- checking the inputs ---------------------------------------------------- */

static bool same_base(const struct loco_adapter *x, const struct loco_adapter *y)
{
    if (x->base == y->base)
        return true;
    char hx[65], hy[65];
    return x->n_layer == y->n_layer && loco_model_sha256(x->base, hx) == LOCO_OK &&
           loco_model_sha256(y->base, hy) == LOCO_OK && strcmp(hx, hy) == 0;
}

static int check_inputs(const struct loco_merge_input *in, int32_t n,
                        const struct loco_merge_params *p, const char *path)
{
    if (!in || !p || !path || !path[0])
        return loco_error_set(LOCO_ERR_INVALID, "merge: inputs, parameters and a path are needed");
    if (n < 1 || n > LOCO_MERGE_MAX_INPUTS)
        return loco_error_set(LOCO_ERR_INVALID, "merge: %d adapters given; merge 1 to %d", (int)n,
                              LOCO_MERGE_MAX_INPUTS);
    if ((unsigned)p->method >= N_METHODS)
        return loco_error_set(LOCO_ERR_INVALID, "merge: unknown method %d", (int)p->method);
    if (p->method != LOCO_MERGE_LINEAR && !density_ok(p->density))
        return density_error(p->density);
    if (p->rank < 0)
        return loco_error_set(LOCO_ERR_INVALID,
                              "merge: rank %d is not usable; give 1 or more "
                              "(0: the method's default)",
                              (int)p->rank);
    for (int32_t i = 0; i < n; i++) {
        if (!in[i].adapter)
            return loco_error_set(LOCO_ERR_INVALID, "merge: adapter %d is NULL", (int)i);
        if (!isfinite(in[i].weight))
            return loco_error_set(LOCO_ERR_INVALID,
                                  "merge: %s has weight %g; a weight must be a "
                                  "finite number",
                                  in[i].adapter->info.name, (double)in[i].weight);
        if (!same_base(in[0].adapter, in[i].adapter))
            return loco_error_set(LOCO_ERR_INVALID,
                                  "merge: %s and %s were loaded against different base models; "
                                  "merge adapters of one base",
                                  in[0].adapter->info.path, in[i].adapter->info.path);
    }
    struct stat st;
    if (!p->overwrite && stat(path, &st) == 0)
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s already exists; choose another name or "
                              "overwrite it (--force)",
                              path);
    return LOCO_OK;
}

/* ---- one projection --------------------------------------------------------- */

/* The merged pairs under construction: each owns its a and b. */
struct merged {
    struct loco_lora_pair *pairs; /* [L * 7] at most */
    size_t n;
    struct loco_merge_result res;
};

/* A [r][I] and B [O][r] of pair p in f32. */
static int read_factors(const struct lora_pair *p, float *A, float *B)
{
    int64_t r = p->a.n_out, n_in = p->a.n_in, n_out = p->b.n_out;
    int rc = LOCO_OK;
    for (int64_t k = 0; k < r && !rc; k++)
        rc = loco_get_row(p->a.data, p->a.type, n_in, k, A + k * n_in);
    for (int64_t o = 0; o < n_out && !rc; o++)
        rc = loco_get_row(p->b.data, p->b.type, r, o, B + o * r);
    return rc;
}

/* Linear without a rank: A = [A_1; ...; A_N] [K][I] and
 * B = [s_1 B_1, ..., s_N B_N] [O][K], s_i = w_i f_i, so B A = sum_i delta_i. */
static int stack_pair(const struct loco_merge_input *in, const struct lora_pair *const *ps,
                      int32_t n, struct loco_lora_pair *out)
{
    int64_t K = 0, n_in = 0, n_out = 0;
    for (int32_t i = 0; i < n; i++)
        if (ps[i]) {
            K += ps[i]->a.n_out;
            n_in = ps[i]->a.n_in;
            n_out = ps[i]->b.n_out;
        }
    float *A = malloc((size_t)(K * n_in) * sizeof *A), *B = malloc((size_t)(K * n_out) * sizeof *B);
    float *Bi = malloc((size_t)(K * n_out) * sizeof *Bi);
    int rc = A && B && Bi ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory merging");
    int64_t k0 = 0; /* first row of input i in A, column in B */
    for (int32_t i = 0; i < n && !rc; i++) {
        if (!ps[i])
            continue;
        int64_t r = ps[i]->a.n_out;
        rc = read_factors(ps[i], A + k0 * n_in, Bi);
        float s = in[i].weight * ps[i]->factor;
        for (int64_t o = 0; o < n_out && !rc; o++)
            for (int64_t k = 0; k < r; k++)
                B[o * K + k0 + k] = s * Bi[o * r + k];
        k0 += r;
    }
    free(Bi);
    if (rc) {
        free(A);
        free(B);
        return rc;
    }
    out->n_in = n_in;
    out->n_out = n_out;
    out->rank = (int32_t)K;
    out->a = A;
    out->b = B;
    return LOCO_OK;
}

/* d [O][I] = w f B A for input pair p; A and B are scratch of the input's size. */
static int dense_delta(const struct lora_pair *p, float w, float *A, float *B, float *d)
{
    int rc = read_factors(p, A, B);
    int r = (int)p->a.n_out, n_in = (int)p->a.n_in, n_out = (int)p->b.n_out;
    if (!rc)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_out, n_in, r, w * p->factor, B, r,
                    A, n_in, 0.0f, d, n_in);
    return rc;
}

/* The dense TIES or DARE update D [O][I] of the inputs' pairs ps (NULL: absent). */
static int dense_merge(const struct loco_merge_input *in, const struct lora_pair *const *ps,
                       int32_t n, const struct loco_merge_params *p, uint64_t seed, float *D,
                       int64_t n_out, int64_t n_in)
{
    size_t len = (size_t)(n_out * n_in);
    int64_t rmax = 0;
    for (int32_t i = 0; i < n; i++)
        if (ps[i] && ps[i]->a.n_out > rmax)
            rmax = ps[i]->a.n_out;
    float *deltas = malloc((size_t)n * len * sizeof *deltas); /* [N][O][I] */
    float *A = malloc((size_t)(rmax * n_in) * sizeof *A),
          *B = malloc((size_t)(rmax * n_out) * sizeof *B);
    const float *dp[LOCO_MERGE_MAX_INPUTS];
    int32_t nd = 0;
    int rc = deltas && A && B ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory merging");
    for (int32_t i = 0; i < n && !rc; i++) {
        if (!ps[i])
            continue; /* a zero delta: adds nothing, trims to nothing, drops to nothing */
        float *d = deltas + (size_t)nd * len;
        rc = dense_delta(ps[i], in[i].weight, A, B, d);
        dp[nd++] = d;
    }
    if (!rc && p->method == LOCO_MERGE_TIES)
        rc = loco_merge_ties(dp, nd, len, p->density, D);
    else if (!rc)
        rc = loco_merge_dare(dp, nd, len, p->density, seed, D);
    free(deltas);
    free(A);
    free(B);
    return rc;
}

/* Linear to rank R: the stacked factors' product, truncated. */
static int truncate_linear(const struct loco_merge_input *in, const struct lora_pair *const *ps,
                           int32_t n, int32_t R, float *B, float *A, double *kept, double *total)
{
    struct loco_lora_pair st;
    int rc = stack_pair(in, ps, n, &st);
    if (rc)
        return rc;
    rc = factorise_product(st.b, st.a, st.n_out, st.rank, st.n_in, R, B, A, kept, total);
    free((void *)st.a);
    free((void *)st.b);
    return rc;
}

/* TIES or DARE to rank R: the dense merged update, truncated. */
static int truncate_dense(const struct loco_merge_input *in, const struct lora_pair *const *ps,
                          int32_t n, const struct loco_merge_params *p, int il,
                          enum loco_lora_target t, int32_t R, float *B, float *A, double *kept,
                          double *total)
{
    const struct lora_pair *any = NULL;
    for (int32_t i = 0; i < n && !any; i++)
        any = ps[i];
    int64_t n_in = any->a.n_in, n_out = any->b.n_out;
    uint64_t stream = p->seed + (uint64_t)il * LOCO_LORA_N_TARGETS + (uint64_t)t;
    float *D = malloc((size_t)(n_out * n_in) * sizeof *D);
    int rc = D ? dense_merge(in, ps, n, p, splitmix64(&stream), D, n_out, n_in)
               : loco_error_set(LOCO_ERR_NOMEM, "out of memory merging");
    if (!rc)
        rc = loco_merge_factorise(D, n_out, n_in, R, B, A, kept, total);
    free(D);
    return rc;
}

/* Merge projection t of layer il into out (out->a NULL: no input adapts it). */
static int merge_pair(const struct loco_merge_input *in, int32_t n,
                      const struct loco_merge_params *p, int il, enum loco_lora_target t,
                      int32_t rank, struct loco_lora_pair *out, struct loco_merge_result *res)
{
    const struct lora_pair *ps[LOCO_MERGE_MAX_INPUTS];
    const struct lora_pair *any = NULL;
    for (int32_t i = 0; i < n; i++) {
        const struct lora_pair *q = lora_pair_at(in[i].adapter, il, t);
        ps[i] = q->a.data ? q : NULL;
        any = any ? any : ps[i];
    }
    *out = (struct loco_lora_pair){.layer = il, .target = t};
    if (!any)
        return LOCO_OK;
    if (p->method == LOCO_MERGE_LINEAR && p->rank == 0)
        return stack_pair(in, ps, n, out);
    int64_t n_in = any->a.n_in, n_out = any->b.n_out, kmin = n_in < n_out ? n_in : n_out;
    int32_t R = p->rank ? rank : (int32_t)(rank < kmin ? rank : kmin);
    if (R > kmin)
        return loco_error_set(LOCO_ERR_INVALID,
                              "rank %d is too large for blk.%d.%s (%lld x %lld): give at most %lld",
                              (int)R, il, loco_lora_target_tensor(t), (long long)n_out,
                              (long long)n_in, (long long)kmin);
    float *A = malloc((size_t)(R * n_in) * sizeof *A), *B = malloc((size_t)(R * n_out) * sizeof *B);
    double kept = 0, total = 0;
    int rc = A && B ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory merging");
    if (!rc && p->method == LOCO_MERGE_LINEAR)
        rc = truncate_linear(in, ps, n, R, B, A, &kept, &total);
    else if (!rc)
        rc = truncate_dense(in, ps, n, p, il, t, R, B, A, &kept, &total);
    if (rc) {
        free(A);
        free(B);
        return rc;
    }
    res->energy_kept += kept;
    res->energy_total += total;
    *out = (struct loco_lora_pair){
        .layer = il, .target = t, .n_in = n_in, .n_out = n_out, .rank = R, .a = A, .b = B};
    return LOCO_OK;
}

/* ---- writing ---------------------------------------------------------------- */

/* The loader applies alpha / r to each pair; with alpha = the largest rank,
 * fold r / alpha into each pair's B so that the applied factor is 1. */
static void fold_alpha(struct merged *m, float alpha)
{
    for (size_t i = 0; i < m->n; i++) {
        struct loco_lora_pair *q = &m->pairs[i];
        float c = (float)q->rank / alpha;
        float *b = (float *)q->b;
        for (int64_t j = 0; c != 1.0f && j < q->n_out * q->rank; j++)
            b[j] *= c;
    }
}

/* Append ",item" (or "item" to an empty buf) to buf (cap bytes). */
static void append(char *buf, size_t cap, const char *item)
{
    size_t used = strlen(buf);
    snprintf(buf + used, cap - used, "%s%s", used ? "," : "", item);
}

struct merge_keys {
    char method[16], sources[2048], files[4096], sha256[LOCO_MERGE_MAX_INPUTS * 65 + 16];
    char weights[512], density[32], seed[32], rank[32];
};

static int fill_keys(const struct loco_merge_input *in, int32_t n,
                     const struct loco_merge_params *p, const struct merged *m,
                     struct merge_keys *k)
{
    memset(k, 0, sizeof *k);
    snprintf(k->method, sizeof k->method, "%s", loco_merge_method_name(p->method));
    for (int32_t i = 0; i < n; i++) {
        const struct loco_adapter_info *info = &in[i].adapter->info;
        char hex[65], w[32];
        int rc = loco_models_sha256_file(info->path, hex);
        if (rc)
            return rc;
        const char *slash = strrchr(info->path, '/');
        append(k->sources, sizeof k->sources, info->name);
        append(k->files, sizeof k->files, slash ? slash + 1 : info->path);
        append(k->sha256, sizeof k->sha256, hex);
        snprintf(w, sizeof w, "%g", (double)in[i].weight);
        append(k->weights, sizeof k->weights, w);
    }
    snprintf(k->density, sizeof k->density, "%g", (double)p->density);
    snprintf(k->seed, sizeof k->seed, "%llu", (unsigned long long)p->seed);
    if (m->res.exact)
        snprintf(k->rank, sizeof k->rank, "exact");
    else
        snprintf(k->rank, sizeof k->rank, "%d", (int)m->res.rank);
    return LOCO_OK;
}

static int write_merged(const struct loco_merge_input *in, int32_t n,
                        const struct loco_merge_params *p, struct merged *m, const char *path)
{
    const struct loco_adapter *first = in[0].adapter;
    struct merge_keys *k = malloc(sizeof *k);
    if (!k)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory writing %s", path);
    char sha[65] = "", name[256];
    if (loco_model_sha256(first->base, sha) != LOCO_OK) {
        snprintf(sha, sizeof sha, "%s", first->info.base_sha256); /* a base loaded from memory */
        loco_error_clear();
    }
    int rc = fill_keys(in, n, p, m, k); /* after the hash: its message must survive */
    lora_file_stem(path, name, sizeof name);
    bool dense = p->method != LOCO_MERGE_LINEAR;
    const char *keys[] = {"locollm.merge.method",       "locollm.merge.sources",
                          "locollm.merge.source_files", "locollm.merge.source_sha256",
                          "locollm.merge.weights",      "locollm.merge.rank",
                          "locollm.merge.density",      "locollm.merge.seed"};
    const char *values[] = {k->method,  k->sources, k->files,   k->sha256,
                            k->weights, k->rank,    k->density, k->seed};
    size_t n_keys = !dense ? 6 : p->method == LOCO_MERGE_TIES ? 7 : 8;
    struct loco_adapter_meta meta = {.arch = first->info.arch,
                                     .base_sha256 = sha,
                                     .name = p->name && p->name[0] ? p->name : name,
                                     .domain = p->domain ? p->domain : first->info.domain,
                                     .alpha = (float)m->res.rank,
                                     .extra_keys = keys,
                                     .extra_values = values,
                                     .n_extra = n_keys};
    if (!rc)
        rc = loco_adapter_write(path, &meta, m->pairs, m->n, p->type);
    free(k);
    return rc;
}

/* ---- the whole merge -------------------------------------------------------- */

int loco_adapter_merge(const struct loco_merge_input *in, int32_t n,
                       const struct loco_merge_params *p, const char *path,
                       struct loco_merge_result *out)
{
    int rc = check_inputs(in, n, p, path);
    if (rc)
        return rc;
    int32_t rank = p->rank; /* ties and dare default to the largest input rank */
    for (int32_t i = 0; i < n && !p->rank; i++)
        rank = in[i].adapter->info.rank > rank ? in[i].adapter->info.rank : rank;
    int n_layer = in[0].adapter->n_layer;
    struct merged m = {.pairs = calloc((size_t)n_layer * LOCO_LORA_N_TARGETS, sizeof *m.pairs)};
    m.res.exact = p->method == LOCO_MERGE_LINEAR && p->rank == 0;
    if (!m.pairs)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory merging");
    for (int il = 0; il < n_layer && !rc; il++) {
        for (int t = 0; t < LOCO_LORA_N_TARGETS && !rc; t++) {
            struct loco_lora_pair *q = &m.pairs[m.n];
            rc = merge_pair(in, n, p, il, (enum loco_lora_target)t, rank, q, &m.res);
            if (q->a) { /* owned by m from here, also on an error */
                m.n++;
                m.res.rank = q->rank > m.res.rank ? q->rank : m.res.rank;
            }
        }
    }
    if (!rc) {
        fold_alpha(&m, (float)m.res.rank);
        rc = write_merged(in, n, p, &m, path);
    }
    struct stat st;
    m.res.n_pairs = (int32_t)m.n;
    m.res.file_bytes = !rc && stat(path, &st) == 0 ? (size_t)st.st_size : 0;
    for (size_t i = 0; i < m.n; i++) {
        free((void *)m.pairs[i].a);
        free((void *)m.pairs[i].b);
    }
    free(m.pairs);
    if (!rc && out)
        *out = m.res;
    return rc;
}
