/* shards/syncer.c — see syncer.h. Requests are requester keys on a mutex-protected list; the
 * thread swaps the whole list out, syncs once, and answers each through the node.
 * Under load the thread paces its syncs (syncer.h: the gather time). */
#include "shards/syncer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/clock.h"
#include "runtime/errors.h"
#include "runtime/fault.h"
#include "runtime/log.h"
#include "runtime/util.h"

typedef struct request {
    struct request *next;
    char key[]; /* the requester */
} request_t;

struct syncer {
    roost_node_t *node;
    engine_t *engine;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    request_t *head; /* under lock */
    bool stopping;   /* under lock */
    bool started;
    uint64_t gather_ns;      /* set before the thread starts */
    uint64_t last_end_ns;    /* the thread's: when its previous sync returned (0: none yet) */
    request_t *polled;       /* syncer_poll_begin's batch, until _end answers it */
    uint32_t polled_n;       /* … its requests */
    uint64_t polled_covered; /* engine_writes() when it began */
    _Atomic uint64_t syncs;
};

syncer_t *syncer_new(roost_node_t *node, engine_t *engine)
{
    syncer_t *s = roost_xcalloc(1, sizeof *s);
    s->node = node;
    s->engine = engine;
    s->gather_ns = (uint64_t)SYNCER_GATHER_US_DEFAULT * 1000u;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    return s;
}

static void s_answer(syncer_t *s, request_t *list, sync_done_t done)
{
    while (list) {
        request_t *r = list;
        list = r->next;
        roost_node_send(s->node, roost_env_new(r->key, NULL, MSG_SYNC_DONE, &done, sizeof done));
        free(r);
    }
}

static void s_free_requests(request_t *list)
{
    while (list) {
        request_t *r = list;
        list = r->next;
        free(r);
    }
}

/* The answer of a sync that began with `covered` writes counted and ended with `status` (a
 * failed one covers nothing); counts it. */
static sync_done_t s_done(syncer_t *s, uint64_t covered, int status)
{
    atomic_fetch_add_explicit(&s->syncs, 1, memory_order_relaxed);
    return (sync_done_t){.status = status, .covered = status == ROOST_OK ? covered : 0};
}

/* One fsync for every write counted so far (engine_writes, read before it starts). */
static sync_done_t s_sync(syncer_t *s)
{
    uint64_t covered = engine_writes(s->engine);
    return s_done(s, covered, engine_sync(s->engine));
}

/* Under load, lets a small batch grow until the gather time after the previous sync ends
 * (syncer.h). Called and returns with the lock held. */
static void s_gather(syncer_t *s)
{
    uint32_t queued = 0;
    for (request_t *r = s->head; r && queued < SYNCER_GATHER_MIN; r = r->next)
        queued++;
    uint64_t since = roost_clock_now_ns(roost_clock_real()) - s->last_end_ns;
    if (queued >= SYNCER_GATHER_MIN || s->last_end_ns == 0 || since >= s->gather_ns)
        return;
    pthread_mutex_unlock(&s->lock);
    uint64_t left = s->gather_ns - since;
    struct timespec rest = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
    nanosleep(&rest, NULL);
    pthread_mutex_lock(&s->lock);
}

static void *s_main(void *arg)
{
    syncer_t *s = arg;
    pthread_setname_np(pthread_self(), "roost-syncer");
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        if (!s->head) {
            pthread_cond_wait(&s->cond, &s->lock);
            continue;
        }
        s_gather(s);
        request_t *batch = s->head;
        s->head = NULL;
        pthread_mutex_unlock(&s->lock);
        if (roost_fault("syncer.stall")) { /* an fsync that never returns: nobody answered */
            s_free_requests(batch);
            pthread_mutex_lock(&s->lock);
            continue;
        }
        sync_done_t done = s_sync(s); /* one fsync answers the whole batch */
        s->last_end_ns = roost_clock_now_ns(roost_clock_real());
        s_answer(s, batch, done);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

uint32_t syncer_poll_begin(syncer_t *s)
{
    if (s->started || s->polled)
        return 0;
    pthread_mutex_lock(&s->lock);
    request_t *batch = s->head;
    s->head = NULL;
    pthread_mutex_unlock(&s->lock);
    if (!batch)
        return 0;
    uint32_t n = 0;
    for (request_t *r = batch; r; r = r->next)
        n++;
    s->polled = batch;
    s->polled_n = n;
    s->polled_covered = engine_writes(s->engine);
    return n;
}

uint32_t syncer_poll_end(syncer_t *s, int status)
{
    if (!s->polled)
        return 0; /* no sync begun: nothing to answer, nothing to count */
    s_answer(s, s->polled, s_done(s, s->polled_covered, status));
    s->polled = NULL;
    return s->polled_n;
}

uint32_t syncer_poll(syncer_t *s)
{
    uint32_t n = syncer_poll_begin(s);
    if (n)
        syncer_poll_end(s, engine_sync(s->engine));
    return n;
}

void syncer_set_gather_us(syncer_t *s, uint32_t us)
{
    s->gather_ns = (uint64_t)us * 1000u;
}

int syncer_start(syncer_t *s)
{
    if (pthread_create(&s->thread, NULL, s_main, s) != 0)
        return ROOST_EIO;
    s->started = true;
    return ROOST_OK;
}

void syncer_destroy(syncer_t **s_p)
{
    syncer_t *s = *s_p;
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (s->started)
        pthread_join(s->thread, NULL);
    s_free_requests(s->head);
    s_free_requests(s->polled); /* begun, never answered: a crash in the middle of an fsync */
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
    *s_p = NULL;
}

uint64_t syncer_syncs(const syncer_t *s)
{
    return atomic_load_explicit(&s->syncs, memory_order_relaxed);
}

int syncer_request(roost_ctx_t *ctx)
{
    syncer_t *s = roost_ctx_service(ctx, SYNCER_SERVICE);
    if (!s)
        return ROOST_EUNAVAIL;
    const char *self = roost_ctx_self(ctx);
    size_t len = strlen(self);
    request_t *r = roost_xmalloc(sizeof *r + len + 1);
    memcpy(r->key, self, len + 1);
    pthread_mutex_lock(&s->lock);
    r->next = s->head;
    s->head = r;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return ROOST_OK;
}

sync_done_t syncer_done(const roost_env_t *env)
{
    sync_done_t done = {.status = ROOST_EIO};
    if (env->payload_len == sizeof done)
        memcpy(&done, env->payload, sizeof done);
    return done;
}
