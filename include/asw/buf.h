/*
 * buf.h -- a growable byte buffer, the one output type of every encoder.
 */
#ifndef ASW_BUF_H
#define ASW_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct asw_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} asw_buf;

#define ASW_BUF_INIT                                                                               \
    { NULL, 0, 0 }

/* Make room for n more bytes (aborts on OOM). */
void asw_buf_reserve(asw_buf *b, size_t n);
void asw_buf_append(asw_buf *b, const void *p, size_t n);
void asw_buf_append_str(asw_buf *b, const char *s);
/* Append printf-formatted text (no NUL). */
__attribute__((format(printf, 2, 3))) void asw_buf_printf(asw_buf *b, const char *fmt, ...);
/* Forget the contents, keep the memory. */
void asw_buf_reset(asw_buf *b);
/* Free the memory; the buffer is empty and reusable afterwards. */
void asw_buf_free(asw_buf *b);

#endif /* ASW_BUF_H */
