/* tests/fuzz/fuzz_replication.c — libFuzzer target: one payload through every decoder of the
 * replication protocol (shards/proto.h: what a peer's log replica, or a compromised node, can
 * send), the log record decoder and the store batch view. The first byte picks the decoder, so
 * the corpus keeps one family per seed. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "runtime/clustermap.h"
#include "shards/entry.h"
#include "shards/ops.h"
#include "shards/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_view(const void *p, size_t n)
{
    msg_view_t v;
    memset(&v, 0, sizeof v);
    msg_promise_t pm;
    if (msg_promise_decode(p, n, &pm, &v) == 0)
        for (uint32_t i = 0; i < v.nrecords; i++) {
            size_t len;
            log_entry_t e;
            const void *rec = msg_view_record(&v, i, &len);
            (void)entry_decode(rec, len, &e);
        }
    msg_view_fini(&v);
    memset(&v, 0, sizeof v);
    msg_append_t am;
    (void)msg_append_decode(p, n, &am, &v);
    msg_view_fini(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 8) {
    case 0: {
        msg_role_t m;
        (void)msg_role_decode(p, n, &m);
        msg_prepare_t pr;
        (void)msg_prepare_decode(p, n, &pr);
        msg_ack_t a;
        (void)msg_ack_decode(p, n, &a);
        break;
    }
    case 1:
        s_view(p, n);
        break;
    case 2: {
        uint64_t lsn;
        const void *rec;
        size_t rlen;
        msgpack_unpacked up;
        (void)msg_fetch_decode(p, n, &lsn);
        if (msg_fetched_decode(p, n, &lsn, &rec, &rlen, &up) == 0) {
            log_entry_t e;
            (void)entry_decode(rec, rlen, &e);
        }
        msgpack_unpacked_destroy(&up);
        break;
    }
    case 3: {
        uint64_t start, epoch;
        const void *after;
        size_t alen;
        msgpack_unpacked up;
        (void)msg_snap_req_decode(p, n, &start, &after, &alen, &up);
        msgpack_unpacked_destroy(&up);
        (void)msg_rebuild_decode(p, n, &epoch);
        break;
    }
    case 4: {
        msg_snap_t s;
        memset(&s, 0, sizeof s);
        if (msg_snap_decode(p, n, &s) == 0)
            for (uint32_t i = 0; i < s.npairs; i++)
                (void)s.pairs[i].via.array.ptr[1].via.bin.size;
        msgpack_unpacked_destroy(&s.up);
        break;
    }
    case 5: {
        log_entry_t e;
        (void)entry_decode(p, n, &e);
        break;
    }
    case 6: {
        store_ops_view_t v;
        store_op_t op;
        if (store_ops_view_init(&v, p, n) == 0)
            while (store_ops_view_next(&v, &op))
                ;
        store_ops_view_fini(&v);
        break;
    }
    default: {
        clustermap_cmd_t cmd; /* a handoff request as a peer sends it (ROOST_MSG_CONTROL) */
        (void)clustermap_cmd_decode(p, n, &cmd);
        break;
    }
    }
    return 0;
}
