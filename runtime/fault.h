/* runtime/fault.h — fault points: named places where the code takes its failure path on
 * demand, so tests (and the simulator, like FoundationDB's BUGGIFY) can reach paths a healthy
 * machine rarely takes: a disk read error, a lost reply.
 *
 * A fault point sits exactly where the real failure would surface and takes the same path:
 *
 *     int rc = store_get(...);
 *     if (rc == ROOST_OK && roost_fault("conv.read_record")) { free(val); rc = ROOST_EIO; }
 *
 * Every point is off — one relaxed atomic load — unless armed:
 *   - by the environment, read once at the first check, in test builds only (CMake
 *     ROOST_FAULT_INJECTION, on with sanitizers, like cluster/faults.h):
 *     ROOST_FAULT_POINTS="site[:count],…" (count: how many times the point fires before it
 *     disarms; omitted: every time). This is how an integration test arms a real roostd;
 *     roostd logs the armed sites at startup. The sites are listed in docs/operations.md.
 *   - in-process by roost_fault_arm (unit tests);
 *   - by a hook that decides every check (the simulator's seeded choice), which replaces the
 *     table while installed.
 * Thread-safe. At most ROOST_FAULT_SITES_MAX sites armed at once.
 */
#ifndef ROOST_FAULT_H
#define ROOST_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { ROOST_FAULT_SITES_MAX = 16, ROOST_FAULT_SITE_BYTES_MAX = 48 };

/* Should the point `site` fail this time? */
bool roost_fault(const char *site);

/* Arms `site` to fire `count` times (< 0: every time; 0: disarms it). Returns 0, or
 * ROOST_ELIMIT when ROOST_FAULT_SITES_MAX sites are armed, ROOST_EINVAL for a bad name. */
int roost_fault_arm(const char *site, int64_t count);

/* Disarms every site (the environment is not read again). */
void roost_fault_reset(void);

/* A hook deciding every check while installed (NULL uninstalls it). */
typedef bool (*roost_fault_hook_fn)(void *arg, const char *site);
void roost_fault_set_hook(roost_fault_hook_fn fn, void *arg);

/* Writes the armed sites ("a,b:3") into out; returns how many are armed (after reading the
 * environment). */
int roost_fault_describe(char *out, size_t cap);

#endif
