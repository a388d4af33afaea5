/* cluster/daemon_disk.c — a shard node's disk alarms, checked on the transport thread's ticks:
 *   - a disk that refused a write (the engine's health): the node stops serving;
 *   - disk headroom: free space on the database's filesystem below what compaction needs.
 *     Universal compaction (the default) merges every sorted run now and then, holding its
 *     inputs and its output at once, so it needs free space about the size of the live table
 *     files; leveled compaction (cluster.compaction: level) needs about a tenth of it. Below
 *     that the node keeps serving but warns (log, status, metrics): a merge that hits a full
 *     disk makes RocksDB refuse writes, and the refused-write alarm follows. */
#include "cluster/daemon_internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "runtime/errors.h"
#include "runtime/fault.h"
#include "runtime/log.h"
#include "runtime/transport_zmq.h"
#include "shards/engine_rocksdb.h"

static const char *const COMP = "daemon";

/* Leveled compaction's need, as a divisor of the live bytes (its space overhead ~10%). */
enum { LEVEL_HEADROOM_DIVISOR = 10 };

/* A disk that refused a write makes every partition here read-only (the logs step down); the
 * node then stops heartbeating, so the cluster declares it down and its partitions fail over
 * to replicas that can still write, and it raises the alarm (log, metrics, status, /healthz).
 * It keeps answering admin and metrics requests for the operator. */
static void s_check_refused(daemon_t *d)
{
    if (engine_writable(d->engine) || atomic_exchange(&d->disk_alarm, true))
        return;
    ROOST_ERROR(COMP, "disk refused a write: this node stops serving",
                "node=%s err=%s action=\"heartbeats stopped; its partitions fail over\"",
                d->self->name, roost_strerror(engine_health(d->engine)));
    transport_zmq_set_heartbeats(d->transport, false);
    if (d->detector) /* same thread: the detector runs on the transport's ticks */
        detector_set_self_down(d->detector);
}

/* Free bytes for an unprivileged writer on the filesystem holding dir (the fault point
 * disk.headroom, test builds: none). */
static uint64_t s_free_bytes(const char *dir)
{
    struct statvfs vfs;
    if (roost_fault("disk.headroom") || statvfs(dir, &vfs) != 0)
        return 0;
    return (uint64_t)vfs.f_bavail * vfs.f_frsize;
}

static void s_check_headroom(daemon_t *d)
{
    uint64_t live = engine_rocksdb_live_bytes(d->engine), free = s_free_bytes(d->data_dir);
    uint64_t need =
        manifest_compaction_leveled(&d->manifest) ? live / LEVEL_HEADROOM_DIVISOR : live;
    atomic_store(&d->live_bytes, live);
    atomic_store(&d->free_bytes, free);
    bool low = free < need || free == 0;
    if (low == atomic_exchange(&d->headroom_low, low))
        return;
    if (low)
        ROOST_WARN(COMP, "disk headroom low: a full compaction may not fit",
                   "node=%s free_bytes=%llu live_bytes=%llu compaction=%s "
                   "action=\"free disk space or move the data dir to a larger disk\"",
                   d->self->name, (unsigned long long)free, (unsigned long long)live,
                   d->manifest.compaction);
    else
        ROOST_INFO(COMP, "disk headroom back", "node=%s free_bytes=%llu live_bytes=%llu",
                   d->self->name, (unsigned long long)free, (unsigned long long)live);
}

void daemon_check_disk(daemon_t *d, uint64_t now_ns)
{
    if (!d->engine)
        return;
    s_check_refused(d);
    if (d->headroom_checked_ns &&
        now_ns - d->headroom_checked_ns < DAEMON_HEADROOM_CHECK_MS * 1000000ull)
        return;
    d->headroom_checked_ns = now_ns;
    s_check_headroom(d);
}
