/* tests/support/tmpdir.h — removal of a test's mkdtemp directory (kept when ROOST_KEEP_TMP is
 * set, for looking at a failure's logs and data). Header-only. */
#ifndef ROOST_TEST_TMPDIR_H
#define ROOST_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

static inline void test_rmtree(const char *dir)
{
    char cmd[256];
    if (getenv("ROOST_KEEP_TMP")) {
        fprintf(stderr, "kept %s\n", dir);
        return;
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

#endif
