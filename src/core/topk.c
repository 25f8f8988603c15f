/* topk.c -- the top-k collectors (see topk.h for the ranking order, ties and
** NaN). The heap serves every vector index type, the batch collector BM25;
** both rank by ds__ranks_before, so equal scores break the same way
** everywhere (tests/unit/t_topk.c checks the two against a sort).
*/
#include "core/topk.h"

void ds__topk_init(ds__topk *t, float *scores, uint32_t *ids, size_t k) {
    t->scores = scores;
    t->ids = ids;
    t->k = k;
    t->n = 0;
}

/* The heap keeps its worst result at the root: a is "worse" than b when b
** ranks before a. */
static inline int worse(float sa, uint32_t a, float sb, uint32_t b) {
    return ds__ranks_before(sb, b, sa, a);
}

static void sift_down(ds__topk *t, size_t i, size_t n) {
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && worse(t->scores[l], t->ids[l], t->scores[m], t->ids[m])) m = l;
        if (l + 1 < n && worse(t->scores[l + 1], t->ids[l + 1], t->scores[m], t->ids[m])) m = l + 1;
        if (m == i) return;
        float s = t->scores[i]; t->scores[i] = t->scores[m]; t->scores[m] = s;
        uint32_t x = t->ids[i]; t->ids[i] = t->ids[m]; t->ids[m] = x;
        i = m;
    }
}

void ds__topk_push(ds__topk *t, float score, uint32_t id) {
    if (t->k == 0) return;
    if (t->n < t->k) {
        size_t i = t->n++;
        t->scores[i] = score;
        t->ids[i] = id;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!worse(t->scores[i], t->ids[i], t->scores[p], t->ids[p])) break;
            float s = t->scores[i]; t->scores[i] = t->scores[p]; t->scores[p] = s;
            uint32_t x = t->ids[i]; t->ids[i] = t->ids[p]; t->ids[p] = x;
            i = p;
        }
        return;
    }
    if (!worse(t->scores[0], t->ids[0], score, id)) return;
    t->scores[0] = score;
    t->ids[0] = id;
    sift_down(t, 0, t->n);
}

size_t ds__topk_sort(ds__topk *t) {
    size_t n = t->n;
    for (size_t end = n; end > 1; end--) {
        float s = t->scores[0]; t->scores[0] = t->scores[end - 1]; t->scores[end - 1] = s;
        uint32_t x = t->ids[0]; t->ids[0] = t->ids[end - 1]; t->ids[end - 1] = x;
        sift_down(t, 0, end - 1);
    }
    return n;   /* min-heap popped to the back: best first */
}

/* ---- batch collector ---------------------------------------------------- */

static inline void swap_u64(uint64_t *a, uint64_t *b) { uint64_t t = *a; *a = *b; *b = t; }

/* Partially orders h[0..n) so that h[0..k) are the k largest (k < n). */
static void select_best(uint64_t *h, size_t n, size_t k) {
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h[mid] > h[lo]) swap_u64(&h[mid], &h[lo]);
        if (h[hi] > h[lo]) swap_u64(&h[hi], &h[lo]);
        if (h[mid] > h[hi]) swap_u64(&h[mid], &h[hi]);
        uint64_t pv = h[hi];
        size_t st = lo;
        for (size_t i = lo; i < hi; i++)
            if (h[i] > pv) swap_u64(&h[i], &h[st++]);
        swap_u64(&h[st], &h[hi]);
        if (st == k || st + 1 == k) return;
        if (st > k) hi = st - 1; else lo = st + 1;
    }
}

/* Sorts keys descending: LSD radix sort, 8 passes of 8 bits (no
** data-dependent branches, which made comparison sorts mispredict). tmp
** holds n keys. Passes whose digit is the same for every key are skipped. */
static void sort_desc(uint64_t *h, uint64_t *tmp, size_t n) {
    uint64_t *src = h, *dst = tmp;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t cnt[256] = { 0 };
        for (size_t i = 0; i < n; i++) cnt[255 - ((src[i] >> shift) & 0xff)]++;   /* 255 - d: descending */
        if (cnt[255 - ((src[0] >> shift) & 0xff)] == n) continue;
        size_t sum = 0;
        for (int b = 0; b < 256; b++) { size_t c = cnt[b]; cnt[b] = sum; sum += c; }
        for (size_t i = 0; i < n; i++) dst[cnt[255 - ((src[i] >> shift) & 0xff)]++] = src[i];
        uint64_t *x = src; src = dst; dst = x;
    }
    if (src != h) memcpy(h, src, n * sizeof *h);
}

static void set_theta(ds__topk_batch *t) {
    uint64_t w = t->key[0];
    for (size_t i = 1; i < t->n; i++)
        if (t->key[i] < w) w = t->key[i];
    t->theta_key = w;
    uint32_t bits = (uint32_t)(w >> 32);
    memcpy(&t->theta, &bits, sizeof bits);
}

void ds__topk_batch_compact(ds__topk_batch *t) {
    if (t->full) {
        select_best(t->key, t->n, t->k);
        t->n = t->k;
    }
    t->full = 1;
    set_theta(t);
}

size_t ds__topk_batch_finish(ds__topk_batch *t) {
    if (t->n > t->k) {
        select_best(t->key, t->n, t->k);
        t->n = t->k;
    }
    if (t->n > 0) sort_desc(t->key, t->key + t->n, t->n);   /* n <= k: the upper half is free */
    return t->n;
}
