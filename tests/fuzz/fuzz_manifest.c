/* tests/fuzz/fuzz_manifest.c — libFuzzer target: manifest YAML (operator-written files). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cluster/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static manifest_t m;
    char err[MANIFEST_ERR_BYTES_MAX];
    manifest_parse((const char *)data, size, "fuzz.yaml", &m, err, sizeof err);
    return 0;
}
