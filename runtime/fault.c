/* runtime/fault.c — the fault point table (see fault.h): a small array under a mutex, reached
 * only when something is armed; the fast path is one atomic load. */
#include "runtime/fault.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"

typedef struct {
    char site[ROOST_FAULT_SITE_BYTES_MAX];
    int64_t left; /* < 0: every time */
} armed_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t s_env_once = PTHREAD_ONCE_INIT;
static armed_t s_armed[ROOST_FAULT_SITES_MAX];
static _Atomic int s_count; /* armed sites, or 1 + that while a hook is installed: the fast path */
static roost_fault_hook_fn s_hook;
static void *s_hook_arg;

static bool s_valid_name(const char *site, size_t len)
{
    if (len == 0 || len >= ROOST_FAULT_SITE_BYTES_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(site[i] == '.' || site[i] == '_' || (site[i] >= 'a' && site[i] <= 'z') ||
              (site[i] >= '0' && site[i] <= '9')))
            return false;
    return true;
}

/* Under s_lock. */
static int s_arm_locked(const char *site, size_t len, int64_t count)
{
    if (!s_valid_name(site, len))
        return ROOST_EINVAL;
    armed_t *free_slot = NULL;
    for (int i = 0; i < ROOST_FAULT_SITES_MAX; i++) {
        armed_t *a = &s_armed[i];
        if (a->left != 0 && strlen(a->site) == len && memcmp(a->site, site, len) == 0) {
            if (count == 0)
                atomic_fetch_sub(&s_count, 1);
            a->left = count;
            return ROOST_OK;
        }
        if (a->left == 0 && !free_slot)
            free_slot = a;
    }
    if (count == 0)
        return ROOST_OK;
    if (!free_slot)
        return ROOST_ELIMIT;
    memcpy(free_slot->site, site, len);
    free_slot->site[len] = '\0';
    free_slot->left = count;
    atomic_fetch_add(&s_count, 1);
    return ROOST_OK;
}

/* ROOST_FAULT_POINTS="site[:count],…"; a malformed entry is skipped (roostd reports what is armed).
 */
static void s_read_env(void)
{
#ifdef ROOST_FAULT_ENV
    const char *env = getenv("ROOST_FAULT_POINTS");
#else
    const char *env = NULL; /* a release build cannot be armed from outside */
#endif
    pthread_mutex_lock(&s_lock);
    for (const char *p = env; p && *p;) {
        size_t len = strcspn(p, ",");
        size_t name = strcspn(p, ":,");
        int64_t count = -1;
        if (name < len) {
            char *end;
            count = strtoll(p + name + 1, &end, 10);
            if (end != p + len || count <= 0)
                count = 0;
        }
        if (count != 0)
            s_arm_locked(p, name, count);
        p += len + (p[len] == ',');
    }
    pthread_mutex_unlock(&s_lock);
}

bool roost_fault(const char *site)
{
    pthread_once(&s_env_once, s_read_env);
    if (atomic_load_explicit(&s_count, memory_order_relaxed) == 0)
        return false;
    bool fire = false;
    pthread_mutex_lock(&s_lock);
    if (s_hook) {
        fire = s_hook(s_hook_arg, site);
    } else {
        for (int i = 0; i < ROOST_FAULT_SITES_MAX && !fire; i++) {
            armed_t *a = &s_armed[i];
            if (a->left == 0 || strcmp(a->site, site) != 0)
                continue;
            fire = true;
            if (a->left > 0 && --a->left == 0)
                atomic_fetch_sub(&s_count, 1);
        }
    }
    pthread_mutex_unlock(&s_lock);
    return fire;
}

int roost_fault_arm(const char *site, int64_t count)
{
    pthread_once(&s_env_once, s_read_env);
    pthread_mutex_lock(&s_lock);
    int rc = s_arm_locked(site, site ? strlen(site) : 0, count);
    pthread_mutex_unlock(&s_lock);
    return rc;
}

void roost_fault_reset(void)
{
    pthread_once(&s_env_once, s_read_env);
    pthread_mutex_lock(&s_lock);
    for (int i = 0; i < ROOST_FAULT_SITES_MAX; i++)
        if (s_armed[i].left != 0) {
            s_armed[i].left = 0;
            atomic_fetch_sub(&s_count, 1);
        }
    pthread_mutex_unlock(&s_lock);
}

void roost_fault_set_hook(roost_fault_hook_fn fn, void *arg)
{
    pthread_once(&s_env_once, s_read_env);
    pthread_mutex_lock(&s_lock);
    if (fn && !s_hook)
        atomic_fetch_add(&s_count, 1);
    else if (!fn && s_hook)
        atomic_fetch_sub(&s_count, 1);
    s_hook = fn;
    s_hook_arg = arg;
    pthread_mutex_unlock(&s_lock);
}

int roost_fault_describe(char *out, size_t cap)
{
    pthread_once(&s_env_once, s_read_env);
    int n = 0;
    size_t used = 0;
    if (cap)
        out[0] = '\0';
    pthread_mutex_lock(&s_lock);
    for (int i = 0; i < ROOST_FAULT_SITES_MAX; i++) {
        const armed_t *a = &s_armed[i];
        if (a->left == 0)
            continue;
        char one[ROOST_FAULT_SITE_BYTES_MAX + 24];
        int len = a->left < 0 ? snprintf(one, sizeof one, "%s%s", n ? "," : "", a->site)
                              : snprintf(one, sizeof one, "%s%s:%lld", n ? "," : "", a->site,
                                         (long long)a->left);
        if (len > 0 && used + (size_t)len < cap) {
            memcpy(out + used, one, (size_t)len + 1);
            used += (size_t)len;
        }
        n++;
    }
    pthread_mutex_unlock(&s_lock);
    return n;
}
