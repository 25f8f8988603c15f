/* dshnsw.c -- the dshnsw index access method: an HNSW graph over dsvector
** columns, kept in PostgreSQL buffer pages and WAL-logged with generic WAL
** records, so it is crash-safe and replicated like any index.
**
** Algorithm: densearch's HNSW (src/vector/hnsw.c): levels drawn with
** mL = 1/ln(M), M links per node on upper levels and 2M on level 0, beam
** search with a candidate min-heap and a result max-heap, and the library's
** neighbour selection heuristic (hnswlib's getNeighborsByHeuristic2: keep a
** candidate only if it is closer to the base than to every neighbour kept so
** far; live candidates first, tombstones only to fill up). Deleted nodes stay
** in the graph as traversable tombstones that scans never return. This file
** re-implements that algorithm over pages; it shares no code with hnsw.c
** except the distance kernels.
**
** Layout (docs/postgres.md, "dshnsw pages"):
**   block 0: metapage (DsHnswMeta after the page header)
**   blocks 1..: node tuples, one per indexed heap row:
**     {u8 level, u8 deleted, u16 0, ItemPointerData heaptid, u16 0,
**      float4 vec[dim], then for each level l = 0..level:
**      u16 count, ItemPointerData links[cap(l)]}   cap(0) = 2M, cap(l>0) = M
**   A node's size is fixed by its level at creation, so link updates are
**   in-place overwrites of a same-size tuple. Links name nodes by item
**   pointer (block, offset); nodes never move (no page compaction).
**   Every page has a 4-byte special area {u16 DSHNSW_PAGE_ID, u16 flags}.
**
** Cosine indexes store unit vectors and rank by -dot, inner product by -dot,
** L2 by the squared distance: lower is closer throughout this file.
**
** Concurrency and crash safety: a backend holds at most one buffer lock at a
** time, except when it creates the first node, where it holds the metapage
** and then one data page (nobody waits for the metapage while holding a data
** page, so this cannot deadlock). An insert writes its node (with its own
** links) in one WAL record, then each reverse link in its own record, then
** the metapage if the node becomes the entry point. A crash between records
** leaves a valid graph with fewer links, never a dangling one. A reverse
** link is computed without locks and written only if the target's list did
** not change meanwhile (else recomputed, a few times at most). CREATE INDEX
** writes pages without WAL and logs them all once at the end
** (log_newpage_range), as GIN and GiST builds do.
**
** Scans: amgettuple runs the search with ef = dshnsw.ef_search and returns
** the results closest first. When the executor wants more rows (a WHERE
** filter rejected some), the search is rerun with twice the ef and the rows
** not returned yet are returned, closest first, until a search finds fewer
** than ef nodes (it has seen the whole reachable graph). Order is exact
** within a round; across rounds a later row can be closer than an earlier
** one (HNSW's order is approximate anyway).
*/
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/backend_progress.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"

#include "dshnsw.h"
#include "dsvector.h"
#include "kernels.h"

#define DSHNSW_MAGIC     0x44534857u      /* "DSHW" */
#define DSHNSW_VERSION   1
#define DSHNSW_PAGE_ID   0xD5A1
#define DSHNSW_META_BLK  0
#define MAX_LEVEL        8                /* P(level >= 8) = M^-8: the cap only matters for M < 4 */
#define NODE_HDR         12               /* bytes before vec[] */
#define LINK_BYTES       ((int)sizeof(ItemPointerData))
#define PER_PAGE         MaxIndexTuplesPerPage   /* bound on offsets: visited-set key space */

enum { METRIC_L2 = 1, METRIC_IP = 2, METRIC_COSINE = 3 };

typedef struct DsHnswPageOpaque {
    uint16 page_id;                       /* DSHNSW_PAGE_ID */
    uint16 flags;                         /* 1 = metapage */
} DsHnswPageOpaque;

typedef struct DsHnswMeta {
    uint32 magic;
    uint32 version;
    uint32 dim;
    uint16 m;                             /* links per node on levels > 0; 2m on level 0 */
    uint16 ef_construction;
    uint16 metric;                        /* METRIC_* */
    uint16 entry_level;                   /* valid when entry is */
    ItemPointerData entry;                /* invalid: empty graph */
    BlockNumber insert_blk;               /* where new nodes are tried first */
} DsHnswMeta;

typedef struct DsHnswOptions {
    int32 vl_len_;
    int m;
    int ef_construction;
} DsHnswOptions;

static int ef_search_guc = 40;
static relopt_kind reloptions_kind;
/* Levels come from a generator seeded with a constant at each CREATE INDEX,
** so a build over the same rows in the same order gives the same graph
** (reproducible tests and benchmarks); aminsert draws from the backend's. */
static pg_prng_state build_rng;
static bool use_build_rng;

/* ------------------------------------------------------------------------ */
/* per-operation context: the index's shape, visited set                     */
/* ------------------------------------------------------------------------ */

typedef struct Cand {
    float d;                              /* distance to the base/query (lower is closer) */
    ItemPointerData tid;                  /* the node */
    ItemPointerData heaptid;
    bool deleted;
} Cand;

typedef struct Ctx {
    Relation index;
    int dim, m, m0, efc, metric;
    int links_off;                        /* byte offset of level 0's count */
    bool building;                        /* CREATE INDEX: no WAL until the end */
    BufferAccessStrategy strategy;
    uint64 *vis;                          /* visited bits, key blk * PER_PAGE + off */
    size_t vis_words;
    MemoryContext vis_cxt;                /* where vis lives: outlives per-row contexts */
} Ctx;

#define NODE_LEVEL(node) ((int)(uint8)(node)[0])

static inline int level_cap(const Ctx *c, int lv) { return lv == 0 ? c->m0 : c->m; }
static inline int level_off(const Ctx *c, int lv) {
    return c->links_off + (lv == 0 ? 0 : (2 + LINK_BYTES * c->m0) + (lv - 1) * (2 + LINK_BYTES * c->m));
}
static inline Size node_size(const Ctx *c, int level) { return (Size)level_off(c, level + 1); }

static inline float node_dist(const Ctx *c, const float *q, const float *x) {
    return c->metric == METRIC_L2 ? dspg_l2sq(q, x, c->dim) : -dspg_dot(q, x, c->dim);
}

static inline int cand_cmp(const Cand *a, const Cand *b) {
    if (a->d < b->d) return -1;
    if (a->d > b->d) return 1;
    return ItemPointerCompare((ItemPointer)&a->tid, (ItemPointer)&b->tid);
}
static int cand_qsort_cmp(const void *a, const void *b) { return cand_cmp(a, b); }

static void vis_clear(Ctx *c) {
    if (c->vis) memset(c->vis, 0, c->vis_words * sizeof(uint64));
}

/* Returns true if tid was already visited, and marks it. */
static bool vis_test_set(Ctx *c, ItemPointer tid) {
    uint64 key = (uint64)ItemPointerGetBlockNumber(tid) * PER_PAGE + ItemPointerGetOffsetNumber(tid);
    size_t w = (size_t)(key / 64);
    if (w >= c->vis_words) {
        size_t n = Max(w + 1, c->vis_words * 2);
        n = Max(n, 256);
        if (c->vis == NULL) c->vis = MemoryContextAllocZero(c->vis_cxt, n * sizeof(uint64));
        else {
            c->vis = repalloc(c->vis, n * sizeof(uint64));
            memset(c->vis + c->vis_words, 0, (n - c->vis_words) * sizeof(uint64));
        }
        c->vis_words = n;
    }
    if (c->vis[w] & (UINT64CONST(1) << (key % 64))) return true;
    c->vis[w] |= UINT64CONST(1) << (key % 64);
    return false;
}

/* ------------------------------------------------------------------------ */
/* pages and nodes                                                           */
/* ------------------------------------------------------------------------ */

static void page_init(Page page, uint16 flags) {
    DsHnswPageOpaque *op;
    PageInit(page, BLCKSZ, sizeof(DsHnswPageOpaque));
    op = (DsHnswPageOpaque *)PageGetSpecialPointer(page);
    op->page_id = DSHNSW_PAGE_ID;
    op->flags = flags;
}

static void check_page(Relation index, Page page, BlockNumber blk) {
    DsHnswPageOpaque *op;
    if (PageGetSpecialSize(page) != MAXALIGN(sizeof(DsHnswPageOpaque)))
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                        errmsg("index \"%s\" block %u is not a dshnsw page", RelationGetRelationName(index), blk)));
    op = (DsHnswPageOpaque *)PageGetSpecialPointer(page);
    if (op->page_id != DSHNSW_PAGE_ID)
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                        errmsg("index \"%s\" block %u has page id %04x, expected %04x",
                               RelationGetRelationName(index), blk, op->page_id, DSHNSW_PAGE_ID)));
}

static inline DsHnswMeta *page_meta(Page page) { return (DsHnswMeta *)PageGetContents(page); }

/* Reads the metapage into *out and checks it. */
static void meta_read(Relation index, DsHnswMeta *out) {
    Buffer buf = ReadBuffer(index, DSHNSW_META_BLK);
    Page page;
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    page = BufferGetPage(buf);
    check_page(index, page, DSHNSW_META_BLK);
    *out = *page_meta(page);
    UnlockReleaseBuffer(buf);
    if (out->magic != DSHNSW_MAGIC || out->version != DSHNSW_VERSION)
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                        errmsg("index \"%s\" has a bad metapage (magic %08x version %u)",
                               RelationGetRelationName(index), out->magic, out->version)));
    if (out->dim < 1 || out->dim > DSVECTOR_MAX_DIM || out->m < 2 || out->m > 100 ||
        out->metric < METRIC_L2 || out->metric > METRIC_COSINE)
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                        errmsg("index \"%s\" metapage: dim %u, m %u, metric %u out of range",
                               RelationGetRelationName(index), out->dim, out->m, out->metric)));
}

static void ctx_init(Ctx *c, Relation index, const DsHnswMeta *meta, bool building) {
    memset(c, 0, sizeof *c);
    c->index = index;
    c->dim = (int)meta->dim;
    c->m = meta->m;
    c->m0 = 2 * meta->m;
    c->efc = meta->ef_construction;
    c->metric = meta->metric;
    c->links_off = NODE_HDR + (int)sizeof(float) * c->dim;
    c->building = building;
    c->vis_cxt = CurrentMemoryContext;
}

/* Largest item a dshnsw page can hold. */
static Size max_item_size(void) {
    return BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(DsHnswPageOpaque)) - sizeof(ItemIdData);
}

/* The node tid points at, on a page the caller has locked; ERROR when tid
** does not name a node (links come from disk: never trust them). */
static char *node_on_page(const Ctx *c, Page page, ItemPointer tid) {
    OffsetNumber off = ItemPointerGetOffsetNumber(tid);
    ItemId iid;
    char *node;
    check_page(c->index, page, ItemPointerGetBlockNumber(tid));
    if (off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page))
        goto bad;
    iid = PageGetItemId(page, off);
    if (!ItemIdIsNormal(iid)) goto bad;
    node = PageGetItem(page, iid);
    if (NODE_LEVEL(node) > MAX_LEVEL || ItemIdGetLength(iid) != node_size(c, NODE_LEVEL(node))) goto bad;
    return node;
bad:
    ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                    errmsg("index \"%s\": link to (%u,%u), which is not a node",
                           RelationGetRelationName(c->index), ItemPointerGetBlockNumber(tid), off)));
    return NULL;
}

static inline const float *node_vec(const char *node) { return (const float *)(node + NODE_HDR); }
static inline uint16 *node_count(const Ctx *c, char *node, int lv) { return (uint16 *)(node + level_off(c, lv)); }
static inline ItemPointerData *node_links(const Ctx *c, char *node, int lv) {
    return (ItemPointerData *)(node + level_off(c, lv) + 2);
}

static Buffer read_buf(const Ctx *c, BlockNumber blk, int mode) {
    Buffer buf = ReadBufferExtended(c->index, MAIN_FORKNUM, blk, RBM_NORMAL, c->strategy);
    LockBuffer(buf, mode);
    return buf;
}

/* A page modification: generic WAL, or (during CREATE INDEX) a plain dirty
** buffer that the build logs as a whole at the end. The caller holds the
** buffer's exclusive lock around begin..finish. */
typedef struct Edit {
    GenericXLogState *st;
    Buffer buf;
} Edit;

static Page edit_begin(const Ctx *c, Edit *e, Buffer buf, bool new_page) {
    e->buf = buf;
    if (c->building) {
        e->st = NULL;
        return BufferGetPage(buf);
    }
    e->st = GenericXLogStart(c->index);
    return GenericXLogRegisterBuffer(e->st, buf, new_page ? GENERIC_XLOG_FULL_IMAGE : 0);
}

static void edit_finish(Edit *e) {
    if (e->st) GenericXLogFinish(e->st);
    else MarkBufferDirty(e->buf);
}

/* Distance from q to node tid (and its heap tid, deleted flag). */
static Cand visit(const Ctx *c, const float *q, ItemPointer tid) {
    Buffer buf = read_buf(c, ItemPointerGetBlockNumber(tid), BUFFER_LOCK_SHARE);
    char *node = node_on_page(c, BufferGetPage(buf), tid);
    Cand r;
    r.d = node_dist(c, q, node_vec(node));
    r.tid = *tid;
    memcpy(&r.heaptid, node + 4, sizeof(ItemPointerData));
    r.deleted = node[1] != 0;
    UnlockReleaseBuffer(buf);
    return r;
}

/* Copies node tid's links on level lv into out (cap(lv) entries); a node
** below lv (only on corruption or a concurrent writer's bug) has none. */
static int read_links(const Ctx *c, ItemPointer tid, int lv, ItemPointerData *out) {
    Buffer buf = read_buf(c, ItemPointerGetBlockNumber(tid), BUFFER_LOCK_SHARE);
    char *node = node_on_page(c, BufferGetPage(buf), tid);
    int n = 0;
    if (lv <= NODE_LEVEL(node)) {
        n = *node_count(c, node, lv);
        if (n > level_cap(c, lv)) n = level_cap(c, lv);
        memcpy(out, node_links(c, node, lv), (size_t)n * LINK_BYTES);
    }
    UnlockReleaseBuffer(buf);
    return n;
}

static void read_vec(const Ctx *c, ItemPointer tid, float *out) {
    Buffer buf = read_buf(c, ItemPointerGetBlockNumber(tid), BUFFER_LOCK_SHARE);
    char *node = node_on_page(c, BufferGetPage(buf), tid);
    memcpy(out, node_vec(node), sizeof(float) * c->dim);
    UnlockReleaseBuffer(buf);
}

/* ------------------------------------------------------------------------ */
/* heaps of Cand: min-heap (closest on top) and max-heap (farthest on top)    */
/* ------------------------------------------------------------------------ */

typedef struct Heap {
    Cand *a;
    int n, cap;
    bool max;                             /* max-heap */
} Heap;

static void heap_init(Heap *h, int cap, bool max) {
    h->cap = Max(cap, 16);
    h->a = palloc(sizeof(Cand) * h->cap);
    h->n = 0;
    h->max = max;
}

static inline bool heap_above(const Heap *h, const Cand *x, const Cand *y) {
    int r = cand_cmp(x, y);
    return h->max ? r > 0 : r < 0;
}

static void heap_push(Heap *h, Cand x) {
    int i;
    if (h->n == h->cap) {
        h->cap *= 2;
        h->a = repalloc(h->a, sizeof(Cand) * h->cap);
    }
    i = h->n++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!heap_above(h, &x, &h->a[p])) break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = x;
}

static Cand heap_pop(Heap *h) {
    Cand top = h->a[0], x = h->a[--h->n];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, b = i;
        const Cand *best = &x;
        if (l < h->n && heap_above(h, &h->a[l], best)) { b = l; best = &h->a[l]; }
        if (r < h->n && heap_above(h, &h->a[r], best)) { b = r; }
        if (b == i) break;
        h->a[i] = h->a[b];
        i = b;
    }
    if (h->n > 0) h->a[i] = x;
    return top;
}

/* ------------------------------------------------------------------------ */
/* search                                                                    */
/* ------------------------------------------------------------------------ */

/* SEARCH-LAYER from the entries eps on level lv: leaves up to ef results in
** *res (a max-heap). With live_only, deleted nodes are expanded but never
** results, and the search goes on until ef live results are found (the
** library's rule for tombstones and filters). */
static void search_layer(Ctx *c, const float *q, const Cand *eps, int n_ep, int ef, int lv, bool live_only,
                         Heap *res) {
    Heap cand;
    ItemPointerData *links = palloc(sizeof(ItemPointerData) * c->m0);
    heap_init(&cand, ef * 2, false);
    heap_init(res, ef + 1, true);
    vis_clear(c);
    for (int i = 0; i < n_ep; i++) {
        if (vis_test_set(c, (ItemPointer)&eps[i].tid)) continue;
        heap_push(&cand, eps[i]);
        if (!live_only || !eps[i].deleted) heap_push(res, eps[i]);
    }
    while (cand.n > 0) {
        Cand cur = heap_pop(&cand);
        int n;
        if (res->n >= ef && cur.d > res->a[0].d) break;
        CHECK_FOR_INTERRUPTS();
        n = read_links(c, &cur.tid, lv, links);
        for (int i = 0; i < n; i++) {
            Cand x;
            if (!ItemPointerIsValid(&links[i]) || vis_test_set(c, &links[i])) continue;
            x = visit(c, q, &links[i]);
            if (res->n < ef || x.d < res->a[0].d) {
                heap_push(&cand, x);
                if (!live_only || !x.deleted) {
                    heap_push(res, x);
                    if (res->n > ef) heap_pop(res);
                }
            }
        }
    }
    pfree(cand.a);
    pfree(links);
}

/* Greedy descent from the entry point to level `to` (exclusive): the closest
** node found on level `to`+1, as the entry for the levels below. */
static Cand descend(Ctx *c, const float *q, const DsHnswMeta *meta, int to) {
    Cand ep = visit(c, q, (ItemPointer)&meta->entry);
    for (int lv = meta->entry_level; lv > to; lv--) {
        Heap res;
        search_layer(c, q, &ep, 1, 1, lv, false, &res);
        if (res.n > 0) ep = res.a[0];
        pfree(res.a);
    }
    return ep;
}

/* ------------------------------------------------------------------------ */
/* insert                                                                    */
/* ------------------------------------------------------------------------ */

/* The library's heuristic over cand[0..n) (distances to the base): closest
** first, keep w only if no kept neighbour is closer to w than the base is.
** vecs[i] is cand[i]'s vector. Live candidates are taken first; tombstones
** fill the list only when too few live ones are admitted. Writes at most max
** tids to out and returns the count. Sorts cand and vecs together. */
static int select_neighbours(const Ctx *c, Cand *cand, float **vecs, int n, int max, ItemPointerData *out) {
    int kept = 0;
    int *order = palloc(sizeof(int) * n), *kept_idx = palloc(sizeof(int) * n);
    /* sort indices by (d, tid) */
    Cand *sorted = palloc(sizeof(Cand) * n);
    float **svecs = palloc(sizeof(float *) * n);
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++) {          /* insertion sort: n <= ef_construction + 1 */
        int j = i, v = order[i];
        while (j > 0 && cand_cmp(&cand[order[j - 1]], &cand[v]) > 0) { order[j] = order[j - 1]; j--; }
        order[j] = v;
    }
    for (int i = 0; i < n; i++) { sorted[i] = cand[order[i]]; svecs[i] = vecs[order[i]]; }
    for (int i = 0; i < n && kept < max; i++) {
        bool ok = true;
        if (sorted[i].deleted) continue;
        for (int j = 0; j < kept && ok; j++)
            if (node_dist(c, svecs[i], svecs[kept_idx[j]]) < sorted[i].d) ok = false;
        if (ok) kept_idx[kept++] = i;
    }
    for (int i = 0; i < n && kept < max; i++)
        if (sorted[i].deleted) kept_idx[kept++] = i;
    for (int i = 0; i < kept; i++) out[i] = sorted[kept_idx[i]].tid;
    pfree(order);
    pfree(kept_idx);
    pfree(sorted);
    pfree(svecs);
    return kept;
}

/* Adds the link from node `to` to the new node (tid nt, vector nv) on level
** lv; when `to`'s list is full its neighbours are re-selected from the old
** list plus the new node. Computed without locks, written only if the list
** is unchanged meanwhile. */
static void add_reverse_link(Ctx *c, ItemPointer to, ItemPointer nt, const float *nv, int lv) {
    int cap = level_cap(c, lv);
    ItemPointerData *old = palloc(sizeof(ItemPointerData) * cap), *neu = palloc(sizeof(ItemPointerData) * cap);
    float *tv = palloc(sizeof(float) * c->dim);
    for (int attempt = 0; attempt < 4; attempt++) {
        Buffer buf = read_buf(c, ItemPointerGetBlockNumber(to), BUFFER_LOCK_SHARE);
        char *node = node_on_page(c, BufferGetPage(buf), to);
        int n = 0, nn, to_level = NODE_LEVEL(node);
        bool dup = false, same;
        Edit e;
        Page page;
        if (lv <= to_level) {
            n = Min(*node_count(c, node, lv), cap);
            memcpy(old, node_links(c, node, lv), (size_t)n * LINK_BYTES);
        }
        memcpy(tv, node_vec(node), sizeof(float) * c->dim);
        UnlockReleaseBuffer(buf);
        if (lv > to_level) break;          /* defensive: only links to nodes that have level lv */
        for (int i = 0; i < n; i++) dup |= ItemPointerEquals(&old[i], nt);
        if (dup) break;
        if (n < cap) {
            memcpy(neu, old, (size_t)n * LINK_BYTES);
            neu[n] = *nt;
            nn = n + 1;
        } else {
            Cand *cand = palloc(sizeof(Cand) * (n + 1));
            float **vecs = palloc(sizeof(float *) * (n + 1));
            for (int i = 0; i < n; i++) {
                vecs[i] = palloc(sizeof(float) * c->dim);
                read_vec(c, &old[i], vecs[i]);
                cand[i].d = node_dist(c, tv, vecs[i]);
                cand[i].tid = old[i];
                cand[i].deleted = false;   /* tombstones already linked are ranked like live nodes here */
            }
            vecs[n] = (float *)nv;
            cand[n].d = node_dist(c, tv, nv);
            cand[n].tid = *nt;
            cand[n].deleted = false;
            nn = select_neighbours(c, cand, vecs, n + 1, cap, neu);
            for (int i = 0; i < n; i++) pfree(vecs[i]);
            pfree(vecs);
            pfree(cand);
        }
        buf = read_buf(c, ItemPointerGetBlockNumber(to), BUFFER_LOCK_EXCLUSIVE);
        node = node_on_page(c, BufferGetPage(buf), to);
        same = *node_count(c, node, lv) == n && memcmp(node_links(c, node, lv), old, (size_t)n * LINK_BYTES) == 0;
        if (same) {
            page = edit_begin(c, &e, buf, false);
            node = node_on_page(c, page, to);
            *node_count(c, node, lv) = (uint16)nn;
            memcpy(node_links(c, node, lv), neu, (size_t)nn * LINK_BYTES);
            edit_finish(&e);
        }
        UnlockReleaseBuffer(buf);
        if (same) break;
    }
    pfree(old);
    pfree(neu);
    pfree(tv);
}

/* Puts the node tuple on a page with room (the metapage's insert block, else
** a new page) and returns its tid. hold_meta: the caller holds the metapage
** lock (first node), so the insert block is not updated here. */
static void place_node(Ctx *c, const char *tuple, Size size, BlockNumber hint, bool hold_meta, ItemPointer out) {
    Buffer buf;
    Page page;
    Edit e;
    OffsetNumber off;
    bool extended = false;
    if (hint != InvalidBlockNumber && hint != DSHNSW_META_BLK && hint < RelationGetNumberOfBlocks(c->index)) {
        buf = read_buf(c, hint, BUFFER_LOCK_EXCLUSIVE);
        check_page(c->index, BufferGetPage(buf), hint);
        if (PageGetFreeSpace(BufferGetPage(buf)) >= MAXALIGN(size)) {
            page = edit_begin(c, &e, buf, false);
            goto add;
        }
        UnlockReleaseBuffer(buf);
    }
    LockRelationForExtension(c->index, ExclusiveLock);
    buf = ReadBufferExtended(c->index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, c->strategy);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    UnlockRelationForExtension(c->index, ExclusiveLock);
    page = edit_begin(c, &e, buf, true);
    page_init(page, 0);
    extended = true;
add:
    off = PageAddItem(page, (Item)tuple, size, InvalidOffsetNumber, false, false);
    if (off == InvalidOffsetNumber)
        elog(ERROR, "dshnsw: could not add a %zu-byte node to block %u of \"%s\"", (size_t)size,
             BufferGetBlockNumber(buf), RelationGetRelationName(c->index));
    edit_finish(&e);
    ItemPointerSet(out, BufferGetBlockNumber(buf), off);
    UnlockReleaseBuffer(buf);
    if (extended && !hold_meta) {
        Buffer mb = read_buf(c, DSHNSW_META_BLK, BUFFER_LOCK_EXCLUSIVE);
        Page mp = edit_begin(c, &e, mb, false);
        page_meta(mp)->insert_blk = ItemPointerGetBlockNumber(out);
        edit_finish(&e);
        UnlockReleaseBuffer(mb);
    }
}

static int random_level(int m) {
    double u = pg_prng_double(use_build_rng ? &build_rng : &pg_global_prng_state);   /* [0, 1) */
    double l = -log(1.0 - u) / log((double)m);
    return l >= MAX_LEVEL ? MAX_LEVEL : (int)l;
}

/* Inserts vector v (already unit-length for cosine) for heap row heaptid. */
static void insert_vector(Ctx *c, const float *v, ItemPointer heaptid) {
    DsHnswMeta meta;
    int level = random_level(c->m);
    Size size = node_size(c, level);
    char *tuple = palloc0(size);
    ItemPointerData tid;
    int top;
    Cand ep;

    tuple[0] = (char)level;
    memcpy(tuple + 4, heaptid, sizeof(ItemPointerData));
    memcpy(tuple + NODE_HDR, v, sizeof(float) * c->dim);

    meta_read(c->index, &meta);
    if (!ItemPointerIsValid(&meta.entry)) {
        /* First node: hold the metapage so two first inserts cannot both
        ** become unlinked entry points. */
        Buffer mb = read_buf(c, DSHNSW_META_BLK, BUFFER_LOCK_EXCLUSIVE);
        DsHnswMeta *mm = page_meta(BufferGetPage(mb));
        if (!ItemPointerIsValid(&mm->entry)) {
            Edit e;
            Page mp;
            place_node(c, tuple, size, mm->insert_blk, true, &tid);
            mp = edit_begin(c, &e, mb, false);
            page_meta(mp)->entry = tid;
            page_meta(mp)->entry_level = (uint16)level;
            page_meta(mp)->insert_blk = ItemPointerGetBlockNumber(&tid);
            edit_finish(&e);
            UnlockReleaseBuffer(mb);
            pfree(tuple);
            return;
        }
        meta = *mm;
        UnlockReleaseBuffer(mb);
    }

    /* Links of the new node, level by level from min(level, top) down. */
    top = meta.entry_level;
    ep = descend(c, v, &meta, level);
    {
        int nlv = Min(level, top);
        ItemPointerData **sel = palloc0(sizeof(ItemPointerData *) * (nlv + 1));
        int *nsel = palloc0(sizeof(int) * (nlv + 1));
        Cand *eps = palloc(sizeof(Cand) * (c->efc + 1));
        int n_ep = 1;
        eps[0] = ep;
        for (int lv = nlv; lv >= 0; lv--) {
            Heap res;
            float **vecs;
            search_layer(c, v, eps, n_ep, c->efc, lv, false, &res);
            vecs = palloc(sizeof(float *) * Max(res.n, 1));
            for (int i = 0; i < res.n; i++) {
                vecs[i] = palloc(sizeof(float) * c->dim);
                read_vec(c, &res.a[i].tid, vecs[i]);
            }
            sel[lv] = palloc(sizeof(ItemPointerData) * c->m);
            nsel[lv] = select_neighbours(c, res.a, vecs, res.n, c->m, sel[lv]);
            /* the next level starts from every result, as in the paper */
            memcpy(eps, res.a, sizeof(Cand) * res.n);
            n_ep = res.n;
            for (int i = 0; i < res.n; i++) pfree(vecs[i]);
            pfree(vecs);
            pfree(res.a);
            memcpy(node_links(c, tuple, lv), sel[lv], (size_t)nsel[lv] * LINK_BYTES);
            *node_count(c, tuple, lv) = (uint16)nsel[lv];
        }
        place_node(c, tuple, size, meta.insert_blk, false, &tid);
        for (int lv = nlv; lv >= 0; lv--)
            for (int i = 0; i < nsel[lv]; i++) add_reverse_link(c, &sel[lv][i], &tid, v, lv);
    }

    if (level > top) {
        Buffer mb = read_buf(c, DSHNSW_META_BLK, BUFFER_LOCK_EXCLUSIVE);
        DsHnswMeta *mm = page_meta(BufferGetPage(mb));
        if (level > mm->entry_level) {
            Edit e;
            Page mp = edit_begin(c, &e, mb, false);
            page_meta(mp)->entry = tid;
            page_meta(mp)->entry_level = (uint16)level;
            edit_finish(&e);
        }
        UnlockReleaseBuffer(mb);
    }
    pfree(tuple);
}

/* The vector to index for a datum, or false when it is not indexed (a zero
** vector under cosine: its distance to anything is undefined). */
static bool prepare_vector(const Ctx *c, Datum d, float *out) {
    DsVector *v = DatumGetDsVector(d);
    if (v->dim != c->dim)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("dshnsw index \"%s\" has %d dimensions, the vector has %d",
                               RelationGetRelationName(c->index), c->dim, v->dim)));
    memcpy(out, v->x, sizeof(float) * c->dim);
    if (c->metric == METRIC_COSINE) {
        double nn = dspg_dot(out, out, c->dim);
        if (nn <= 0.0) return false;
        nn = 1.0 / sqrt(nn);
        for (int i = 0; i < c->dim; i++) out[i] = (float)(out[i] * nn);
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* build                                                                     */
/* ------------------------------------------------------------------------ */

static int metric_of(Relation index) {
    FmgrInfo *proc = index_getprocinfo(index, 1, 1);
    int metric = DatumGetInt32(FunctionCall1(proc, PointerGetDatum(NULL)));
    if (metric < METRIC_L2 || metric > METRIC_COSINE) elog(ERROR, "dshnsw: support function returned metric %d", metric);
    return metric;
}

/* Writes the metapage as block 0 of fork. The main fork's pages are all
** WAL-logged at the end of the build (log_newpage_range); the init fork of an
** unlogged index is logged here, since recovery recreates the main fork from
** it. */
static void write_metapage(Relation index, ForkNumber fork, int dim, int m, int efc, int metric) {
    Buffer buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);
    Page page;
    DsHnswMeta *meta;
    if (BufferGetBlockNumber(buf) != DSHNSW_META_BLK)
        elog(ERROR, "dshnsw: index \"%s\" is not empty", RelationGetRelationName(index));
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    START_CRIT_SECTION();
    page = BufferGetPage(buf);
    page_init(page, 1);
    meta = page_meta(page);
    memset(meta, 0, sizeof *meta);
    meta->magic = DSHNSW_MAGIC;
    meta->version = DSHNSW_VERSION;
    meta->dim = (uint32)dim;
    meta->m = (uint16)m;
    meta->ef_construction = (uint16)efc;
    meta->metric = (uint16)metric;
    ItemPointerSetInvalid(&meta->entry);
    meta->insert_blk = InvalidBlockNumber;
    /* pd_lower past the metadata, so a full-page image keeps it (the hole
    ** between pd_lower and pd_upper is not logged). */
    ((PageHeader)page)->pd_lower = (LocationIndex)((char *)meta + sizeof(DsHnswMeta) - (char *)page);
    MarkBufferDirty(buf);
    if (fork == INIT_FORKNUM) log_newpage_buffer(buf, true);
    END_CRIT_SECTION();
    UnlockReleaseBuffer(buf);
}

/* Shape checks shared by build and buildempty; returns the options. */
static void build_params(Relation index, int *dim, int *m, int *efc, int *metric) {
    DsHnswOptions *opts = (DsHnswOptions *)index->rd_options;
    Ctx tmp;
    DsHnswMeta meta;
    *dim = TupleDescAttr(index->rd_att, 0)->atttypmod;
    if (*dim < 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_COLUMN_DEFINITION),
                        errmsg("column does not have dimensions"),
                        errhint("Declare the column as dsvector(n) to index it with dshnsw.")));
    *m = opts ? opts->m : 16;
    *efc = opts ? opts->ef_construction : 64;
    if (*efc < *m)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("ef_construction (%d) must be at least m (%d)", *efc, *m)));
    *metric = metric_of(index);
    meta.dim = (uint32)*dim;
    meta.m = (uint16)*m;
    meta.ef_construction = (uint16)*efc;
    meta.metric = (uint16)*metric;
    ctx_init(&tmp, index, &meta, true);
    if (node_size(&tmp, MAX_LEVEL) > max_item_size())
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("dshnsw cannot index %d dimensions with m = %d: a node needs %zu bytes, a page holds %zu",
                               *dim, *m, (size_t)node_size(&tmp, MAX_LEVEL), (size_t)max_item_size()),
                        errhint("Use fewer dimensions or a smaller m.")));
}

typedef struct BuildState {
    Ctx ctx;
    float *vec;
    double n_indexed;
    MemoryContext tmp;
} BuildState;

static void build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool alive, void *vstate) {
    BuildState *bs = vstate;
    MemoryContext old;
    if (isnull[0]) return;
    old = MemoryContextSwitchTo(bs->tmp);
    if (prepare_vector(&bs->ctx, values[0], bs->vec)) {
        insert_vector(&bs->ctx, bs->vec, tid);
        bs->n_indexed += 1;
        pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64)bs->n_indexed);
    }
    MemoryContextSwitchTo(old);
    MemoryContextReset(bs->tmp);        /* the visited set is in ctx.vis_cxt, not here */
}

static IndexBuildResult *dshnsw_build(Relation heap, Relation index, IndexInfo *info) {
    IndexBuildResult *r = palloc0(sizeof *r);
    BuildState bs;
    DsHnswMeta meta;
    int dim, m, efc, metric;
    double reltuples;

    if (RelationGetNumberOfBlocks(index) != 0)
        elog(ERROR, "dshnsw: index \"%s\" already contains data", RelationGetRelationName(index));
    build_params(index, &dim, &m, &efc, &metric);
    write_metapage(index, MAIN_FORKNUM, dim, m, efc, metric);
    meta_read(index, &meta);
    ctx_init(&bs.ctx, index, &meta, true);
    bs.vec = palloc(sizeof(float) * dim);
    bs.n_indexed = 0;
    bs.tmp = AllocSetContextCreate(CurrentMemoryContext, "dshnsw build", ALLOCSET_DEFAULT_SIZES);
    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, 2);
    pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64)Max(heap->rd_rel->reltuples, 0));
    pg_prng_seed(&build_rng, UINT64CONST(0x64656e7365617263));
    use_build_rng = true;
    PG_TRY();
    {
        reltuples = table_index_build_scan(heap, index, info, true, true, build_callback, &bs, NULL);
    }
    PG_FINALLY();
    {
        use_build_rng = false;
    }
    PG_END_TRY();
    MemoryContextDelete(bs.tmp);
    if (RelationNeedsWAL(index))
        log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);
    r->heap_tuples = reltuples;
    r->index_tuples = bs.n_indexed;
    return r;
}

static void dshnsw_buildempty(Relation index) {
    int dim, m, efc, metric;
    build_params(index, &dim, &m, &efc, &metric);
    write_metapage(index, INIT_FORKNUM, dim, m, efc, metric);
}

static char *dshnsw_buildphasename(int64 phase) {
    return phase == 2 ? "building graph" : NULL;
}

static bool dshnsw_insert(Relation index, Datum *values, bool *isnull, ItemPointer heaptid, Relation heap,
                          IndexUniqueCheck unique, bool unchanged, IndexInfo *info) {
    DsHnswMeta meta;
    Ctx c;
    float *v;
    MemoryContext tmp, old;
    if (isnull[0]) return false;
    tmp = AllocSetContextCreate(CurrentMemoryContext, "dshnsw insert", ALLOCSET_DEFAULT_SIZES);
    old = MemoryContextSwitchTo(tmp);
    meta_read(index, &meta);
    ctx_init(&c, index, &meta, false);
    v = palloc(sizeof(float) * c.dim);
    if (prepare_vector(&c, values[0], v)) insert_vector(&c, v, heaptid);
    MemoryContextSwitchTo(old);
    MemoryContextDelete(tmp);
    return false;
}

/* ------------------------------------------------------------------------ */
/* vacuum                                                                    */
/* ------------------------------------------------------------------------ */

/* Marks the nodes of dead heap rows deleted (one WAL record per page that
** changes). They stay in the graph as tombstones: scans walk through them
** but never return them, and inserts link to them only to fill up. Their
** space is not reused (docs/postgres.md, "not done"). */
static IndexBulkDeleteResult *dshnsw_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
                                                IndexBulkDeleteCallback callback, void *cb_state) {
    Relation index = info->index;
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);
    if (stats == NULL) stats = palloc0(sizeof *stats);
    for (BlockNumber blk = 1; blk < nblocks; blk++) {
        Buffer buf;
        Page page;
        OffsetNumber maxoff;
        GenericXLogState *st = NULL;
        vacuum_delay_point();
        buf = ReadBufferExtended(index, MAIN_FORKNUM, blk, RBM_NORMAL, info->strategy);
        LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
        page = BufferGetPage(buf);
        check_page(index, page, blk);
        maxoff = PageGetMaxOffsetNumber(page);
        for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++) {
            ItemId iid = PageGetItemId(page, off);
            char *node;
            ItemPointerData heaptid;
            if (!ItemIdIsNormal(iid)) continue;
            node = PageGetItem(page, iid);
            if (node[1]) continue;
            memcpy(&heaptid, node + 4, sizeof heaptid);
            if (callback(&heaptid, cb_state)) {
                if (st == NULL) {
                    st = GenericXLogStart(index);
                    page = GenericXLogRegisterBuffer(st, buf, 0);
                    node = PageGetItem(page, PageGetItemId(page, off));
                }
                node[1] = 1;
                stats->tuples_removed += 1;
            } else {
                stats->num_index_tuples += 1;
            }
        }
        if (st) GenericXLogFinish(st);
        UnlockReleaseBuffer(buf);
    }
    stats->num_pages = nblocks;
    return stats;
}

static IndexBulkDeleteResult *dshnsw_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats) {
    if (info->analyze_only) return stats;
    if (stats == NULL) {
        /* No bulkdelete ran (nothing to delete): count the live nodes. */
        Relation index = info->index;
        BlockNumber nblocks = RelationGetNumberOfBlocks(index);
        stats = palloc0(sizeof *stats);
        for (BlockNumber blk = 1; blk < nblocks; blk++) {
            Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, blk, RBM_NORMAL, info->strategy);
            Page page;
            LockBuffer(buf, BUFFER_LOCK_SHARE);
            page = BufferGetPage(buf);
            check_page(index, page, blk);
            for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++) {
                ItemId iid = PageGetItemId(page, off);
                if (ItemIdIsNormal(iid) && ((char *)PageGetItem(page, iid))[1] == 0) stats->num_index_tuples += 1;
            }
            UnlockReleaseBuffer(buf);
        }
        stats->num_pages = nblocks;
    }
    return stats;
}

/* ------------------------------------------------------------------------ */
/* scan                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct DsScan {
    Ctx ctx;
    DsHnswMeta meta;
    float *q;
    bool started, exhausted;
    int ef;                               /* ef of the last round */
    Cand *res;                            /* this round's new results, closest first */
    int n_res, pos;
    uint64 *returned;                     /* node tids returned so far (same keying as vis) */
    size_t returned_words;
    MemoryContext round_cxt;
} DsScan;

static bool returned_test_set(DsScan *s, ItemPointer tid) {
    uint64 key = (uint64)ItemPointerGetBlockNumber(tid) * PER_PAGE + ItemPointerGetOffsetNumber(tid);
    size_t w = (size_t)(key / 64);
    if (w >= s->returned_words) {
        size_t n = Max(w + 1, s->returned_words * 2);
        n = Max(n, 256);
        if (s->returned == NULL) s->returned = MemoryContextAllocZero(s->ctx.vis_cxt, n * sizeof(uint64));
        else {
            s->returned = repalloc(s->returned, n * sizeof(uint64));
            memset(s->returned + s->returned_words, 0, (n - s->returned_words) * sizeof(uint64));
        }
        s->returned_words = n;
    }
    if (s->returned[w] & (UINT64CONST(1) << (key % 64))) return true;
    s->returned[w] |= UINT64CONST(1) << (key % 64);
    return false;
}

static IndexScanDesc dshnsw_beginscan(Relation index, int nkeys, int norderbys) {
    IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
    DsScan *s = palloc0(sizeof *s);
    meta_read(index, &s->meta);
    ctx_init(&s->ctx, index, &s->meta, false);
    s->q = palloc(sizeof(float) * s->ctx.dim);
    s->round_cxt = AllocSetContextCreate(CurrentMemoryContext, "dshnsw scan round", ALLOCSET_DEFAULT_SIZES);
    scan->opaque = s;
    return scan;
}

static void dshnsw_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys) {
    DsScan *s = scan->opaque;
    if (keys && scan->numberOfKeys > 0) memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
    if (orderbys && scan->numberOfOrderBys > 0)
        memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
    s->started = false;
    s->exhausted = false;
    s->n_res = s->pos = 0;
    s->ef = 0;
    if (s->returned) memset(s->returned, 0, s->returned_words * sizeof(uint64));
    MemoryContextReset(s->round_cxt);
    s->res = NULL;
}

/* One search round with ef = s->ef; keeps the results not returned yet. */
static void scan_round(DsScan *s) {
    MemoryContext old;
    Heap res;
    Cand ep;
    MemoryContextReset(s->round_cxt);
    old = MemoryContextSwitchTo(s->round_cxt);
    /* The entry point may have moved since the scan began. */
    meta_read(s->ctx.index, &s->meta);
    ep = descend(&s->ctx, s->q, &s->meta, 0);
    search_layer(&s->ctx, s->q, &ep, 1, s->ef, 0, true, &res);
    s->exhausted = res.n < s->ef;
    qsort(res.a, res.n, sizeof(Cand), cand_qsort_cmp);
    s->res = res.a;
    s->n_res = 0;
    for (int i = 0; i < res.n; i++)
        if (!returned_test_set(s, &res.a[i].tid)) s->res[s->n_res++] = res.a[i];
    s->pos = 0;
    MemoryContextSwitchTo(old);
}

static bool dshnsw_gettuple(IndexScanDesc scan, ScanDirection dir) {
    DsScan *s = scan->opaque;
    if (!s->started) {
        ScanKey ob;
        if (scan->numberOfOrderBys != 1)
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("dshnsw index scans need ORDER BY column <op> value")));
        ob = &scan->orderByData[0];
        s->started = true;
        if (!ItemPointerIsValid(&s->meta.entry)) {
            meta_read(s->ctx.index, &s->meta);
            if (!ItemPointerIsValid(&s->meta.entry)) return false;     /* empty index */
        }
        if (ob->sk_flags & SK_ISNULL) {
            /* Every distance is NULL: any order is right, so use the zero vector. */
            memset(s->q, 0, sizeof(float) * s->ctx.dim);
        } else {
            DsVector *qv = DatumGetDsVector(ob->sk_argument);
            if (qv->dim != s->ctx.dim)
                ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                                errmsg("dshnsw index \"%s\" has %d dimensions, the query vector has %d",
                                       RelationGetRelationName(s->ctx.index), s->ctx.dim, qv->dim)));
            memcpy(s->q, qv->x, sizeof(float) * s->ctx.dim);
            if (s->ctx.metric == METRIC_COSINE) {
                double nn = dspg_dot(s->q, s->q, s->ctx.dim);
                if (nn > 0.0) {
                    nn = 1.0 / sqrt(nn);
                    for (int i = 0; i < s->ctx.dim; i++) s->q[i] = (float)(s->q[i] * nn);
                }
            }
        }
        s->ef = Max(ef_search_guc, 1);
        scan_round(s);
    }
    while (s->pos >= s->n_res) {
        if (s->exhausted) return false;
        /* The executor wants more rows than this round found (a filter
        ** dropped some): search again, wider. */
        s->ef = s->ef > INT_MAX / 2 ? INT_MAX : s->ef * 2;
        scan_round(s);
    }
    scan->xs_heaptid = s->res[s->pos].heaptid;
    s->pos++;
    scan->xs_recheck = false;
    scan->xs_recheckorderby = false;
    return true;
}

static void dshnsw_endscan(IndexScanDesc scan) {
    DsScan *s = scan->opaque;
    MemoryContextDelete(s->round_cxt);
    if (s->ctx.vis) pfree(s->ctx.vis);
    if (s->returned) pfree(s->returned);
    pfree(s->q);
    pfree(s);
    scan->opaque = NULL;
}

/* ------------------------------------------------------------------------ */
/* planner, options, handler                                                 */
/* ------------------------------------------------------------------------ */

/* Only ORDER BY scans are possible. A search reads about ef * 2M nodes
** whatever the LIMIT, so that part of the cost is paid before the first row;
** the generic estimate (every tuple and page) stands for the total. */
static void dshnsw_costestimate(PlannerInfo *root, IndexPath *path, double loop_count, Cost *startup, Cost *total,
                                Selectivity *sel, double *corr, double *pages) {
    GenericCosts costs;
    double ntup, visited;
    if (path->indexorderbys == NIL) {
        *startup = *total = get_float8_infinity();
        *sel = 0;
        *corr = 0;
        *pages = 0;
        return;
    }
    memset(&costs, 0, sizeof costs);
    genericcostestimate(root, path, loop_count, &costs);
    ntup = Max(path->indexinfo->tuples, 1);
    visited = Min(ntup, (double)ef_search_guc * 32.0);
    *startup = costs.indexTotalCost * (visited / ntup);
    *total = costs.indexTotalCost;
    *sel = costs.indexSelectivity;
    *corr = 0;
    *pages = costs.numIndexPages;
}

static bytea *dshnsw_options(Datum reloptions, bool validate) {
    static const relopt_parse_elt tab[] = {
        { "m", RELOPT_TYPE_INT, offsetof(DsHnswOptions, m) },
        { "ef_construction", RELOPT_TYPE_INT, offsetof(DsHnswOptions, ef_construction) },
    };
    return (bytea *)build_reloptions(reloptions, validate, reloptions_kind, sizeof(DsHnswOptions), tab, lengthof(tab));
}

static bool dshnsw_validate(Oid opclassoid) { return true; }

void dshnsw_init(void) {
    reloptions_kind = add_reloption_kind();
    add_int_reloption(reloptions_kind, "m", "links per node (2m on the bottom level)", 16, 2, 100, AccessExclusiveLock);
    add_int_reloption(reloptions_kind, "ef_construction", "candidate list size while building", 64, 4, 1000,
                      AccessExclusiveLock);
    DefineCustomIntVariable("dshnsw.ef_search", "Candidate list size of dshnsw searches.",
                            "Larger is slower and finds more of the true nearest neighbours; a scan widens it by "
                            "itself when a filter needs more rows.",
                            &ef_search_guc, 40, 1, 1000, PGC_USERSET, 0, NULL, NULL, NULL);
    MarkGUCPrefixReserved("dshnsw");
}

PG_FUNCTION_INFO_V1(dshnsw_handler);
Datum dshnsw_handler(PG_FUNCTION_ARGS) {
    IndexAmRoutine *am = makeNode(IndexAmRoutine);
    am->amstrategies = 0;
    am->amsupport = 1;
    am->amoptsprocnum = 0;
    am->amcanorder = false;
    am->amcanorderbyop = true;
    am->amcanbackward = false;
    am->amcanunique = false;
    am->amcanmulticol = false;
    am->amoptionalkey = true;
    am->amsearcharray = false;
    am->amsearchnulls = false;
    am->amstorage = false;
    am->amclusterable = false;
    am->ampredlocks = false;
    am->amcanparallel = false;
    am->amcaninclude = false;
    am->amusemaintenanceworkmem = false;
    am->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
    am->amkeytype = InvalidOid;
    am->ambuild = dshnsw_build;
    am->ambuildempty = dshnsw_buildempty;
    am->aminsert = dshnsw_insert;
    am->ambulkdelete = dshnsw_bulkdelete;
    am->amvacuumcleanup = dshnsw_vacuumcleanup;
    am->amcanreturn = NULL;
    am->amcostestimate = dshnsw_costestimate;
    am->amoptions = dshnsw_options;
    am->amproperty = NULL;
    am->ambuildphasename = dshnsw_buildphasename;
    am->amvalidate = dshnsw_validate;
    am->amadjustmembers = NULL;
    am->ambeginscan = dshnsw_beginscan;
    am->amrescan = dshnsw_rescan;
    am->amgettuple = dshnsw_gettuple;
    am->amgetbitmap = NULL;
    am->amendscan = dshnsw_endscan;
    am->ammarkpos = NULL;
    am->amrestrpos = NULL;
    am->amestimateparallelscan = NULL;
    am->aminitparallelscan = NULL;
    am->amparallelrescan = NULL;
    PG_RETURN_POINTER(am);
}

/* Support function 1 of each operator class: which distance it ranks by. */
PG_FUNCTION_INFO_V1(dshnsw_metric_l2);
Datum dshnsw_metric_l2(PG_FUNCTION_ARGS) { PG_RETURN_INT32(METRIC_L2); }
PG_FUNCTION_INFO_V1(dshnsw_metric_ip);
Datum dshnsw_metric_ip(PG_FUNCTION_ARGS) { PG_RETURN_INT32(METRIC_IP); }
PG_FUNCTION_INFO_V1(dshnsw_metric_cosine);
Datum dshnsw_metric_cosine(PG_FUNCTION_ARGS) { PG_RETURN_INT32(METRIC_COSINE); }
