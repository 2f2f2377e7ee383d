/* One decode step of attention over the transformers engine's KV slots (generators/engines/decode_attention.py).
 *
 * Row b attends to its own positions [0, lengths[b]] only (its cached tokens plus the one this step wrote), so
 * nothing is read for the padding between a short row and the batch's longest. One task is one (row, kv head)
 * pair: its G query heads share every key and value read, which is what makes decode attention cheap in
 * memory traffic. Tasks go to threads through an atomic counter (rows differ in length), and each task is
 * computed in one fixed order, so the result does not depend on the thread count or on the other rows.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX512F__) && defined(__AVX512BF16__)
#include <immintrin.h>
#define R1F_AVX512_BF16 1
#endif

#define MAX_GROUP 16
#define MAX_DIM 256
#define MAX_THREADS 64

typedef struct {
    const void *q, *k, *v;
    const int64_t *lengths;
    void *out;
    int64_t q_row, q_head, k_row, k_head, k_pos, v_row, v_head, v_pos, o_row, o_head; /* strides, in elements */
    int heads, kv_heads, dim, bf16;
    float scale;
    int tasks;
    int next; /* the next unclaimed task (atomic) */
    int failed;
} Work;

static inline float from_bf16(uint16_t x) {
    uint32_t u = (uint32_t)x << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t to_bf16(float f) { /* round to nearest even, as torch does */
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float load(const Work *w, const void *base, int64_t at) {
    return w->bf16 ? from_bf16(((const uint16_t *)base)[at]) : ((const float *)base)[at];
}

/* e^x for x <= 0 (softmax after subtracting the maximum), in plain float and integer steps that vectorise:
 * e^x = 2^n * e^r with |r| <= ln2/2, e^r by its degree-6 Taylor polynomial (relative error < 2e-7) */
static inline float exp_nonpositive(float x) {
    x = x < -87.f ? -87.f : x;
    float n = floorf(x * 1.44269504f + 0.5f);
    float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
    float p = 1.f + r * (1.f + r * (0.5f + r * (0.16666667f + r * (0.041666668f + r * (0.008333334f + r * 0.0013888889f)))));
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

/* softmax over the scores of each head in place; the scores are already scaled */
static void softmax_rows(float *scores, int group, int stride, int n) {
    for (int h = 0; h < group; h++) {
        float *s = scores + (int64_t)h * stride, top = -INFINITY, total = 0.f;
        for (int t = 0; t < n; t++) top = s[t] > top ? s[t] : top;
        for (int t = 0; t < n; t++) {
            s[t] = exp_nonpositive(s[t] - top);
            total += s[t];
        }
        float inv = 1.f / total;
        for (int t = 0; t < n; t++) s[t] *= inv;
    }
}

static void store_out(Work *w, int b, int g, int group, float acc[][MAX_DIM]) {
    int d_n = w->dim;
    for (int h = 0; h < group; h++) {
        int64_t at = b * w->o_row + (int64_t)(g * group + h) * w->o_head;
        if (w->bf16)
            for (int d = 0; d < d_n; d++) ((uint16_t *)w->out)[at + d] = to_bf16(acc[h][d]);
        else
            for (int d = 0; d < d_n; d++) ((float *)w->out)[at + d] = acc[h][d];
    }
}

#ifdef R1F_AVX512_BF16
/* bf16 with head dim a multiple of 32: q.k by bf16 dot-product instructions (exact products, fp32 sums) */
static void task_avx512(Work *w, int b, int g, int n, float *scores, int stride) {
    int group = w->heads / w->kv_heads, chunks = w->dim / 32;
    const uint16_t *q = w->q, *k = w->k, *v = w->v;
    __m512bh qv[MAX_GROUP][MAX_DIM / 32];
    for (int h = 0; h < group; h++)
        for (int c = 0; c < chunks; c++)
            qv[h][c] = (__m512bh)_mm512_loadu_si512(q + b * w->q_row + (int64_t)(g * group + h) * w->q_head + 32 * c);
    const uint16_t *kb = k + b * w->k_row + g * w->k_head;
    for (int t = 0; t < n; t++) {
        __m512bh kc[MAX_DIM / 32];
        for (int c = 0; c < chunks; c++) kc[c] = (__m512bh)_mm512_loadu_si512(kb + t * w->k_pos + 32 * c);
        for (int h = 0; h < group; h++) {
            __m512 acc = _mm512_setzero_ps();
            for (int c = 0; c < chunks; c++) acc = _mm512_dpbf16_ps(acc, qv[h][c], kc[c]);
            scores[(int64_t)h * stride + t] = _mm512_reduce_add_ps(acc) * w->scale;
        }
    }
    softmax_rows(scores, group, stride, n);
    __m512 acc[MAX_GROUP][MAX_DIM / 16];
    int vecs = w->dim / 16;
    for (int h = 0; h < group; h++)
        for (int c = 0; c < vecs; c++) acc[h][c] = _mm512_setzero_ps();
    const uint16_t *vb = v + b * w->v_row + g * w->v_head;
    for (int t = 0; t < n; t++) {
        __m512 vv[MAX_DIM / 16];
        for (int c = 0; c < vecs; c++) {
            __m256i half = _mm256_loadu_si256((const __m256i *)(vb + t * w->v_pos + 16 * c));
            vv[c] = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16));
        }
        for (int h = 0; h < group; h++) {
            __m512 p = _mm512_set1_ps(scores[(int64_t)h * stride + t]);
            for (int c = 0; c < vecs; c++) acc[h][c] = _mm512_fmadd_ps(p, vv[c], acc[h][c]);
        }
    }
    float out[MAX_GROUP][MAX_DIM];
    for (int h = 0; h < group; h++)
        for (int c = 0; c < vecs; c++) _mm512_storeu_ps(out[h] + 16 * c, acc[h][c]);
    store_out(w, b, g, group, out);
}
#endif

/* any dtype we take, any head dim: plain loops the compiler vectorises */
static void task_plain(Work *w, int b, int g, int n, float *scores, int stride) {
    int group = w->heads / w->kv_heads, d_n = w->dim;
    float qf[MAX_GROUP][MAX_DIM], acc[MAX_GROUP][MAX_DIM], row[MAX_DIM];
    for (int h = 0; h < group; h++)
        for (int d = 0; d < d_n; d++)
            qf[h][d] = load(w, w->q, b * w->q_row + (int64_t)(g * group + h) * w->q_head + d) * w->scale;
    for (int t = 0; t < n; t++) {
        int64_t at = b * w->k_row + g * w->k_head + t * w->k_pos;
        for (int d = 0; d < d_n; d++) row[d] = load(w, w->k, at + d);
        for (int h = 0; h < group; h++) {
            float dot = 0.f;
            for (int d = 0; d < d_n; d++) dot += qf[h][d] * row[d];
            scores[(int64_t)h * stride + t] = dot;
        }
    }
    softmax_rows(scores, group, stride, n);
    for (int h = 0; h < group; h++)
        for (int d = 0; d < d_n; d++) acc[h][d] = 0.f;
    for (int t = 0; t < n; t++) {
        int64_t at = b * w->v_row + g * w->v_head + t * w->v_pos;
        for (int d = 0; d < d_n; d++) row[d] = load(w, w->v, at + d);
        for (int h = 0; h < group; h++) {
            float p = scores[(int64_t)h * stride + t];
            for (int d = 0; d < d_n; d++) acc[h][d] += p * row[d];
        }
    }
    store_out(w, b, g, group, acc);
}

static void *worker(void *arg) {
    Work *w = arg;
    int group = w->heads / w->kv_heads, stride = 0;
    float *scores = NULL;
    for (;;) {
        int task = __atomic_fetch_add(&w->next, 1, __ATOMIC_RELAXED);
        if (task >= w->tasks) break;
        int b = task / w->kv_heads, g = task % w->kv_heads, n = (int)w->lengths[b] + 1;
        if (n > stride) {
            free(scores);
            stride = n + 64;
            scores = malloc(sizeof(float) * group * stride);
            if (!scores) {
                __atomic_store_n(&w->failed, 1, __ATOMIC_RELAXED);
                break;
            }
        }
#ifdef R1F_AVX512_BF16
        if (w->bf16 && w->dim % 32 == 0) {
            task_avx512(w, b, g, n, scores, stride);
            continue;
        }
#endif
        task_plain(w, b, g, n, scores, stride);
    }
    free(scores);
    return NULL;
}

/* 0 on success; -1 for shapes this kernel does not take (the caller falls back to SDPA), -2 out of memory */
int r1f_decode_attention(const void *q, const void *k, const void *v, const int64_t *lengths, void *out, int rows,
                         int heads, int kv_heads, int dim, int bf16, const int64_t *strides, float scale, int threads) {
    if (kv_heads <= 0 || heads % kv_heads || heads / kv_heads > MAX_GROUP || dim > MAX_DIM) return -1;
    Work w = {q, k, v, lengths, out, strides[0], strides[1], strides[2], strides[3], strides[4], strides[5],
              strides[6], strides[7], strides[8], strides[9], heads, kv_heads, dim, bf16, scale, rows * kv_heads, 0, 0};
    if (threads < 1) threads = 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if (threads > w.tasks) threads = w.tasks;
    pthread_t ids[MAX_THREADS];
    int started = 1;
    for (; started < threads; started++)
        if (pthread_create(&ids[started], NULL, worker, &w)) break; /* fewer threads still finish every task */
    worker(&w);
    for (int i = 1; i < started; i++) pthread_join(ids[i], NULL);
    return w.failed ? -2 : 0;
}
