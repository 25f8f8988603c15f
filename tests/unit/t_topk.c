/* t_topk.c -- the ranking order and the top-k collectors of core/topk.h:
** both collectors against a full sort (ties, k = 0, k > n, any arrival order),
** NaN in the heap pinned to what it did before it moved to core, and the
** binary-heap template.
*/
#include "test.h"
#include "core/topk.h"

typedef struct { float s; uint32_t id; } pair;

static int cmp_rank(const void *a, const void *b) {
    const pair *x = a, *y = b;
    return ds__ranks_before(y->s, y->id, x->s, x->id) - ds__ranks_before(x->s, x->id, y->s, y->id);
}

static uint64_t rng_next(uint64_t *st) {
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    return *st >> 33;
}

/* n candidates with heavy ties (scores from a few values), distinct ids in a
** random order; nonneg: only values the batch collector accepts. */
static void make_input(pair *p, size_t n, uint64_t seed, int nonneg) {
    static const float any[] = { -2.5f, -0.0f, 0.0f, 1.0f, 1.0f, 3.25f, 1e30f, -INFINITY, INFINITY };
    static const float pos[] = { 0.0f, 0.5f, 1.0f, 1.0f, 3.25f, 1e30f, INFINITY };
    uint64_t st = seed;
    for (size_t i = 0; i < n; i++) {
        p[i].id = (uint32_t)(i * 7 + 3);
        p[i].s = nonneg ? pos[rng_next(&st) % (sizeof pos / sizeof *pos)]
                        : any[rng_next(&st) % (sizeof any / sizeof *any)];
    }
    for (size_t i = n; i > 1; i--) {   /* shuffle: arrival order must not matter */
        size_t j = rng_next(&st) % i;
        pair x = p[i - 1]; p[i - 1] = p[j]; p[j] = x;
    }
}

static int same_f32_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

TEST(topk_heap_matches_sort_with_ties) {
    enum { N = 300 };
    pair in[N], ref[N];
    float sc[N + 8];
    uint32_t ids[N + 8];
    static const size_t ks[] = { 1, 2, 7, 64, N - 1, N, N + 8 };
    for (uint64_t seed = 1; seed <= 20; seed++) {
        size_t n = (size_t)(seed * 37 % N) + 1;
        make_input(in, n, seed, 0);
        memcpy(ref, in, n * sizeof *in);
        qsort(ref, n, sizeof *ref, cmp_rank);
        for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
            size_t k = ks[ki];
            ds__topk t;
            ds__topk_init(&t, sc, ids, k);
            for (size_t i = 0; i < n; i++) {
                float thr = ds__topk_threshold(&t);
                if (ds__topk_full(&t)) ASSERT(same_f32_bits(thr, t.scores[0]));
                else ASSERT(thr == -INFINITY);
                ds__topk_push(&t, in[i].s, in[i].id);
            }
            size_t got = ds__topk_sort(&t), want = k < n ? k : n;
            ASSERT_EQ_U64(got, want);
            for (size_t i = 0; i < got; i++) {
                if (ids[i] != ref[i].id || !same_f32_bits(sc[i], ref[i].s))
                    FAIL("seed %llu n %zu k %zu rank %zu: got (%g, %u) want (%g, %u)", (unsigned long long)seed,
                         n, k, i, (double)sc[i], ids[i], (double)ref[i].s, ref[i].id);
            }
        }
    }
}

TEST(topk_batch_matches_sort_with_ties) {
    enum { N = 300 };
    pair in[N], ref[N];
    uint64_t keys[2 * (N + 8)];
    static const size_t ks[] = { 1, 2, 7, 64, N - 1, N, N + 8 };
    for (uint64_t seed = 1; seed <= 20; seed++) {
        size_t n = (size_t)(seed * 37 % N) + 1;
        make_input(in, n, seed, 1);
        memcpy(ref, in, n * sizeof *in);
        qsort(ref, n, sizeof *ref, cmp_rank);
        for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
            size_t k = ks[ki];
            ds__topk_batch t = { keys, 0, k, 2 * k, 0, 0, 0.0f };
            for (size_t i = 0; i < n; i++) {
                float before = t.theta;
                int changed = ds__topk_batch_push(&t, in[i].s, in[i].id);
                if (changed) ASSERT(t.full);
                else if (t.full) ASSERT(same_f32_bits(before, t.theta));
            }
            /* theta never exceeds the true k-th score: pruning with it is safe */
            if (t.full && k <= n) ASSERT(t.theta <= ref[k - 1].s);
            size_t got = ds__topk_batch_finish(&t), want = k < n ? k : n;
            ASSERT_EQ_U64(got, want);
            for (size_t i = 0; i < got; i++) {
                uint32_t id = ds__topk_batch_id(&t, i);
                float s = ds__topk_batch_score(&t, i);
                if (id != ref[i].id || !same_f32_bits(s, ref[i].s))
                    FAIL("seed %llu n %zu k %zu rank %zu: got (%g, %u) want (%g, %u)", (unsigned long long)seed,
                         n, k, i, (double)s, id, (double)ref[i].s, ref[i].id);
            }
        }
    }
}

TEST(topk_k_zero) {
    ds__topk t;
    ds__topk_init(&t, NULL, NULL, 0);          /* k = 0: the arrays are never touched */
    ASSERT(ds__topk_threshold(&t) == -INFINITY);
    ASSERT(!ds__topk_full(&t));
    ds__topk_push(&t, 1.0f, 1);
    ds__topk_push(&t, NAN, 2);
    ASSERT_EQ_U64(ds__topk_sort(&t), 0);

    ds__topk_batch b = { NULL, 0, 0, 0, 0, 0, 0.0f };
    ASSERT(!ds__topk_batch_push(&b, 1.0f, 1));
    ASSERT_EQ_U64(ds__topk_batch_finish(&b), 0);
}

TEST(topk_equal_scores_rank_lower_id_first) {
    float sc[3];
    uint32_t ids[3];
    ds__topk t;
    ds__topk_init(&t, sc, ids, 3);
    static const uint32_t order[] = { 9, 4, 7, 1, 8 };   /* all score 2 */
    for (size_t i = 0; i < 5; i++) ds__topk_push(&t, 2.0f, order[i]);
    ASSERT_EQ_U64(ds__topk_sort(&t), 3);
    ASSERT_EQ_U64(ids[0], 1);
    ASSERT_EQ_U64(ids[1], 4);
    ASSERT_EQ_U64(ids[2], 7);
    ASSERT(ds__ranks_before(2.0f, 1, 2.0f, 4) && !ds__ranks_before(2.0f, 4, 2.0f, 1));
    ASSERT(ds__ranks_before(-0.0f, 1, 0.0f, 2));   /* -0 == +0: the id decides */
    ASSERT(ds__closer(1.0f, 5, 2.0f, 0) && ds__closer(1.0f, 0, 1.0f, 5) && !ds__closer(1.0f, 5, 1.0f, 0));
}

/* NaN compares false with everything. Pinned as the heap behaved before it
** moved to core (the vector code's copy): a NaN offered to a full heap is
** dropped; a NaN stored while filling stays and, at the root, blocks later
** candidates. Deterministic, not meaningful (topk.h). */
TEST(topk_heap_nan_as_before) {
    float sc[3];
    uint32_t ids[3];
    ds__topk t;

    ds__topk_init(&t, sc, ids, 3);
    ds__topk_push(&t, 1.0f, 1);
    ds__topk_push(&t, 2.0f, 2);
    ds__topk_push(&t, 3.0f, 3);
    ds__topk_push(&t, NAN, 4);                 /* full: dropped */
    ds__topk_push(&t, 4.0f, 5);
    ASSERT_EQ_U64(ds__topk_sort(&t), 3);
    ASSERT(sc[0] == 4.0f && sc[1] == 3.0f && sc[2] == 2.0f);
    ASSERT(ids[0] == 5 && ids[1] == 3 && ids[2] == 2);

    ds__topk_init(&t, sc, ids, 3);
    ds__topk_push(&t, NAN, 0);                 /* stored while filling, at the root */
    ds__topk_push(&t, 1.0f, 1);
    ds__topk_push(&t, 2.0f, 2);
    ASSERT(isnan(ds__topk_threshold(&t)));
    ds__topk_push(&t, 3.0f, 3);                /* nothing is "worse" than the NaN root */
    ASSERT_EQ_U64(ds__topk_sort(&t), 3);
    ASSERT(sc[0] == 2.0f && ids[0] == 2);
    ASSERT(sc[1] == 1.0f && ids[1] == 1);
    ASSERT(isnan(sc[2]) && ids[2] == 0);
}

static inline int before_small(pair a, pair b) { return ds__closer(a.s, a.id, b.s, b.id); }
static inline int before_large(pair a, pair b) { return ds__closer(b.s, b.id, a.s, a.id); }
DS__HEAP_DEFINE(hmin, pair, before_small)
DS__HEAP_DEFINE(hmax, pair, before_large)

TEST(topk_heap_template_pops_in_order) {
    enum { N = 200 };
    pair in[N], h[N];
    make_input(in, N, 42, 0);
    for (int pass = 0; pass < 2; pass++) {   /* 0: closest first, 1: farthest first */
        size_t n = 0;
        for (size_t i = 0; i < N; i++) {
            if (pass == 0) hmin_push(h, &n, in[i]);
            else hmax_push(h, &n, in[i]);
        }
        ASSERT_EQ_U64(n, N);
        pair prev = { 0.0f, 0 };
        for (size_t i = 0; i < N; i++) {
            pair x = pass == 0 ? hmin_pop(h, &n) : hmax_pop(h, &n);
            ASSERT_EQ_U64(n, N - 1 - i);
            if (i > 0) ASSERT(pass == 0 ? ds__closer(prev.s, prev.id, x.s, x.id) : ds__closer(x.s, x.id, prev.s, prev.id));
            prev = x;
        }
    }
}
