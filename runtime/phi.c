/* runtime/phi.c — phi-accrual suspicion for one peer; see phi.h for the model and its contract.
 *
 * Akka computes, with e = exp(-y (1.5976 + 0.070566 y^2)),
 *   phi = -log10(e / (1 + e))          when t > mean,
 *   phi = -log10(1 - 1 / (1 + e))      otherwise.
 * Both branches equal -log10(e / (1 + e)) = log10(1 + exp(k)), k = y (1.5976 + 0.070566 y^2):
 * a softplus, which s_softplus evaluates without overflow for any k. So phi here is Akka's
 * value, finite even far past the threshold (Akka returns +Inf there), and monotone in t
 * because k is increasing in y.
 */
#include "runtime/phi.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "runtime/errors.h"

#define NS_PER_US 1000u

/* log(1 + exp(k)) for any finite k, without overflow or loss of precision. */
static double s_softplus(double k)
{
    if (k > 0)
        return k + log1p(exp(-k));
    return log1p(exp(k));
}

static void s_push(phi_t *self, uint64_t interval_us)
{
    assert(interval_us <= PHI_INTERVAL_US_MAX);
    if (self->count == PHI_SAMPLES_MAX) {
        uint64_t old = self->samples_us[self->head];
        self->sum_us -= old;
        self->sumsq_us2 -= old * old;
    } else {
        self->count++;
    }
    self->samples_us[self->head] = (uint32_t)interval_us;
    self->sum_us += interval_us;
    self->sumsq_us2 += interval_us * interval_us;
    self->head = (self->head + 1) % PHI_SAMPLES_MAX;
    assert(self->count <= PHI_SAMPLES_MAX);
}

int phi_init(phi_t *self, const phi_config_t *cfg)
{
    assert(self && cfg);
    if (cfg->first_estimate_ns == 0 || cfg->min_std_dev_ns == 0 ||
        cfg->max_interval_ns / NS_PER_US > PHI_INTERVAL_US_MAX ||
        cfg->first_estimate_ns > cfg->max_interval_ns)
        return ROOST_EINVAL;
    memset(self, 0, sizeof *self);
    self->cfg = *cfg;
    /* Akka's seed: a distribution centred on the estimate with sigma = estimate / 4. */
    uint64_t mean_us = cfg->first_estimate_ns / NS_PER_US;
    uint64_t sigma_us = mean_us / 4;
    s_push(self, mean_us - sigma_us);
    s_push(self,
           mean_us + sigma_us > PHI_INTERVAL_US_MAX ? PHI_INTERVAL_US_MAX : mean_us + sigma_us);
    return ROOST_OK;
}

void phi_heartbeat(phi_t *self, uint64_t now_ns)
{
    assert(self);
    if (self->has_last) {
        uint64_t interval_ns = now_ns > self->last_ns ? now_ns - self->last_ns : 0;
        if (interval_ns <= self->cfg.max_interval_ns)
            s_push(self, interval_ns / NS_PER_US);
    }
    self->last_ns = now_ns;
    self->has_last = true;
}

double phi_mean_ns(const phi_t *self)
{
    assert(self->count > 0);
    return (double)self->sum_us / self->count * NS_PER_US;
}

double phi_std_dev_ns(const phi_t *self)
{
    assert(self->count > 0);
    double mean_us = (double)self->sum_us / self->count;
    double var_us2 = (double)self->sumsq_us2 / self->count - mean_us * mean_us;
    return var_us2 > 0 ? sqrt(var_us2) * NS_PER_US : 0.0;
}

double phi_value(const phi_t *self, uint64_t now_ns)
{
    assert(self);
    if (!self->has_last)
        return 0.0;
    double t = now_ns > self->last_ns ? (double)(now_ns - self->last_ns) : 0.0;
    double mean = phi_mean_ns(self) + (double)self->cfg.acceptable_pause_ns;
    double sigma = fmax(phi_std_dev_ns(self), (double)self->cfg.min_std_dev_ns);
    assert(sigma > 0);
    double y = (t - mean) / sigma;
    double k = y * (1.5976 + 0.070566 * y * y);
    double phi = s_softplus(k) / M_LN10;
    assert(phi >= 0 && isfinite(phi));
    return phi;
}

bool phi_has_heartbeat(const phi_t *self)
{
    return self->has_last;
}
