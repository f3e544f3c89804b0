/* The route table behind appsched.h: direct-mapped and fixed in size, so
 * memory stays bounded whatever paths clients invent; a route that loses
 * its slot to another is unknown again, and so runs on the pool. */
#include "appsched.h"

#include "log.h"

#define SLOTS      1024 /* power of two */
#define MAX_STRIKE 7

struct route {
    uint64_t key;    /* 0 = empty */
    bool inline_;
    uint8_t strikes; /* times it was sent back from inline to the pool */
    uint8_t slow;    /* inline: the last eight calls, one bit each, 1 = slow */
    uint16_t score;  /* pool: quick calls, less APPSCHED_SLOW_COST per slow one */
};

static struct route routes[SLOTS];
static size_t n_inline;

uint64_t
appsched_key(const char *method, size_t method_len, const char *path, size_t path_len)
{
    /* FNV-1a over "METHOD path"; never 0 (0 marks an empty slot). */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < method_len; i++) {
        h = (h ^ (unsigned char)method[i]) * 1099511628211ULL;
    }
    h = (h ^ ' ') * 1099511628211ULL;
    for (size_t i = 0; i < path_len; i++) {
        h = (h ^ (unsigned char)path[i]) * 1099511628211ULL;
    }
    return h ? h : 1;
}

static struct route *
slot(uint64_t key)
{
    return &routes[(key ^ (key >> 32)) & (SLOTS - 1)];
}

bool
appsched_inline(uint64_t key)
{
    const struct route *r = slot(key);
    return r->key == key && r->inline_;
}

void
appsched_inline_took(uint64_t key, double seconds)
{
    struct route *r = slot(key);
    if (r->key != key || !r->inline_) {
        return;
    }
    r->slow = (uint8_t)(r->slow << 1 | (seconds > APPSCHED_INLINE_MAX));
    if (__builtin_popcount(r->slow) < 2 && seconds <= APPSCHED_INLINE_LONG) {
        return;
    }
    r->inline_ = false;
    r->score = 0;
    r->slow = 0;
    if (r->strikes < MAX_STRIKE) {
        r->strikes++;
    }
    n_inline--;
    log_debug("route %016llx: an inline call held Python %.1f ms: back to the thread pool",
              (unsigned long long)key, seconds * 1e3);
}

void
appsched_pool_took(uint64_t key, double seconds)
{
    struct route *r = slot(key);
    if (r->key != key) {
        if (r->inline_) {
            n_inline--;
        }
        *r = (struct route){.key = key};
    }
    if (r->inline_) {
        return; /* a resume of a call that began on the pool */
    }
    if (seconds >= APPSCHED_QUICK) {
        r->score = r->score > APPSCHED_SLOW_COST ? r->score - APPSCHED_SLOW_COST : 0;
        return;
    }
    if (++r->score >= (APPSCHED_STREAK << r->strikes)) {
        r->inline_ = true;
        r->score = 0;
        n_inline++;
        log_debug("route %016llx: %d quick pool calls: now inline", (unsigned long long)key,
                  APPSCHED_STREAK << r->strikes);
    }
}

size_t
appsched_inline_routes(void)
{
    return n_inline;
}
