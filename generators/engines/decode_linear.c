/* The linear layers of a decode step, y = x w^T (+ b), for a few rows of x (generators/engines/decode_linear.py).
 *
 * A decode step multiplies a handful of rows (the live sequences) by every weight matrix of the model. torch's
 * CPU build hands that to MKL's sgemm, which on non-Intel CPUs takes a slow path for such thin matrices: on an
 * AMD EPYC, 4 rows through 576 -> 1536 took 4.5x one row, and 10 rows through the 49k-token LM head 46 ms where
 * the weights stream in ~10 ms (bench/RESULTS.md). Here each thread takes a range of output features and, for
 * each pair of them, runs every row of x against the pair's weights while they sit in L1: weights are read
 * once per step whatever the number of rows, and rows of x come from L1/L2.
 *
 * Every output is one fixed-order dot product (8-wide partial sums over the inputs, then a fixed tree), so a
 * row's result does not depend on the other rows in the batch or on the thread count.
 */
#include <pthread.h>
#include <stdint.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define R1F_AVX2 1
#endif

#define MAX_THREADS 64
#define ROWS_PER_BLOCK 6

typedef struct {
    const float *x, *w, *bias;
    float *y;
    int64_t ldx, ldy;
    int rows, in, n0, n1;
} Job;

#ifdef R1F_AVX2
static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
#endif

/* outputs n and n + 1 (when two) for rows m .. m + mb - 1; mb is a constant where this is inlined */
static inline __attribute__((always_inline)) void block(const Job *j, int n, int two, int m, const int mb, const int prefetch) {
    const int in = j->in;
    const float *w0 = j->w + (int64_t)n * in, *w1 = two ? w0 + in : w0;
    const float *x[ROWS_PER_BLOCK];
    for (int i = 0; i < mb; i++) x[i] = j->x + (int64_t)(m + i) * j->ldx;
    float r0[ROWS_PER_BLOCK], r1[ROWS_PER_BLOCK];
    int k = 0;
#ifdef R1F_AVX2
    __m256 a0[ROWS_PER_BLOCK], a1[ROWS_PER_BLOCK];
    for (int i = 0; i < mb; i++) a0[i] = a1[i] = _mm256_setzero_ps();
    for (; k + 8 <= in; k += 8) {
        if (prefetch && (k & 15) == 0) {
            _mm_prefetch((const char *)(w0 + 2 * (int64_t)in + k), _MM_HINT_T0);
            _mm_prefetch((const char *)(w1 + 2 * (int64_t)in + k), _MM_HINT_T0);
        }
        const __m256 v0 = _mm256_loadu_ps(w0 + k), v1 = _mm256_loadu_ps(w1 + k);
        for (int i = 0; i < mb; i++) {
            const __m256 xv = _mm256_loadu_ps(x[i] + k);
            a0[i] = _mm256_fmadd_ps(xv, v0, a0[i]);
            a1[i] = _mm256_fmadd_ps(xv, v1, a1[i]);
        }
    }
    for (int i = 0; i < mb; i++) r0[i] = hsum(a0[i]), r1[i] = hsum(a1[i]);
#else
    for (int i = 0; i < mb; i++) r0[i] = r1[i] = 0.f;
#endif
    for (; k < in; k++)
        for (int i = 0; i < mb; i++) r0[i] += x[i][k] * w0[k], r1[i] += x[i][k] * w1[k];
    const float b0 = j->bias ? j->bias[n] : 0.f, b1 = j->bias && two ? j->bias[n + 1] : 0.f;
    for (int i = 0; i < mb; i++) {
        float *out = j->y + (int64_t)(m + i) * j->ldy + n;
        out[0] = r0[i] + b0;
        if (two) out[1] = r1[i] + b1;
    }
}

static void run(const Job *j) {
    for (int n = j->n0; n < j->n1; n += 2) {
        const int two = n + 1 < j->n1;
        int m = 0;
        for (; m + ROWS_PER_BLOCK <= j->rows; m += ROWS_PER_BLOCK) block(j, n, two, m, 6, m == 0);
        switch (j->rows - m) {
        case 5: block(j, n, two, m, 5, m == 0); break;
        case 4: block(j, n, two, m, 4, m == 0); break;
        case 3: block(j, n, two, m, 3, m == 0); break;
        case 2: block(j, n, two, m, 2, m == 0); break;
        case 1: block(j, n, two, m, 1, m == 0); break;
        default: break;
        }
    }
}

static void *thread_main(void *job) {
    run((const Job *)job);
    return 0;
}

/* y[rows, out] (row stride ldy) = x[rows, in] (row stride ldx) w[out, in]^T + bias[out] (bias may be NULL).
 * Returns 0, or -1 on shapes it does not take. */
int r1f_linear(const float *x, int64_t ldx, const float *w, const float *bias, float *y, int64_t ldy, int rows,
               int out, int in, int threads) {
    if (rows < 1 || out < 1 || in < 1 || ldx < in || ldy < out) return -1;
    if (threads < 1) threads = 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if (threads > out / 64) threads = out / 64 > 0 ? out / 64 : 1; /* small matrices: one thread */
    Job jobs[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    const int per = ((out + threads - 1) / threads + 1) & ~1; /* even, so pairs never straddle threads */
    int used = 0;
    for (; used < threads && used * per < out; used++) {
        const int n0 = used * per, n1 = n0 + per < out ? n0 + per : out;
        jobs[used] = (Job){x, w, bias, y, ldx, ldy, rows, in, n0, n1};
    }
    int started = 1;
    for (; started < used; started++)
        if (pthread_create(&ids[started], 0, thread_main, &jobs[started]) != 0) break;
    for (int t = started; t < used; t++) run(&jobs[t]); /* a thread that would not start: its share runs here */
    run(&jobs[0]);
    for (int t = 1; t < started; t++) pthread_join(ids[t], 0);
    return 0;
}
