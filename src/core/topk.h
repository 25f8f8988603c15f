/* topk.h -- the library's one ranking order, its two top-k collectors (a
** bounded heap for any float score, a batch collector for non-negative ones)
** and a binary-heap template on the same order.
**
** Ranking order (every ranked list the library returns follows it): a result
** ranks before another when its score is higher, or when the scores are equal
** and its id is lower. Ids are what the caller ranks: BM25 doc numbers, vector
** slots, HNSW nodes. Since ids are unique per search, the order is total on
** non-NaN scores, so equal scores come out in the same order on every path
** (MaxScore or exhaustive BM25, brute-force or HNSW vectors) and every run.
** Code that ranks by a distance (lower is better) uses ds__closer(), which is
** the same rule with the comparison turned around: score = -distance ranks
** exactly as distance does, ties included.
**
** NaN: every comparison with NaN is false, so a NaN is neither better nor
** worse than anything. The collector below keeps that behaviour on purpose
** (results must stay bit-identical to the code it replaced): while the heap is
** not full a NaN is stored like any score; once full, a NaN never enters; a
** NaN already stored may stay in the result, at a place fixed by the push
** order. Callers that can produce NaN filter it before pushing or accept
** that. Deterministic, but not a meaningful rank.
**
** Thread: a collector belongs to one thread (one query).
*/
#ifndef DS_CORE_TOPK_H
#define DS_CORE_TOPK_H

#include "ds_internal.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 1 when (sa, ia) ranks before (sb, ib): higher score, then lower id. */
static inline int ds__ranks_before(float sa, uint32_t ia, float sb, uint32_t ib) {
    return sa > sb || (sa == sb && ia < ib);
}

/* The same order for distances (lower is better): lower distance, then lower id. */
static inline int ds__closer(float da, uint32_t ia, float db, uint32_t ib) {
    return da < db || (da == db && ia < ib);
}

/* Bounded top-k over caller arrays: a min-heap whose root is the worst kept
** result, so a newcomer is compared with one element. scores and ids hold k
** entries each and receive the sorted result. k == 0 keeps nothing. */
typedef struct ds__topk {
    float    *scores;   /* k entries: heap order, then best first after sort */
    uint32_t *ids;      /* k entries, parallel to scores */
    size_t    k, n;     /* capacity; entries kept (n <= k) */
} ds__topk;

void ds__topk_init(ds__topk *t, float *scores, uint32_t *ids, size_t k);

/* 1 once k results are kept (the threshold is then a real score). */
static inline int ds__topk_full(const ds__topk *t) { return t->n == t->k && t->k > 0; }

/* Current admission threshold: the k-th best score, or -INFINITY while not
** full. A score below it can never enter; one equal to it enters only with a
** lower id than the worst kept result. k == 0 reads as "not full" (-INFINITY,
** and the arrays are never touched), so callers need no special case. */
static inline float ds__topk_threshold(const ds__topk *t) {
    return t->n < t->k || t->k == 0 ? -__builtin_inff() : t->scores[0];
}

/* Offers (score, id); keeps it when it ranks before the worst kept result. */
void ds__topk_push(ds__topk *t, float score, uint32_t id);

/* Sorts the kept results in place, best first; returns their count. The
** collector is spent afterwards (init again to reuse the arrays). */
size_t ds__topk_sort(ds__topk *t);

/* Batch top-k for scores that are never negative, -0 or NaN (BM25): each
** candidate is one u64 key, the score's bits above the inverted id. The bits
** of non-negative floats order like the floats, so "higher key" is exactly
** "ranks before" (higher score, then lower id), compared as one integer.
** Keys go into a buffer of 2k; when it is full a quickselect keeps the best
** k and theta rises to the k-th key. That is O(1) amortised per candidate
** and ends with a radix sort: cheaper than the heap when many candidates are
** offered or k is large. theta lags the true k-th score (it rises only at a
** compaction), never exceeds it, so pruning against it is safe.
** Initialise as { key, 0, k, 2 * k, 0, 0, 0.0f } with key holding 2k u64. */
typedef struct ds__topk_batch {
    uint64_t *key;       /* cap entries (2k) */
    size_t    n, k, cap; /* used, wanted, capacity */
    int       full;      /* theta is valid: k candidates seen */
    uint64_t  theta_key;
    float     theta;     /* score part of theta_key */
} ds__topk_batch;

static inline uint64_t ds__topk_batch_key(float score, uint32_t id) {
    uint32_t bits;
    memcpy(&bits, &score, sizeof bits);
    return ((uint64_t)bits << 32) | (uint64_t)(UINT32_MAX - id);
}

/* Internal: compacts a full buffer to the best k and updates theta. */
void ds__topk_batch_compact(ds__topk_batch *t);

/* Offers (score, id); returns 1 when theta changed. */
static inline int ds__topk_batch_push(ds__topk_batch *t, float score, uint32_t id) {
    DS_ASSERT(score >= 0.0f && !(score == 0.0f && signbit(score)));
    if (t->k == 0) return 0;
    uint64_t key = ds__topk_batch_key(score, id);
    if (t->full && key <= t->theta_key) return 0;
    t->key[t->n++] = key;
    if (t->full ? t->n < t->cap : t->n < t->k) return 0;
    float old = t->theta;
    int was_full = t->full;
    ds__topk_batch_compact(t);
    return !was_full || t->theta != old;
}

/* Sorts the best k keys, best first, in place (the buffer's upper half is
** the radix sort's scratch); returns their count. */
size_t ds__topk_batch_finish(ds__topk_batch *t);
static inline uint32_t ds__topk_batch_id(const ds__topk_batch *t, size_t i) {
    return UINT32_MAX - (uint32_t)t->key[i];
}
static inline float ds__topk_batch_score(const ds__topk_batch *t, size_t i) {
    uint32_t bits = (uint32_t)(t->key[i] >> 32);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Binary heap on an element type T, for searches that need a frontier heap
** rather than a bounded collector (HNSW layer search keeps a closest-first
** candidate heap and a farthest-first result heap). BEFORE(a, b) is 1 when a
** belongs nearer the root; build it from ds__ranks_before()/ds__closer() so
** the tie rule stays the library's. Defines static NAME##_push / NAME##_pop;
** the heap is h[0..*n), its root h[0]; the caller guarantees capacity. */
#define DS__HEAP_DEFINE(NAME, T, BEFORE)                                           \
    static inline void NAME##_push(T *h, size_t *n, T x) {                         \
        size_t i = (*n)++;                                                          \
        while (i > 0) {                                                             \
            size_t p = (i - 1) / 2;                                                 \
            if (!BEFORE(x, h[p])) break;                                            \
            h[i] = h[p];                                                            \
            i = p;                                                                  \
        }                                                                           \
        h[i] = x;                                                                   \
    }                                                                               \
    static inline T NAME##_pop(T *h, size_t *n) {                                   \
        T top = h[0], x = h[--(*n)];                                                \
        size_t i = 0, cnt = *n;                                                     \
        for (;;) {                                                                  \
            size_t l = 2 * i + 1, b = i;                                            \
            T bx = x;                                                               \
            if (l < cnt && BEFORE(h[l], bx)) { b = l; bx = h[l]; }                  \
            if (l + 1 < cnt && BEFORE(h[l + 1], bx)) { b = l + 1; bx = h[l + 1]; }  \
            if (b == i) break;                                                      \
            h[i] = h[b];                                                            \
            i = b;                                                                  \
        }                                                                           \
        if (cnt) h[i] = x;                                                          \
        return top;                                                                 \
    }

#endif /* DS_CORE_TOPK_H */
