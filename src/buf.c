/*
 * buf.c -- the growable byte buffer every encoder writes into.
 */
#include "asw/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"

void asw_buf_reserve(asw_buf *b, size_t n) {
    if (b->cap - b->len >= n)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n)
        cap *= 2;
    b->data = asw_realloc(b->data, cap);
    b->cap = cap;
}

void asw_buf_append(asw_buf *b, const void *p, size_t n) {
    if (n == 0)
        return;
    asw_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void asw_buf_append_str(asw_buf *b, const char *s) {
    asw_buf_append(b, s, strlen(s));
}

void asw_buf_printf(asw_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    asw_buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void asw_buf_reset(asw_buf *b) {
    b->len = 0;
}

void asw_buf_free(asw_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
