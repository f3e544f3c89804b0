/* The unit tests' one assertion: counts, prints the failing line, goes on.
 * Each test ends with printf("%d passed, %d failed\n", passed, failed). */
#ifndef WSGIHOST_TEST_CHECK_H
#define WSGIHOST_TEST_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
        }                                                                                          \
    } while (0)

#endif
