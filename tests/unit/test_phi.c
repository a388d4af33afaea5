/* tests/unit/test_phi.c — the phi-accrual detector on a fake clock: it matches Akka's formula,
 * stays low for a steady peer, grows with silence, and keeps an exact bounded history. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>

#include <cmocka.h>

#include "runtime/errors.h"
#include "runtime/phi.h"
#include "runtime/rng.h"

#define MS 1000000ull

static phi_config_t s_config(void)
{
    return (phi_config_t){
        .first_estimate_ns = 500 * MS,
        .min_std_dev_ns = 100 * MS,
        .acceptable_pause_ns = 1000 * MS,
        .max_interval_ns = 5000 * MS,
    };
}

/* Akka's PhiAccrualFailureDetector.phi, verbatim. */
static double s_akka_phi(double t, double mean, double sigma)
{
    double y = (t - mean) / sigma;
    double e = exp(-y * (1.5976 + 0.070566 * y * y));
    if (t > mean)
        return -log10(e / (1.0 + e));
    return -log10(1.0 - 1.0 / (1.0 + e));
}

static uint64_t s_beat_steadily(phi_t *p, uint64_t t, int beats, uint64_t interval_ns)
{
    for (int i = 0; i < beats; i++, t += interval_ns)
        phi_heartbeat(p, t);
    return t - interval_ns; /* the last arrival */
}

static void test_phi_is_zero_before_the_first_heartbeat(void **state)
{
    (void)state;
    phi_t p;
    phi_config_t cfg = s_config();
    assert_int_equal(phi_init(&p, &cfg), ROOST_OK);
    assert_false(phi_has_heartbeat(&p));
    assert_true(phi_value(&p, 0) == 0.0);
    assert_true(phi_value(&p, 3600000 * MS) == 0.0);
}

static void test_phi_matches_akkas_formula(void **state)
{
    (void)state;
    phi_t p;
    phi_config_t cfg = s_config();
    assert_int_equal(phi_init(&p, &cfg), ROOST_OK);
    roost_rng_t rng;
    roost_rng_seed(&rng, 11);
    uint64_t t = 1000 * MS;
    for (int i = 0; i < 50; i++, t += (400 + roost_rng_below(&rng, 200)) * MS)
        phi_heartbeat(&p, t);
    uint64_t last = p.last_ns;
    double mean = phi_mean_ns(&p) + (double)cfg.acceptable_pause_ns;
    double sigma = fmax(phi_std_dev_ns(&p), (double)cfg.min_std_dev_ns);
    for (uint64_t dt = 0; dt <= 2500 * MS; dt += 50 * MS) {
        double want = s_akka_phi((double)dt, mean, sigma);
        double got = phi_value(&p, last + dt);
        assert_true(fabs(got - want) <= 1e-9 * fmax(1.0, want));
    }
}

static void test_steady_heartbeats_keep_phi_low(void **state)
{
    (void)state;
    phi_t p;
    phi_config_t cfg = s_config();
    assert_int_equal(phi_init(&p, &cfg), ROOST_OK);
    uint64_t last = s_beat_steadily(&p, 0, 200, 500 * MS);
    assert_true(fabs(phi_mean_ns(&p) - 500.0 * MS) < 1.0 * MS);
    assert_true(phi_value(&p, last + 500 * MS) < 0.1);
    /* Even a heartbeat two intervals late is far from any sane threshold. */
    assert_true(phi_value(&p, last + 1000 * MS) < 1.0);
}

static void test_phi_grows_with_silence_and_crosses_8_after_3_intervals(void **state)
{
    (void)state;
    phi_t p;
    phi_config_t cfg = s_config();
    assert_int_equal(phi_init(&p, &cfg), ROOST_OK);
    uint64_t last = s_beat_steadily(&p, 0, 100, 500 * MS);
    double prev = 0;
    uint64_t crossed_ms = 0;
    for (uint64_t ms = 0; ms <= 10000; ms += 10) {
        double v = phi_value(&p, last + ms * MS);
        assert_true(v >= prev && isfinite(v));
        if (crossed_ms == 0 && v > 8.0)
            crossed_ms = ms;
        prev = v;
    }
    /* mean 500 + pause 1000 + about 5.3 sigma of 100 ms: a little over 2 s. */
    assert_in_range(crossed_ms, 1500, 5000);
    assert_true(prev > 100.0); /* finite far past the threshold (Akka's would be +Inf) */
}

static void test_history_is_bounded_and_its_mean_exact(void **state)
{
    (void)state;
    phi_t p;
    phi_config_t cfg = s_config();
    assert_int_equal(phi_init(&p, &cfg), ROOST_OK);
    enum { BEATS = PHI_SAMPLES_MAX * 3 + 7 };
    static uint64_t intervals_us[BEATS];
    roost_rng_t rng;
    roost_rng_seed(&rng, 5);
    uint64_t t = 0;
    phi_heartbeat(&p, t);
    for (int i = 0; i < BEATS; i++) {
        intervals_us[i] = 300000 + roost_rng_below(&rng, 400000);
        t += intervals_us[i] * 1000;
        phi_heartbeat(&p, t);
    }
    assert_int_equal(p.count, PHI_SAMPLES_MAX);
    double sum = 0, sumsq = 0;
    for (int i = BEATS - PHI_SAMPLES_MAX; i < BEATS; i++) {
        sum += (double)intervals_us[i];
        sumsq += (double)intervals_us[i] * (double)intervals_us[i];
    }
    double mean = sum / PHI_SAMPLES_MAX;
    double sd = sqrt(sumsq / PHI_SAMPLES_MAX - mean * mean);
    assert_true(fabs(phi_mean_ns(&p) - mean * 1000) < 1.0);
    assert_true(fabs(phi_std_dev_ns(&p) - sd * 1000) < 1000.0);
}

static void test_gaps_longer_than_max_interval_are_not_samples(void **state)
{
    (void)state;
    phi_t p;
    phi_config_t cfg = s_config();
    assert_int_equal(phi_init(&p, &cfg), ROOST_OK);
    uint64_t last = s_beat_steadily(&p, 0, 50, 500 * MS);
    uint32_t count = p.count;
    double mean = phi_mean_ns(&p);
    phi_heartbeat(&p, last + 60000 * MS); /* back after a minute: a restart */
    assert_int_equal(p.count, count);
    assert_true(phi_mean_ns(&p) == mean);
    assert_true(phi_value(&p, last + 60500 * MS) < 0.1); /* measured from the return */
    /* Time going backwards counts as a zero interval, not a huge one. */
    phi_heartbeat(&p, last);
    assert_int_equal(p.count, count + 1 > PHI_SAMPLES_MAX ? PHI_SAMPLES_MAX : count + 1);
}

static void test_invalid_configs_are_rejected(void **state)
{
    (void)state;
    phi_t p;
    phi_config_t cfg = s_config();
    cfg.first_estimate_ns = 0;
    assert_int_equal(phi_init(&p, &cfg), ROOST_EINVAL);
    cfg = s_config();
    cfg.min_std_dev_ns = 0;
    assert_int_equal(phi_init(&p, &cfg), ROOST_EINVAL);
    cfg = s_config();
    cfg.max_interval_ns = PHI_INTERVAL_US_MAX * 1000 + 1000;
    assert_int_equal(phi_init(&p, &cfg), ROOST_EINVAL);
    cfg = s_config();
    cfg.first_estimate_ns = cfg.max_interval_ns + 1;
    assert_int_equal(phi_init(&p, &cfg), ROOST_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phi_is_zero_before_the_first_heartbeat),
        cmocka_unit_test(test_phi_matches_akkas_formula),
        cmocka_unit_test(test_steady_heartbeats_keep_phi_low),
        cmocka_unit_test(test_phi_grows_with_silence_and_crosses_8_after_3_intervals),
        cmocka_unit_test(test_history_is_bounded_and_its_mean_exact),
        cmocka_unit_test(test_gaps_longer_than_max_interval_are_not_samples),
        cmocka_unit_test(test_invalid_configs_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
