/*
 * http.h -- the worker's HTTP endpoint (libmicrohttpd, a thread of its own):
 * GET requests answered by a handler from whatever state it can read
 * without blocking. Off unless http.listen is set.
 */
#ifndef ASW_HTTP_H
#define ASW_HTTP_H

#include <stddef.h>

#include "asw/buf.h"

typedef struct asw_http asw_http;

/* What a handler answers: status, content type (static) and body. */
typedef struct asw_http_reply {
    int status;
    const char *content_type;
    asw_buf body;
} asw_http_reply;

/* Called on the HTTP thread for each GET (or HEAD) request; reply->body
 * starts empty, status 200, content type text/plain. */
typedef void asw_http_handler(void *ctx, const char *path, asw_http_reply *reply);

/*
 * Listen on "host:port" (an IPv4 address or a host name; port 0 picks a
 * free one) and serve requests with fn. Returns the server, or NULL with a
 * message in err.
 */
asw_http *asw_http_start(const char *listen, asw_http_handler *fn, void *ctx, char *err,
                         size_t errlen);

/* The port it listens on. */
int asw_http_port(const asw_http *h);

/* Stop serving (waits for requests under way); NULL is a no-op. */
void asw_http_stop(asw_http *h);

#endif /* ASW_HTTP_H */
