/* tests/unit/test_messaging_loss.c — what the messaging actors do about writes a `sync: none`
 * loss took (docs/store.md, "Sync policy"), on one in-process shard node (tests/support/
 * msg_world.h): an inbox entry naming a message its conversation lost is skipped, a
 * conversation of a newer era (the partition's fence) is taken again from where it says, and
 * a fence moves a user's inbox positions past what its devices may hold. The losses are forged:
 * deliveries past a conversation's head, and fences written into the partitions. */
#include "tests/support/msg_world.h"

#include "actors/user.h" /* USER_FENCE_GAP */
#include "tests/support/msg_steps.h"

/* conv's record of `seq` as `user` would be pushed it (fetched from the conversation). */
static void s_fetch_record(const char *conv, const user_ref_t *user, uint64_t seq, mp_buf_t *out)
{
    sess_item_t *it = s_conv_fetch(conv, user, seq, 1);
    assert_non_null(it);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_true(it->status == 0 && mp_parse(&up, it->data, it->len));
    assert_int_equal(up.data.via.array.size, 1);
    const msgpack_object *rec = &up.data.via.array.ptr[0].via.array.ptr[1];
    assert_int_equal(rec->type, MSGPACK_OBJECT_BIN);
    msgpack_sbuffer_write(&out->sb, rec->via.bin.ptr, rec->via.bin.size);
    msgpack_unpacked_destroy(&up);
    free(it);
}

/* The record in `rec` with its seq replaced, packed as a bin into pk. */
static void s_pack_reseq(msgpack_packer *pk, const mp_buf_t *rec, uint64_t seq)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_true(mp_parse(&up, rec->sb.data, rec->sb.size));
    assert_int_equal(up.data.type, MSGPACK_OBJECT_MAP);
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, up.data.via.map.size);
    for (uint32_t i = 0; i < up.data.via.map.size; i++) {
        const msgpack_object_kv *kv = &up.data.via.map.ptr[i];
        mp_pack_obj(&b.pk, &kv->key);
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 3 &&
            memcmp(kv->key.via.str.ptr, "seq", 3) == 0)
            msgpack_pack_uint64(&b.pk, seq);
        else
            mp_pack_obj(&b.pk, &kv->val);
    }
    mp_pack_bin(pk, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
    msgpack_unpacked_destroy(&up);
}

/* Users a, b and c (phones +155500000<first>…), conv a:b, conv_cb c:b and `to` b's key. */
static void s_three_users(int first, user_ref_t *a, user_ref_t *b, user_ref_t *c, char conv[48],
                          char conv_cb[48], char to[40])
{
    user_ref_t *u[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        char phone[16], device[4];
        snprintf(phone, sizeof phone, "+155500000%02d", first + i);
        snprintf(device, sizeof device, "%c1", 'a' + i);
        s_user((uint32_t)i, phone, device, u[i]);
    }
    s_conv_of(a, b, conv);
    s_conv_of(c, b, conv_cb);
    snprintf(to, 40, "u:%s", b->id);
}

/* Hands user's inbox MSG_DELIVER [conv, prev, 0, [rec as seqs prev+1 … prev+n], era?] (era 0:
 * none), as a conversation's fan-out would; returns the last_seq it answers. */
static uint64_t s_deliver(const user_ref_t *user, const char *conv, uint64_t prev,
                          const mp_buf_t *rec, uint32_t n, uint64_t era)
{
    mp_buf_t deliver;
    mp_buf_init(&deliver);
    msgpack_pack_array(&deliver.pk, era ? 5 : 4);
    mp_pack_str(&deliver.pk, conv);
    msgpack_pack_uint64(&deliver.pk, prev);
    msgpack_pack_uint64(&deliver.pk, 0); /* floor */
    msgpack_pack_array(&deliver.pk, n);
    for (uint32_t k = 1; k <= n; k++)
        s_pack_reseq(&deliver.pk, rec, prev + k);
    if (era)
        msgpack_pack_uint64(&deliver.pk, era);
    sess_item_t *it = sess_raw(3, user->key, MSG_DELIVER, deliver.sb.data, deliver.sb.size);
    mp_buf_fini(&deliver);
    assert_non_null(it);
    assert_int_equal(it->status, 0);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_true(mp_parse(&up, it->data, it->len) && up.data.type == MSGPACK_OBJECT_ARRAY &&
                up.data.via.array.size == 1);
    uint64_t last = up.data.via.array.ptr[0].via.u64;
    msgpack_unpacked_destroy(&up);
    free(it);
    return last;
}

/* An inbox entry naming a seq its conversation no longer has (committed once, then lost with
 * its partition's recent writes under `sync: none`) is skipped, and the device gets what
 * follows. The push waited for that record forever, and with it every later message to the
 * user (simulator seed 360). The lost messages are forged here: a deliver of two records past
 * the conversation's head, as its fan-out made them before the loss. */
static void test_an_entry_its_conversation_lost_is_skipped(void **state)
{
    (void)state;
    user_ref_t a, b, c;
    char conv[48], conv_cb[48], to[40];
    s_three_users(71, &a, &b, &c, conv, conv_cb, to);
    assert_int_equal(s_send(0, &a, "a1", conv, to, "l1", "l1"), 1);
    mp_buf_t rec;
    mp_buf_init(&rec);
    s_fetch_record(conv, &b, 1, &rec);
    assert_int_equal(s_deliver(&b, conv, 1, &rec, 2, 0), 3);
    mp_buf_fini(&rec);
    assert_int_equal(s_send(2, &c, "c1", conv_cb, to, "l4", "l4"), 1); /* b's entry 4 */
    mw_close();
    mw_open(false); /* empty caches: the pushes fetch their records */
    s_auth(1, &b, "b1", -1);
    s_expect_msgs(1, 1, "l", 1, 1);
    s_expect_msgs(1, 4, "l", 4, 4); /* entries 2 and 3 name seqs past the head */
}

/* A conversation whose partition adopted a log that may have lost acknowledged writes (a
 * fence, shards/store.h) hands its seqs out again; its deliveries carry the new era, and the
 * inbox takes seq 1 again instead of skipping it as one it has — the message that got the seq
 * would never reach b (simulator seed 378 under sync: none, once the checker stopped excusing
 * it). The same era again is idempotent as before. */
static void test_a_newer_era_starts_the_inbox_again(void **state)
{
    (void)state;
    user_ref_t a, b, c;
    char conv[48], conv_cb[48], to[40];
    s_three_users(74, &a, &b, &c, conv, conv_cb, to);
    assert_int_equal(s_send(0, &a, "a1", conv, to, "f1", "f1"), 1); /* b's entry 1 */
    mp_buf_t rec;
    mp_buf_init(&rec);
    s_fetch_record(conv, &b, 1, &rec);
    assert_int_equal(s_deliver(&b, conv, 0, &rec, 1, 7), 1); /* entry 2 */
    assert_int_equal(s_deliver(&b, conv, 0, &rec, 1, 7), 1); /* nothing new */
    mp_buf_fini(&rec);
    assert_int_equal(s_send(2, &c, "c1", conv_cb, to, "f3", "f3"), 1); /* entry 3 */
    s_auth(1, &b, "b1", -1);
    s_expect_msgs(1, 1, "f", 1, 1);
    s_expect_msgs(1, 2, "f", 1, 1); /* seq 1 of the new era (here: the same record) */
    s_expect_msgs(1, 3, "f", 3, 3);
}

/* Reads msg pushes on session i until one with body `want`; each at a position past the gap
 * the fence made after entry 2 (the conversation, fenced too, may deliver h1 and h2 again as
 * new entries there: a newer era). Returns want's position. */
static uint64_t s_expect_past_gap(uint32_t i, const char *want)
{
    for (int k = 0; k < 8; k++) {
        msgpack_unpacked up;
        s_expect(i, "msg", &up);
        mp_str_t body;
        assert_int_equal(mp_get_bin(&up.data, "body", 100, &body), MP_OK);
        uint64_t n = sess_u64(&up.data, "n");
        bool found = mp_str_eq(body, want);
        msgpack_unpacked_destroy(&up);
        assert_true(n >= 3 + USER_FENCE_GAP);
        if (found)
            return n;
    }
    fail_msg("session %u: no %s", i, want);
    return 0;
}

/* Users a and b (s_three_users from `first`), a's messages <p>1 and <p>2 to b in conv, and b's
 * device (session 1) holding positions 1 and 2. */
static void s_device_holds_two(int first, const char *p, user_ref_t *a, user_ref_t *b,
                               char conv[48], char to[40])
{
    user_ref_t c;
    char conv_cb[48], text[8];
    s_three_users(first, a, b, &c, conv, conv_cb, to);
    for (int i = 1; i <= 2; i++) {
        snprintf(text, sizeof text, "%s%d", p, i);
        assert_int_equal(s_send(0, a, "a1", conv, to, text, text), i);
    }
    s_auth(1, b, "b1", -1);
    s_expect_msgs(1, 1, p, 1, 2);
}

/* After a fence the user's inbox head may have gone back past positions its devices hold (the
 * entries went with the loss); handing those positions out again made the devices drop the new
 * events as ones they had. The positions jump USER_FENCE_GAP ahead instead, once per fence, and
 * the pushes skip the gaps: a device resuming from inside one (it held positions the loss took)
 * gets what comes after it, and one from before two gaps gets what lies between and after. */
static void test_a_fence_moves_inbox_positions_past_what_devices_hold(void **state)
{
    (void)state;
    user_ref_t a, b;
    char conv[48], to[40];
    s_device_holds_two(77, "h", &a, &b, conv, to);
    mw_close();
    mw_fence(9ull << 16);
    mw_open(false);
    assert_int_equal(s_send(0, &a, "a1", conv, to, "h3", "h3"), 3);
    s_auth(2, &b, "b1", 2);
    uint64_t h3 = s_expect_past_gap(2, "h3");
    s_auth(4, &b, "b1", 102); /* a device that held up to 102 before the loss */
    assert_int_equal(s_expect_past_gap(4, "h3"), h3);
    mw_close();
    mw_open(false); /* the same fence: no second jump */
    assert_int_equal(s_send(0, &a, "a1", conv, to, "h4", "h4"), 4);
    s_auth(5, &b, "b1", (int64_t)h3);
    uint64_t h4 = s_expect_past_gap(5, "h4");
    assert_true(h4 > h3 && h4 < h3 + 8);
    mw_close();
    mw_fence(10ull << 16); /* a second loss: a second gap, after h4 */
    mw_open(false);
    assert_int_equal(s_send(0, &a, "a1", conv, to, "h5", "h5"), 5);
    s_auth(6, &b, "b1", (int64_t)h3); /* from before h4: both gaps skipped on the way */
    assert_int_equal(s_expect_past_gap(6, "h4"), h4);
    assert_true(s_expect_past_gap(6, "h5") > h4 + USER_FENCE_GAP);
}
/* A loss may take the user's whole record — positions, gaps and cursors with it — while its
 * device holds positions: the account registered again jumps past them too (its devices are
 * the same phones; before, it started again at 1 and the device dropped what came as events
 * it had: simulator seeds 21 and 194). A second loss taking its "n" and gaps again must not bring
 * the first jump's positions back: the jump goes at least to a base the fence sets (seeds 1247
 * and 1378). */
static void test_a_loss_of_the_users_record_keeps_positions_past_what_devices_hold(void **state)
{
    (void)state;
    user_ref_t a, b;
    char conv[48], to[40];
    s_device_holds_two(80, "k", &a, &b, conv, to);
    mw_close();
    mw_forget(to, NULL);
    mw_fence(9ull << 16);
    mw_open(false);
    user_ref_t again;
    s_user(4, "+15550000081", "b1", &again); /* the registry still names b */
    assert_string_equal(again.id, b.id);
    assert_int_equal(s_send(0, &a, "a1", conv, to, "k3", "k3"), 3);
    s_auth(5, &again, "b1", 2);
    uint64_t k3 = s_expect_past_gap(5, "k3");
    mw_close();
    mw_forget(to, "n");
    mw_forget(to, "fence");
    mw_fence(10ull << 16);
    mw_open(false);
    assert_int_equal(s_send(0, &a, "a1", conv, to, "k4", "k4"), 4);
    s_auth(6, &again, "b1", (int64_t)k3);
    assert_true(s_expect_past_gap(6, "k4") > k3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_an_entry_its_conversation_lost_is_skipped, mw_setup,
                                        mw_teardown),
        cmocka_unit_test_setup_teardown(test_a_newer_era_starts_the_inbox_again, mw_setup,
                                        mw_teardown),
        cmocka_unit_test_setup_teardown(test_a_fence_moves_inbox_positions_past_what_devices_hold,
                                        mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(
            test_a_loss_of_the_users_record_keeps_positions_past_what_devices_hold, mw_setup,
            mw_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
