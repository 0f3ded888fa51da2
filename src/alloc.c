/*
 * alloc.c -- allocation helpers implementing the out-of-memory policy of
 * alloc.h: print one line and abort.
 */
#include "asw/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n) {
    fprintf(stderr, "level=fatal event=out_of_memory bytes=%zu\n", n);
    abort();
}

void *asw_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *asw_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *asw_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *asw_strndup(const char *s, size_t n) {
    if (!s)
        return NULL;
    char *d = asw_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *asw_strdup(const char *s) {
    return s ? asw_strndup(s, strlen(s)) : NULL;
}
