/* hnsw.c -- hierarchical navigable small-world graph (docs/format.md §3.3).
**
** Layout: level 0 is one array of fixed-size records, one per slot:
** [vector dim x f32][u32 count][u32 links[M0]] padded to 64 bytes, so a
** neighbour's vector and links share cache lines and a prefetch of the record
** brings both. Upper levels (about 1/M of the nodes) are blocks of
** {u32 count, u32 links[M]} in one array; node s's blocks for levels 1..L
** start at upper_off[s]. After open, records and upper blocks are used in
** place from the mapped file until the first add/remove copies them.
**
** Invariants: every link < n_slots and != its node; a node linked on level l
** has level >= l; entry has level max_level. Deleted slots stay in the graph
** (traversable tombstones); remove() re-links their neighbours.
**
** Threading: search is read-only on the graph; per-search scratch (visited
** tags, heaps) comes from a mutex-protected pool, so concurrent searches
** share no mutable state. add() inserts in parallel (env->n_threads): each
** node's link list is guarded by a striped mutex held for one list at a time
** (never two, so no lock order issues); entry/max_level by a global mutex.
** Vectors, levels and upper blocks of the new nodes are written before the
** parallel phase, so they are read without locks.
*/
#include "vector/index_impl.h"
#include "simd/simd.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "hnsw.c maps little-endian records in place; add a byte-swapping load for this host"
#endif

#define SEC_PARAMS DS_FOURCC('H', 'N', 'S', 'P')
#define SEC_L0     DS_FOURCC('H', 'N', 'L', '0')
#define SEC_LEVELS DS_FOURCC('H', 'N', 'L', 'V')
#define SEC_UPPER  DS_FOURCC('H', 'N', 'U', 'P')
#define MAX_LEVEL  30
#define NO_NODE    UINT32_MAX
#define MAX_EF_C   1000      /* insert() keeps candidates on the stack */
#define N_STRIPES  4096          /* link-list locks: contention is rare at this count */

typedef struct { float d; uint32_t id; } dpair;   /* distance (lower is better), slot */

/* Per-search scratch: visited tags with an epoch (reset only on wrap) and the
** two heaps of the layer search. */
typedef struct scratch {
    uint16_t *tags;
    size_t    tags_cap;
    uint16_t  epoch;
    dpair    *cand, *top;
    size_t    cand_cap, top_cap;
    struct scratch *next;
} scratch;

typedef struct hnsw {
    unsigned  m, m0, ef_c;
    size_t    rec_bytes, vec_bytes;      /* record size; offset of the count word */
    uint8_t  *l0;                        /* n_slots records (owned: l0_cap rows; else mapped) */
    size_t    l0_cap;
    uint8_t  *levels;                    /* n_slots (owned, levels_cap) */
    size_t    levels_cap;
    uint32_t *upper;                     /* n_upper blocks of 1 + m words */
    size_t    n_upper, upper_cap;        /* blocks */
    int       upper_mapped;
    uint32_t *upper_off;                 /* per slot: first block (owned) */
    size_t    upper_off_cap;
    uint32_t  entry;
    unsigned  max_level;
    double    level_mult;
    uint64_t  rng;
    pthread_mutex_t stripes[N_STRIPES];
    pthread_mutex_t global;              /* entry / max_level during add */
    pthread_mutex_t pool_mu;
    scratch  *pool;
} hnsw;

/* ------------------------------------------------------------------------ */
/* small helpers                                                            */
/* ------------------------------------------------------------------------ */
static inline const float *vec_of(const hnsw *h, uint32_t s) {
    return (const float *)(const void *)(h->l0 + (size_t)s * h->rec_bytes);
}
static inline uint32_t *links0(const hnsw *h, uint32_t s) {
    return (uint32_t *)(void *)(h->l0 + (size_t)s * h->rec_bytes + h->vec_bytes);
}
/* Link block {count, links...} of node s on level lv (lv >= 0). */
static inline uint32_t *block_of(const hnsw *h, uint32_t s, unsigned lv) {
    if (lv == 0) return links0(h, s);
    return h->upper + ((size_t)h->upper_off[s] + lv - 1) * (1 + h->m);
}
static inline unsigned max_links(const hnsw *h, unsigned lv) { return lv ? h->m : h->m0; }

static inline float dist(const ds_index *ix, const float *a, const float *b) {
    const ds__kernels *k = ix->env->kernels;
    return ix->metric == DS_METRIC_L2 ? k->l2sq_f32(a, b, ix->dim) : -k->dot_f32(a, b, ix->dim);
}

/* Binary heaps on dpair: min-heap (closest first) and max-heap (farthest
** first), ordered by the library's ranking rule in distance form (core/topk.h):
** equal distances rank the lower slot first. */
static inline int before_min(dpair a, dpair b) { return ds__closer(a.d, a.id, b.d, b.id); }
static inline int before_max(dpair a, dpair b) { return ds__closer(b.d, b.id, a.d, a.id); }
DS__HEAP_DEFINE(minh, dpair, before_min)
DS__HEAP_DEFINE(maxh, dpair, before_max)

/* ------------------------------------------------------------------------ */
/* scratch pool                                                             */
/* ------------------------------------------------------------------------ */
static void scratch_free(ds_env *env, scratch *s) {
    ds__free(env, s->tags, s->tags_cap * sizeof(uint16_t));
    ds__free(env, s->cand, s->cand_cap * sizeof(dpair));
    ds__free(env, s->top, s->top_cap * sizeof(dpair));
    ds__free(env, s, sizeof *s);
}

/* A scratch able to tag n_slots nodes and hold heaps of `ef` results. */
static ds_status scratch_get(const ds_index *ix, size_t ef, scratch **out) {
    hnsw *h = ix->impl;
    scratch *s;
    pthread_mutex_lock(&h->pool_mu);
    s = h->pool;
    if (s) h->pool = s->next;
    pthread_mutex_unlock(&h->pool_mu);
    if (s == NULL) {
        s = ds__calloc(ix->env, 1, sizeof *s);
        if (s == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for search scratch");
    }
    size_t need = ix->n_slots ? ix->n_slots : 1;
    if (s->tags_cap < need) {
        size_t cap = need + need / 4;
        uint16_t *t = ds__calloc(ix->env, cap, sizeof(uint16_t));
        if (t == NULL) { scratch_free(ix->env, s); return ds__fail(DS_ERR_NOMEM, "out of memory for visited set"); }
        ds__free(ix->env, s->tags, s->tags_cap * sizeof(uint16_t));
        s->tags = t;
        s->tags_cap = cap;
        s->epoch = 0;
    }
    /* The candidate heap holds at most (links per node) entries per expanded
    ** node, but it only ever needs ef + M0 live entries before a pop: it is
    ** grown on demand in search_layer. The top heap holds ef + 1. */
    if (s->top_cap < ef + 1) {
        dpair *t = ds__alloc(ix->env, (ef + 1) * sizeof(dpair), 64);
        if (t == NULL) { scratch_free(ix->env, s); return ds__fail(DS_ERR_NOMEM, "out of memory"); }
        ds__free(ix->env, s->top, s->top_cap * sizeof(dpair));
        s->top = t;
        s->top_cap = ef + 1;
    }
    if (++s->epoch == 0) {               /* wrapped: clear the tags once every 65535 searches */
        memset(s->tags, 0, s->tags_cap * sizeof(uint16_t));
        s->epoch = 1;
    }
    *out = s;
    return DS_OK;
}

static void scratch_put(const ds_index *ix, scratch *s) {
    hnsw *h = ix->impl;
    pthread_mutex_lock(&h->pool_mu);
    s->next = h->pool;
    h->pool = s;
    pthread_mutex_unlock(&h->pool_mu);
}

static ds_status cand_reserve(const ds_index *ix, scratch *s, size_t need) {
    if (need <= s->cand_cap) return DS_OK;
    size_t cap = s->cand_cap ? s->cand_cap * 2 : 1024;
    while (cap < need) cap *= 2;
    dpair *c = ds__realloc(ix->env, s->cand, s->cand_cap * sizeof(dpair), cap * sizeof(dpair));
    if (c == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for candidates");
    s->cand = c;
    s->cand_cap = cap;
    return DS_OK;
}

/* ------------------------------------------------------------------------ */
/* graph search                                                             */
/* ------------------------------------------------------------------------ */
/* Copies node s's links on level lv into buf (under its stripe lock while
** building, when other threads may be rewriting the list). */
static unsigned read_links(const ds_index *ix, uint32_t s, unsigned lv, int locking, uint32_t *buf) {
    hnsw *h = ix->impl;
    const uint32_t *b = block_of(h, s, lv);
    if (locking) pthread_mutex_lock(&h->stripes[s % N_STRIPES]);
    unsigned n = b[0];
    if (n > max_links(h, lv)) n = max_links(h, lv);      /* defensive: validated on load */
    memcpy(buf, b + 1, n * sizeof(uint32_t));
    if (locking) pthread_mutex_unlock(&h->stripes[s % N_STRIPES]);
    return n;
}

/* Greedy descent on one upper level: the closest node reachable from *cur. */
static void greedy(const ds_index *ix, const float *q, unsigned lv, int locking, uint32_t *cur, float *cur_d) {
    hnsw *h = ix->impl;
    uint32_t buf[512];
    for (int changed = 1; changed;) {
        changed = 0;
        unsigned n = read_links(ix, *cur, lv, locking, buf);
        for (unsigned i = 0; i < n; i++) {
            uint32_t c = buf[i];
            if (c >= ix->n_slots) continue;
            float d = dist(ix, q, vec_of(h, c));
            if (d < *cur_d) { *cur_d = d; *cur = c; changed = 1; }
        }
    }
}

/* Beam search on one level (the paper's SEARCH-LAYER, with hnswlib's rule for
** filtered/deleted nodes: they are expanded but never enter the result heap,
** and the search goes on until the result heap is full). Leaves up to ef
** results in s->top (a max-heap) and returns their count in *n_top. */
static ds_status search_layer(const ds_index *ix, scratch *s, const float *q, uint32_t ep, float ep_d, size_t ef,
                              unsigned lv, int locking, const ds__search_params *p, size_t *n_top) {
    hnsw *h = ix->impl;
    size_t nc = 0, nt = 0;
    uint16_t epoch = s->epoch;
    uint32_t buf[512];
    float dists[512];
    int ip = ix->metric != DS_METRIC_L2;
    ds_status rc = cand_reserve(ix, s, 1024);
    if (rc != DS_OK) return rc;
    s->tags[ep] = epoch;
    minh_push(s->cand, &nc, (dpair){ ep_d, ep });
    /* p == NULL is the build: every node, tombstones included, may be a
    ** result (insert() prefers live ones when it picks links). */
    int ok_ep = p ? ds__slot_allowed(ix, p, ep) : 1;
    if (ok_ep) maxh_push(s->top, &nt, (dpair){ ep_d, ep });
    float bound = nt ? s->top[0].d : INFINITY;
    for (size_t pops = 1; nc > 0; pops++) {
        dpair c = minh_pop(s->cand, &nc);
        if (c.d > bound && nt >= ef) break;
        /* A single query with a huge ef can run for long: poll the caller's
        ** cancel every 1024 expansions (a few hundred microseconds). */
        if (p != NULL && p->cancel != NULL && pops % 1024 == 0 && p->cancel(p->cancel_ud))
            return ds__fail(DS_ERR_CANCELED, "search canceled");
        unsigned n = read_links(ix, c.id, lv, locking, buf);
        /* First pass: drop visited, prefetch the first line of every
        ** remaining record (the hardware prefetcher follows the rest of a
        ** record once it is touched; prefetching whole records measured
        ** slower: it fills the line-fill buffers); second: distances. */
        unsigned m = 0;
        for (unsigned i = 0; i < n; i++) {
            uint32_t x = buf[i];
            if (x >= ix->n_slots || s->tags[x] == epoch) continue;
            s->tags[x] = epoch;
            buf[m++] = x;
            __builtin_prefetch(vec_of(h, x));
        }
        if ((rc = cand_reserve(ix, s, nc + m + 1)) != DS_OK) return rc;
        if (ip && m > 1) {
            const float *rows[512];
            for (unsigned i = 0; i < m; i++) rows[i] = vec_of(h, buf[i]);
            ix->env->kernels->dot_f32_ptrs(q, rows, m, ix->dim, dists);
            for (unsigned i = 0; i < m; i++) dists[i] = -dists[i];
        } else {
            for (unsigned i = 0; i < m; i++) dists[i] = dist(ix, q, vec_of(h, buf[i]));
        }
        for (unsigned i = 0; i < m; i++) {
            uint32_t x = buf[i];
            float d = dists[i];
            if (nt < ef || d < bound) {
                minh_push(s->cand, &nc, (dpair){ d, x });
                int ok = p ? ds__slot_allowed(ix, p, x) : 1;
                if (ok) {
                    maxh_push(s->top, &nt, (dpair){ d, x });
                    if (nt > ef) maxh_pop(s->top, &nt);
                }
                if (nt) bound = s->top[0].d;
            }
        }
    }
    *n_top = nt;
    return DS_OK;
}

/* ------------------------------------------------------------------------ */
/* neighbour selection and linking                                          */
/* ------------------------------------------------------------------------ */
/* hnswlib's getNeighborsByHeuristic2: walk candidates closest first and keep
** one only if it is closer to the base than to every neighbour kept so far,
** which spreads links over directions instead of one dense cluster.
** cand (n entries, distances to the base) is sorted in place; the kept ids
** go to out (at most max). */
static int cmp_dpair(const void *a, const void *b) {
    const dpair *x = a, *y = b;
    return x->d < y->d ? -1 : x->d > y->d ? 1 : (x->id > y->id) - (x->id < y->id);
}

/* The heuristic's test: w, at distance d_w from the base, is closer to the
** base than to every one of the n links kept so far. */
static int admits(const ds_index *ix, const uint32_t *kept, unsigned n, uint32_t w, float d_w) {
    hnsw *h = ix->impl;
    const float *v = vec_of(h, w);
    for (unsigned j = 0; j < n; j++)
        if (dist(ix, v, vec_of(h, kept[j])) < d_w) return 0;
    return 1;
}

static unsigned select_heuristic(const ds_index *ix, dpair *cand, size_t n, unsigned max, uint32_t *out) {
    qsort(cand, n, sizeof *cand, cmp_dpair);
    unsigned kept = 0;
    for (size_t i = 0; i < n && kept < max; i++)
        if (admits(ix, out, kept, cand[i].id, cand[i].d)) out[kept++] = cand[i].id;
    return kept;
}

/* Adds link s -> x on level lv; when s's list is full, re-selects s's
** neighbours from the old list plus x with the heuristic. Holds s's stripe. */
static void add_link(const ds_index *ix, uint32_t s, uint32_t x, unsigned lv) {
    hnsw *h = ix->impl;
    unsigned max = max_links(h, lv);
    pthread_mutex_t *mu = &h->stripes[s % N_STRIPES];
    pthread_mutex_lock(mu);
    uint32_t *b = block_of(h, s, lv);
    unsigned n = b[0];
    int dup = 0;
    for (unsigned i = 0; i < n; i++) dup |= b[i + 1] == x;
    if (!dup) {
        if (n < max) {
            b[1 + n] = x;
            b[0] = n + 1;
        } else {
            dpair cand[513];
            const float *sv = vec_of(h, s);
            for (unsigned i = 0; i < n; i++) cand[i] = (dpair){ dist(ix, sv, vec_of(h, b[i + 1])), b[i + 1] };
            cand[n] = (dpair){ dist(ix, sv, vec_of(h, x)), x };
            uint32_t out[512];
            unsigned k = select_heuristic(ix, cand, n + 1, max, out);
            memcpy(b + 1, out, k * sizeof(uint32_t));
            b[0] = k;
        }
    }
    pthread_mutex_unlock(mu);
}

/* Inserts node s (vector, level and upper blocks already in place). */
static ds_status insert(const ds_index *ix, scratch *s_scr, uint32_t s) {
    hnsw *h = ix->impl;
    unsigned lvl = h->levels[s];
    const float *v = vec_of(h, s);
    pthread_mutex_lock(&h->global);
    uint32_t ep = h->entry;
    unsigned top = h->max_level;
    int holds_global = lvl > top || ep == NO_NODE;
    if (ep == NO_NODE) {                 /* first node: it is the graph */
        h->entry = s;
        h->max_level = lvl;
        pthread_mutex_unlock(&h->global);
        return DS_OK;
    }
    /* A node that raises the top level keeps the global lock for its whole
    ** insertion (rare: about one node in M^level), as hnswlib does. */
    if (!holds_global) pthread_mutex_unlock(&h->global);

    ds_status rc = DS_OK;
    float ep_d = dist(ix, v, vec_of(h, ep));
    for (unsigned lv = top; lv > lvl; lv--) greedy(ix, v, lv, 1, &ep, &ep_d);
    for (int lv = (int)DS_MIN(lvl, top); lv >= 0 && rc == DS_OK; lv--) {
        size_t nt = 0;
        if (++s_scr->epoch == 0) {
            memset(s_scr->tags, 0, s_scr->tags_cap * sizeof(uint16_t));
            s_scr->epoch = 1;
        }
        s_scr->tags[s] = s_scr->epoch;  /* never link to itself */
        rc = search_layer(ix, s_scr, v, ep, ep_d, h->ef_c, (unsigned)lv, 1, NULL, &nt);
        if (rc != DS_OK || nt == 0) break;
        /* Closest result is the entry for the next level. */
        dpair best = s_scr->top[0];
        dpair cand[1024], dead[1024];
        size_t nc = 0, nd = 0;
        for (size_t i = 0; i < nt && i < DS_ARRAY_LEN(cand); i++) {
            if (before_min(s_scr->top[i], best)) best = s_scr->top[i];
            if (!ds__slot_deleted(ix, s_scr->top[i].id)) cand[nc++] = s_scr->top[i];
            else dead[nd++] = s_scr->top[i];
        }
        uint32_t sel[512];
        unsigned k = select_heuristic(ix, cand, nc, h->m, sel);
        /* Too few live nodes nearby (e.g. after deleting most of the index):
        ** fill up with the closest tombstones, which are traversable, rather
        ** than leave the new node with one or two links. */
        if (k < h->m && nd > 0) {
            qsort(dead, nd, sizeof *dead, cmp_dpair);
            for (size_t i = 0; i < nd && k < h->m; i++) sel[k++] = dead[i].id;
        }
        /* Write own links first, then the reverse links. Other inserts may
        ** already have found s and linked s -> them: merge with those
        ** instead of overwriting (a lost reverse link can leave a node
        ** unreachable), re-selecting when the union is too long. */
        pthread_mutex_lock(&h->stripes[s % N_STRIPES]);
        uint32_t *b = block_of(h, s, (unsigned)lv);
        unsigned max = max_links(h, (unsigned)lv), n0 = b[0];
        if (n0 == 0) {
            memcpy(b + 1, sel, k * sizeof(uint32_t));
            b[0] = k;
        } else {
            dpair mc[1100];
            size_t nm = 0;
            for (unsigned i = 0; i < k; i++) mc[nm++] = (dpair){ dist(ix, v, vec_of(h, sel[i])), sel[i] };
            for (unsigned i = 0; i < n0 && i < max; i++) {
                int dup = 0;
                for (unsigned j = 0; j < k; j++) dup |= sel[j] == b[1 + i];
                if (!dup) mc[nm++] = (dpair){ dist(ix, v, vec_of(h, b[1 + i])), b[1 + i] };
            }
            uint32_t out[512];
            unsigned kk;
            if (nm <= max) {
                for (kk = 0; kk < nm; kk++) out[kk] = mc[kk].id;
            } else {
                kk = select_heuristic(ix, mc, nm, max, out);
            }
            memcpy(b + 1, out, kk * sizeof(uint32_t));
            b[0] = kk;
        }
        pthread_mutex_unlock(&h->stripes[s % N_STRIPES]);
        for (unsigned i = 0; i < k; i++) add_link(ix, sel[i], s, (unsigned)lv);
        ep = best.id;
        ep_d = best.d;
    }
    if (holds_global) {
        if (rc == DS_OK && lvl > h->max_level) {
            h->max_level = lvl;
            h->entry = s;
        }
        pthread_mutex_unlock(&h->global);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* ops                                                                      */
/* ------------------------------------------------------------------------ */
static ds_status hnsw_init(ds_index *ix) {
    if (ix->opts.storage != DS_STORAGE_F32)
        return ds__fail(DS_ERR_UNSUPPORTED, "hnsw stores f32 vectors only (storage %d requested)", (int)ix->opts.storage);
    unsigned m = ix->opts.hnsw_m ? ix->opts.hnsw_m : 16;
    if (m < 2 || m > 256) return ds__fail(DS_ERR_INVALID, "hnsw M = %u is outside 2..256", m);
    hnsw *h = ds__calloc(ix->env, 1, sizeof *h);
    if (h == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    h->m = m;
    h->m0 = 2 * m;
    h->ef_c = ix->opts.hnsw_ef_construction ? ix->opts.hnsw_ef_construction : 200;
    if (h->ef_c > MAX_EF_C) h->ef_c = MAX_EF_C;
    h->vec_bytes = ix->dim * sizeof(float);
    h->rec_bytes = (h->vec_bytes + 4 * (1 + (size_t)h->m0) + 63) / 64 * 64;
    h->entry = NO_NODE;
    h->level_mult = 1.0 / log((double)m);
    h->rng = ix->opts.seed * 0x9E3779B97F4A7C15ULL + 0x1234567;
    for (size_t i = 0; i < N_STRIPES; i++) pthread_mutex_init(&h->stripes[i], NULL);
    pthread_mutex_init(&h->global, NULL);
    pthread_mutex_init(&h->pool_mu, NULL);
    ix->impl = h;
    return DS_OK;
}

static void hnsw_destroy(ds_index *ix) {
    hnsw *h = ix->impl;
    if (h == NULL) return;
    while (h->pool) {
        scratch *s = h->pool;
        h->pool = s->next;
        scratch_free(ix->env, s);
    }
    if (h->l0_cap) ds__free(ix->env, h->l0, h->l0_cap * h->rec_bytes);
    ds__free(ix->env, h->levels, h->levels_cap);
    if (!h->upper_mapped) ds__free(ix->env, h->upper, h->upper_cap * (1 + h->m) * sizeof(uint32_t));
    ds__free(ix->env, h->upper_off, h->upper_off_cap * sizeof(uint32_t));
    for (size_t i = 0; i < N_STRIPES; i++) pthread_mutex_destroy(&h->stripes[i]);
    pthread_mutex_destroy(&h->global);
    pthread_mutex_destroy(&h->pool_mu);
    ds__free(ix->env, h, sizeof *h);
}

static size_t grow_cap(size_t cur, size_t need) {
    size_t cap = cur ? cur : 1024;
    while (cap < need) cap += cap / 2 + 1;
    return cap;
}

/* Makes the level-0 records and upper blocks owned (copying from the mapped
** file if needed) with room for `slots` nodes and `blocks` upper blocks. */
static ds_status own_storage(ds_index *ix, size_t slots, size_t blocks) {
    hnsw *h = ix->impl;
    if (slots > h->l0_cap) {
        size_t cap = grow_cap(h->l0_cap, slots), bytes;
        if (!ds__mul_ok(cap, h->rec_bytes, &bytes)) return ds__fail(DS_ERR_RANGE, "too many vectors");
        uint8_t *p = ds__alloc(ix->env, bytes, 64);
        if (p == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for %zu hnsw nodes", cap);
        if (ix->n_slots) memcpy(p, h->l0, (size_t)ix->n_slots * h->rec_bytes);
        if (h->l0_cap) ds__free(ix->env, h->l0, h->l0_cap * h->rec_bytes);
        h->l0 = p;
        h->l0_cap = cap;
    }
    if (slots > h->levels_cap) {
        size_t cap = grow_cap(h->levels_cap, slots);
        uint8_t *l = ds__realloc(ix->env, h->levels, h->levels_cap, cap);
        if (l == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
        h->levels = l;
        h->levels_cap = cap;
    }
    if (slots > h->upper_off_cap) {
        size_t cap = grow_cap(h->upper_off_cap, slots);
        uint32_t *o = ds__realloc(ix->env, h->upper_off, h->upper_off_cap * sizeof(uint32_t), cap * sizeof(uint32_t));
        if (o == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
        h->upper_off = o;
        h->upper_off_cap = cap;
    }
    if (blocks > h->upper_cap || (h->upper_mapped && blocks > 0)) {
        size_t cap = grow_cap(h->upper_cap, blocks), bytes;
        if (!ds__mul_ok(cap, (1 + (size_t)h->m) * sizeof(uint32_t), &bytes)) return ds__fail(DS_ERR_RANGE, "too many nodes");
        uint32_t *u = ds__alloc(ix->env, bytes, 64);
        if (u == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
        if (h->n_upper) memcpy(u, h->upper, h->n_upper * (1 + (size_t)h->m) * sizeof(uint32_t));
        if (!h->upper_mapped) ds__free(ix->env, h->upper, h->upper_cap * (1 + h->m) * sizeof(uint32_t));
        h->upper = u;
        h->upper_cap = cap;
        h->upper_mapped = 0;
    }
    return DS_OK;
}

static unsigned random_level(hnsw *h) {
    h->rng ^= h->rng << 13; h->rng ^= h->rng >> 7; h->rng ^= h->rng << 17;
    double u = ((double)(h->rng >> 11) + 0.5) / 9007199254740992.0;
    double l = -log(u) * h->level_mult;
    return l >= MAX_LEVEL ? MAX_LEVEL : (unsigned)l;
}

typedef struct add_ctx {
    ds_index *ix;
    uint32_t  base;
    scratch  *scr[64];
    ds_status rc[64];
} add_ctx;

static void add_range(void *vctx, size_t begin, size_t end, unsigned thread) {
    add_ctx *c = vctx;
    if (c->rc[thread] != DS_OK) return;
    for (size_t i = begin; i < end && c->rc[thread] == DS_OK; i++)
        c->rc[thread] = insert(c->ix, c->scr[thread], c->base + (uint32_t)i);
}

static ds_status hnsw_add(ds_index *ix, const float *x, size_t n) {
    hnsw *h = ix->impl;
    uint32_t base = ix->n_slots;
    /* Levels first (serial, so they depend only on the seed), then storage. */
    size_t blocks = h->n_upper;
    ds_status rc = own_storage(ix, (size_t)base + n, 0);
    if (rc != DS_OK) return rc;
    uint64_t rng_save = h->rng;
    uint32_t old_entry = h->entry;
    unsigned old_max = h->max_level;
    for (size_t i = 0; i < n; i++) {
        unsigned l = random_level(h);
        h->levels[base + i] = (uint8_t)l;
        blocks += l;
    }
    if (blocks > UINT32_MAX) { h->rng = rng_save; return ds__fail(DS_ERR_RANGE, "too many upper-level nodes"); }
    rc = own_storage(ix, (size_t)base + n, blocks);
    if (rc != DS_OK) { h->rng = rng_save; return rc; }
    for (size_t i = 0; i < n; i++) {
        uint32_t s = base + (uint32_t)i;
        uint8_t *rec = h->l0 + (size_t)s * h->rec_bytes;
        memset(rec, 0, h->rec_bytes);
        memcpy(rec, x + i * ix->dim, h->vec_bytes);
        h->upper_off[s] = (uint32_t)h->n_upper;
        size_t nb = h->levels[s];
        memset(h->upper + h->n_upper * (1 + (size_t)h->m), 0, nb * (1 + (size_t)h->m) * sizeof(uint32_t));
        h->n_upper += nb;
    }
    /* The graph reads ix->n_slots to bound links: expose the new slots now
    ** (index.c sets the same value after we return). */
    ix->n_slots = base + (uint32_t)n;
    add_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.ix = ix;
    ctx.base = base;
    unsigned nt = ix->env->n_threads ? ix->env->n_threads : 1;
    if (nt > 64) nt = 64;
    if (n < 64) nt = 1;
    for (unsigned t = 0; t < nt && rc == DS_OK; t++) rc = scratch_get(ix, h->ef_c, &ctx.scr[t]);
    if (rc == DS_OK) {
        /* The first node (if the graph is empty) is placed before the others
        ** so threads never race to become the entry point. */
        size_t first = 0;
        if (h->entry == NO_NODE && n > 0) {
            rc = insert(ix, ctx.scr[0], base);
            ctx.base = base + 1;
            first = 1;
        }
        if (rc == DS_OK && n > first) {
            ds__parallel_for(ix->env, nt, n - first, 16, add_range, &ctx);
            for (unsigned t = 0; t < nt; t++) if (ctx.rc[t] != DS_OK) rc = ctx.rc[t];
        }
    }
    for (unsigned t = 0; t < nt; t++) if (ctx.scr[t]) scratch_put(ix, ctx.scr[t]);
    if (rc != DS_OK) {
        /* Failed part way (out of memory): drop every link to the new
        ** slots, which index.c will not expose, and the upper blocks. */
        for (uint32_t s = 0; s < base; s++)
            for (unsigned lv = 0; lv <= h->levels[s]; lv++) {
                uint32_t *b = block_of(h, s, lv);
                unsigned k = 0;
                for (unsigned j = 0; j < b[0]; j++) if (b[1 + j] < base) b[1 + k++] = b[1 + j];
                b[0] = k;
            }
        h->n_upper = base ? h->upper_off[base - 1] + h->levels[base - 1] : 0;
        h->entry = old_entry;
        h->max_level = old_max;
        h->rng = rng_save;
    }
    ix->n_slots = base;   /* index.c owns the final bump */
    return rc;
}

/* Re-links live node u on level lv after its neighbour d was deleted: d's
** slot in u's list goes to one of d's live neighbours w (dl[0..nd)), the
** closest to u among those the heuristic would admit next to u's other
** links and that no earlier in-neighbour of d has taken yet (covered[i] is
** set once dl[i] is taken); else the closest admitted one; else the
** closest. If u's list has free slots, up to REPAIR_EXTRA more admitted w
** join it. u's other links are kept as they are, including links to older
** tombstones (traversable): re-selecting u's whole list, or dropping those
** links, measured clearly lower recall@10 at small ef than a fresh build
** after deleting 20% (bench/ann/bench_deletes.c; figures in
** docs/benchmarks.md, "Deletes at scale"); the likely reason is
** that the build's reverse links, which the heuristic would prune, are what
** keeps many nodes reachable. Preferring untaken w is for the same reason:
** d was an in-link of each w, and when several in-neighbours all took the
** same closest w, the others were left with fewer ways in. On a 1M graph
** with 20% deleted both the untaken rule and the extra links raised
** recall@10 at small ef, and filling every free slot instead of two added
** little recall for a loss of queries per second (the recall table and the
** command: docs/benchmarks.md, "Deletes at scale"). */
#define REPAIR_EXTRA 2
static void repair_node(ds_index *ix, uint32_t u, uint32_t d, unsigned lv, const uint32_t *dl, unsigned nd,
                        uint8_t *covered) {
    hnsw *h = ix->impl;
    uint32_t *b = block_of(h, u, lv);
    unsigned nu = DS_MIN(b[0], max_links(h, lv)), k = 0;
    uint32_t out[512];
    for (unsigned j = 0; j < nu; j++)
        if (b[1 + j] != d && b[1 + j] != u) out[k++] = b[1 + j];
    dpair cand[512];                     /* id is the index into dl */
    size_t nc = 0;
    const float *uv = vec_of(h, u);
    for (unsigned j = 0; j < nd; j++) {
        uint32_t w = dl[j];
        if (w == u || w == d || ds__slot_deleted(ix, w) || h->levels[w] < lv) continue;
        int dup = 0;
        for (unsigned t = 0; t < k && !dup; t++) dup = out[t] == w;
        if (!dup) cand[nc++] = (dpair){ dist(ix, uv, vec_of(h, w)), j };
    }
    if (nc > 0 && k < max_links(h, lv)) {     /* k < max always holds: d was in the list */
        qsort(cand, nc, sizeof *cand, cmp_dpair);
        size_t pick = SIZE_MAX, first_good = SIZE_MAX;
        for (size_t i = 0; i < nc && pick == SIZE_MAX; i++) {
            if (!admits(ix, out, k, dl[cand[i].id], cand[i].d)) continue;
            if (first_good == SIZE_MAX) first_good = i;
            if (!covered[cand[i].id]) pick = i;
        }
        if (pick == SIZE_MAX) pick = first_good != SIZE_MAX ? first_good : 0;
        covered[cand[pick].id] = 1;
        out[k++] = dl[cand[pick].id];
        /* Free slots (u's list was not full) take up to REPAIR_EXTRA more of
        ** d's neighbours that the heuristic admits: d was pruning them from
        ** u's list as occluders, and a fresh build would link them. */
        for (size_t i = 0, added = 0; i < nc && k < max_links(h, lv) && added < REPAIR_EXTRA; i++) {
            if (i != pick && admits(ix, out, k, dl[cand[i].id], cand[i].d)) {
                out[k++] = dl[cand[i].id];
                covered[cand[i].id] = 1;
                added++;
            }
        }
    }
    memcpy(b + 1, out, k * sizeof(uint32_t));
    b[0] = k;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Delete repair: the deleted node d stays as a traversable tombstone, and
** every live node that links to d and lies within two hops of d (which
** finds nearly all in-neighbours without a reverse index) is re-linked by
** repair_node, so searches rarely have to route through tombstones (after
** deleting 20% of 160k, about 1.6% of live nodes' links still point to one). */
static ds_status hnsw_remove(ds_index *ix, uint32_t d) {
    hnsw *h = ix->impl;
    ds_status rc = own_storage(ix, ix->n_slots, h->n_upper);
    if (rc != DS_OK) return rc;
    size_t cap = 1 + (size_t)h->m0 + (size_t)h->m0 * h->m0;
    uint32_t *near = ds__alloc(ix->env, cap * sizeof(uint32_t), 64);
    if (near == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory repairing the graph");
    for (unsigned lv = 0; lv <= h->levels[d]; lv++) {
        uint32_t dl[512], tmp[512];
        uint8_t covered[512] = { 0 };
        unsigned nd = read_links(ix, d, lv, 0, dl);
        size_t nn = 0;
        for (unsigned i = 0; i < nd; i++) {
            near[nn++] = dl[i];
            unsigned n2 = read_links(ix, dl[i], lv, 0, tmp);
            for (unsigned j = 0; j < n2; j++) near[nn++] = tmp[j];
        }
        qsort(near, nn, sizeof *near, cmp_u32);
        for (size_t i = 0; i < nn; i++) {
            uint32_t u = near[i];
            if ((i > 0 && near[i - 1] == u) || u == d || ds__slot_deleted(ix, u) || h->levels[u] < lv) continue;
            const uint32_t *b = block_of(h, u, lv);
            int links_d = 0;
            for (unsigned j = 0; j < b[0]; j++) links_d |= b[1 + j] == d;
            if (links_d) repair_node(ix, u, d, lv, dl, nd, covered);
        }
    }
    ds__free(ix->env, near, cap * sizeof(uint32_t));
    if (ix->n_live == 0) {
        /* Everything is deleted: unlink every tombstone, so vectors added
        ** later build a fresh graph from the (kept) entry instead of
        ** hanging off full lists of dead links, where searches missed them
        ** at ef <= 128 (hnsw_deletes_keep_recall under ASan timing). */
        for (uint32_t s = 0; s < ix->n_slots; s++)
            for (unsigned lv = 0; lv <= h->levels[s]; lv++) block_of(h, s, lv)[0] = 0;
        return DS_OK;
    }
    /* A deleted entry point still works (tombstones are traversable), but a
    ** live one starts searches closer to live results: pick the live node of
    ** highest level if there is one. */
    if (h->entry == d) {
        uint32_t best = NO_NODE;
        for (uint32_t s = 0; s < ix->n_slots; s++)
            if (!ds__slot_deleted(ix, s) && (best == NO_NODE || h->levels[s] > h->levels[best])) best = s;
        if (best != NO_NODE) {
            /* Keep the invariant entry level == max_level. */
            h->entry = best;
            h->max_level = h->levels[best];
        }
    }
    return DS_OK;
}

/* Exact search over the slots a selective filter allows. */
static ds_status search_exact_filtered(const ds_index *ix, const float *q, size_t k, const ds__search_params *p,
                                       uint32_t *slots, float *scores, size_t *n_found) {
    hnsw *h = ix->impl;
    ds__topk t;
    ds__topk_init(&t, scores, slots, k);
    uint64_t nbytes = (p->filter_bits + 7) / 8;
    for (uint64_t byte = 0; byte < nbytes; byte++) {
        uint8_t b = p->filter[byte];
        while (b) {
            unsigned bit = (unsigned)__builtin_ctz(b);
            b &= (uint8_t)(b - 1);
            uint64_t id = byte * 8 + bit;
            uint32_t s;
            if (id >= p->filter_bits || !ds__idmap_get(&ix->idmap, id, &s) || ds__slot_deleted(ix, s)) continue;
            ds__topk_push(&t, -dist(ix, q, vec_of(h, s)), s);
        }
    }
    *n_found = ds__topk_sort(&t);
    return DS_OK;
}

static uint64_t filter_count(const ds__search_params *p) {
    uint64_t nbytes = p->filter_bits / 8, c = 0;
    size_t i = 0;
    for (; i + 8 <= nbytes; i += 8) {
        uint64_t w;
        memcpy(&w, p->filter + i, 8);
        c += (uint64_t)__builtin_popcountll(w);
    }
    for (; i < nbytes; i++) c += (uint64_t)__builtin_popcount(p->filter[i]);
    for (uint64_t b = nbytes * 8; b < p->filter_bits; b++) c += (p->filter[b >> 3] >> (b & 7)) & 1;
    return c;
}

static ds_status hnsw_search(const ds_index *ix, const float *q, size_t k, const ds__search_params *p,
                             uint32_t *slots, float *scores, size_t *n_found) {
    hnsw *h = ix->impl;
    *n_found = 0;
    if (ix->n_slots == 0 || h->entry == NO_NODE || ix->n_live == 0) return DS_OK;
    size_t ef = DS_MAX((size_t)p->ef_search, k);
    if (p->filter != NULL) {
        /* Selective filters: the graph would have to wade through many
        ** rejected nodes, and its recall drops. Below ~5% of the index (or a
        ** thousand ids) an exact scan over the allowed ids is both
        ** faster and exact; above it, widen the beam by 1/sqrt(selectivity). */
        uint64_t allowed = filter_count(p);
        if (allowed <= 1024 || allowed * 20 <= ix->n_live)
            return search_exact_filtered(ix, q, k, p, slots, scores, n_found);
        double sel = (double)allowed / (double)ix->n_live;
        if (sel < 1.0) ef = (size_t)((double)ef / sqrt(sel)) + 1;
    }
    scratch *s;
    ds_status rc = scratch_get(ix, ef, &s);
    if (rc != DS_OK) return rc;
    uint32_t ep = h->entry;
    float ep_d = dist(ix, q, vec_of(h, ep));
    for (unsigned lv = h->max_level; lv > 0; lv--) greedy(ix, q, lv, 0, &ep, &ep_d);
    size_t nt = 0;
    rc = search_layer(ix, s, q, ep, ep_d, ef, 0, 0, p, &nt);
    if (rc == DS_OK) {
        ds__topk t;
        ds__topk_init(&t, scores, slots, k);
        for (size_t i = 0; i < nt; i++) ds__topk_push(&t, -s->top[i].d, s->top[i].id);
        *n_found = ds__topk_sort(&t);
    }
    scratch_put(ix, s);
    return rc;
}

typedef struct batch_ctx {
    const ds_index *ix;
    const float *q;
    size_t k;
    const ds__search_params *p;
    uint32_t *slots;
    float *scores;
    size_t *found;
    ds_status rc[64];
} batch_ctx;

static void batch_range(void *vctx, size_t begin, size_t end, unsigned thread) {
    batch_ctx *c = vctx;
    for (size_t i = begin; i < end && c->rc[thread] == DS_OK; i++) {
        if (c->p->cancel != NULL && c->p->cancel(c->p->cancel_ud)) {
            c->rc[thread] = ds__fail(DS_ERR_CANCELED, "search canceled");
            return;
        }
        c->rc[thread] = hnsw_search(c->ix, c->q + i * c->ix->dim, c->k, c->p, c->slots + i * c->k,
                                    c->scores + i * c->k, &c->found[i]);
    }
}

/* Many queries: spread over env->n_threads (each query is independent). */
static ds_status hnsw_search_batch(const ds_index *ix, const float *q, size_t nq, size_t k, const ds__search_params *p,
                                   uint32_t *slots, float *scores, size_t *n_found) {
    batch_ctx c;
    memset(&c, 0, sizeof c);
    c.ix = ix; c.q = q; c.k = k; c.p = p; c.slots = slots; c.scores = scores; c.found = n_found;
    for (size_t i = 0; i < nq; i++) n_found[i] = 0;
    unsigned nt = ix->env->n_threads ? ix->env->n_threads : 1;
    if (nt > 64) nt = 64;
    ds__parallel_for(ix->env, nt, nq, 4, batch_range, &c);
    for (unsigned t = 0; t < nt; t++) if (c.rc[t] != DS_OK) return c.rc[t];
    return DS_OK;
}

/* ------------------------------------------------------------------------ */
/* persistence                                                              */
/* ------------------------------------------------------------------------ */
static ds_status hnsw_save(const ds_index *ix, ds__cwriter *w) {
    hnsw *h = ix->impl;
    uint8_t prm[64] = { 0 };
    ds__store_u32le(prm + 0, h->m);
    ds__store_u32le(prm + 4, h->m0);
    ds__store_u32le(prm + 8, h->ef_c);
    ds__store_u32le(prm + 12, h->max_level);
    ds__store_u32le(prm + 16, h->entry);
    ds__store_u32le(prm + 20, (uint32_t)h->rec_bytes);
    ds__store_u32le(prm + 24, (uint32_t)h->n_upper);
    ds__cw_section(w, SEC_PARAMS, DS_SECTION_REQUIRED, prm, sizeof prm);
    ds__cw_section(w, SEC_L0, DS_SECTION_REQUIRED, h->l0, (size_t)ix->n_slots * h->rec_bytes);
    ds__cw_section(w, SEC_LEVELS, DS_SECTION_REQUIRED, h->levels, ix->n_slots);
    return ds__cw_section(w, SEC_UPPER, DS_SECTION_REQUIRED, h->upper, h->n_upper * (1 + (size_t)h->m) * sizeof(uint32_t));
}

static ds_status check_block(const ds_index *ix, uint32_t s, unsigned lv, const uint32_t *b) {
    hnsw *h = ix->impl;
    unsigned max = max_links(h, lv);
    if (b[0] > max) return ds__fail(DS_ERR_CORRUPT, "hnsw node %u level %u: %u links > %u", s, lv, b[0], max);
    for (unsigned i = 0; i < b[0]; i++) {
        uint32_t x = b[1 + i];
        if (x >= ix->n_slots) return ds__fail(DS_ERR_CORRUPT, "hnsw node %u level %u: link %u >= %u nodes", s, lv, x, ix->n_slots);
        if (x == s) return ds__fail(DS_ERR_CORRUPT, "hnsw node %u level %u links to itself", s, lv);
        if (h->levels[x] < lv) return ds__fail(DS_ERR_CORRUPT, "hnsw node %u level %u links to node %u of level %u", s, lv, x, h->levels[x]);
    }
    return DS_OK;
}

static ds_status hnsw_load(ds_index *ix, const ds__creader *r) {
    hnsw *h = ix->impl;
    const uint8_t *p;
    uint64_t len;
    ds_status rc = ds__cr_get(r, SEC_PARAMS, &p, &len);
    if (rc != DS_OK) return rc;
    if (len != 64) return ds__fail(DS_ERR_CORRUPT, "HNSP is %llu bytes, expected 64", (unsigned long long)len);
    uint32_t m = ds__load_u32le(p), m0 = ds__load_u32le(p + 4), efc = ds__load_u32le(p + 8);
    uint32_t max_level = ds__load_u32le(p + 12), entry = ds__load_u32le(p + 16);
    uint32_t rec = ds__load_u32le(p + 20), n_upper = ds__load_u32le(p + 24);
    for (int i = 28; i < 64; i++)
        if (p[i]) return ds__fail(DS_ERR_CORRUPT, "HNSP reserved byte %d is not zero", i);
    if (m < 2 || m > 256 || m0 < m || m0 > 512) return ds__fail(DS_ERR_CORRUPT, "HNSP: M = %u, M0 = %u out of range", m, m0);
    if (max_level > MAX_LEVEL) return ds__fail(DS_ERR_CORRUPT, "HNSP: max_level %u > %u", max_level, MAX_LEVEL);
    size_t want_rec = (ix->dim * sizeof(float) + 4 * (1 + (size_t)m0) + 63) / 64 * 64;
    if (rec != want_rec) return ds__fail(DS_ERR_CORRUPT, "HNSP: record_bytes %u, expected %zu", rec, want_rec);
    if ((ix->n_slots == 0) != (entry == NO_NODE) || (entry != NO_NODE && entry >= ix->n_slots))
        return ds__fail(DS_ERR_CORRUPT, "HNSP: entry point %u for %u nodes", entry, ix->n_slots);
    h->m = m;
    h->m0 = m0;
    h->ef_c = efc ? DS_MIN(efc, MAX_EF_C) : 200;
    h->rec_bytes = rec;
    h->level_mult = 1.0 / log((double)m);
    h->rng = ix->opts.seed * 0x9E3779B97F4A7C15ULL + 0x1234567 + ix->n_slots;
    /* Levels and upper offsets (owned). */
    rc = ds__cr_get(r, SEC_LEVELS, &p, &len);
    if (rc != DS_OK) return rc;
    if (len != ix->n_slots) return ds__fail(DS_ERR_CORRUPT, "HNLV holds %llu bytes for %u nodes", (unsigned long long)len, ix->n_slots);
    if (ix->n_slots) {
        h->levels = ds__alloc(ix->env, ix->n_slots, 64);
        h->upper_off = ds__alloc(ix->env, (size_t)ix->n_slots * sizeof(uint32_t), 64);
        if (h->levels == NULL || h->upper_off == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
        h->levels_cap = ix->n_slots;
        h->upper_off_cap = ix->n_slots;
        memcpy(h->levels, p, ix->n_slots);
    }
    uint64_t blocks = 0;
    for (uint32_t s = 0; s < ix->n_slots; s++) {
        if (h->levels[s] > max_level) return ds__fail(DS_ERR_CORRUPT, "hnsw node %u: level %u > max_level %u", s, h->levels[s], max_level);
        h->upper_off[s] = (uint32_t)blocks;
        blocks += h->levels[s];
    }
    if (blocks != n_upper) return ds__fail(DS_ERR_CORRUPT, "HNSP: %u upper blocks, levels need %llu", n_upper, (unsigned long long)blocks);
    if (entry != NO_NODE && h->levels[entry] != max_level)
        return ds__fail(DS_ERR_CORRUPT, "hnsw entry point %u has level %u, max_level is %u", entry, h->levels[entry], max_level);
    /* Level-0 records and upper blocks: in place. */
    rc = ds__cr_get(r, SEC_L0, &p, &len);
    if (rc != DS_OK) return rc;
    if (len != (uint64_t)ix->n_slots * rec) return ds__fail(DS_ERR_CORRUPT, "HNL0 holds %llu bytes for %u records of %u", (unsigned long long)len, ix->n_slots, rec);
    h->l0 = (uint8_t *)(uintptr_t)p;
    h->l0_cap = 0;
    rc = ds__cr_get(r, SEC_UPPER, &p, &len);
    if (rc != DS_OK) return rc;
    if (len != (uint64_t)n_upper * (1 + m) * 4) return ds__fail(DS_ERR_CORRUPT, "HNUP holds %llu bytes for %u blocks", (unsigned long long)len, n_upper);
    h->upper = (uint32_t *)(uintptr_t)p;
    h->upper_mapped = 1;
    h->upper_cap = 0;
    h->n_upper = n_upper;
    h->entry = entry;
    h->max_level = max_level;
    for (uint32_t s = 0; s < ix->n_slots; s++)
        for (unsigned lv = 0; lv <= h->levels[s]; lv++)
            if ((rc = check_block(ix, s, lv, block_of(h, s, lv))) != DS_OK) return rc;
    return DS_OK;
}

static const float *hnsw_vector(const ds_index *ix, uint32_t slot) {
    return vec_of(ix->impl, slot);
}

static uint64_t hnsw_memory(const ds_index *ix) {
    hnsw *h = ix->impl;
    return (uint64_t)ix->n_slots * (h->rec_bytes + 1 + 4) + h->n_upper * (1 + (uint64_t)h->m) * 4;
}

const ds__index_ops ds__hnsw_ops = {
    .type = DS_INDEX_HNSW,
    .file_kind = DS_VEC_KIND_HNSW,
    .name = "hnsw",
    .init = hnsw_init,
    .destroy = hnsw_destroy,
    .add = hnsw_add,
    .remove = hnsw_remove,
    .search = hnsw_search,
    .search_batch = hnsw_search_batch,
    .save = hnsw_save,
    .load = hnsw_load,
    .memory = hnsw_memory,
    .vector = hnsw_vector,
};
