/*
 * http.c -- the HTTP endpoint on libmicrohttpd; see http.h.
 */
#include "asw/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asw/alloc.h"

struct asw_http {
    struct MHD_Daemon *d;
    asw_http_handler *fn;
    void *ctx;
    int port;
};

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state) {
    (void)version, (void)upload;
    asw_http *h = cls;
    /* The first call for a request only announces it. */
    if (*state == NULL) {
        *state = h;
        return MHD_YES;
    }
    asw_http_reply r = {200, "text/plain; charset=utf-8", ASW_BUF_INIT};
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        r.status = 405;
        asw_buf_append(&r.body, "only GET and HEAD\n", 18);
    } else if (*upload_size != 0) {
        r.status = 400;
        asw_buf_append(&r.body, "no body expected\n", 17);
        *upload_size = 0;
    } else {
        h->fn(h->ctx, url, &r);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r.body.len, r.body.data, MHD_RESPMEM_MUST_COPY);
    asw_buf_free(&r.body);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)r.status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* "host:port" into an IPv4 address. Returns 0, or -1 with a message. */
static int parse_listen(const char *listen, struct sockaddr_in *sa, char *err, size_t errlen) {
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || !colon[1]) {
        snprintf(err, errlen, "http.listen '%s': expected host:port", listen);
        return -1;
    }
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) {
        snprintf(err, errlen, "http.listen '%s': bad port", listen);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "http.listen '%s': %s", listen, gai_strerror(rc));
        return -1;
    }
    memcpy(sa, res->ai_addr, sizeof *sa);
    freeaddrinfo(res);
    sa->sin_port = htons((uint16_t)port);
    return 0;
}

asw_http *asw_http_start(const char *listen, asw_http_handler *fn, void *ctx, char *err,
                         size_t errlen) {
    struct sockaddr_in sa;
    if (parse_listen(listen, &sa, err, errlen) != 0)
        return NULL;
    asw_http *h = asw_calloc(1, sizeof *h);
    h->fn = fn;
    h->ctx = ctx;
    /* One thread of its own, a few connections: scrapes and probes. */
    h->d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL, answer, h,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
                         16u, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen,
                 "http.listen '%s': cannot listen there (in use, or not an address "
                 "of this host)",
                 listen);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : ntohs(sa.sin_port);
    return h;
}

int asw_http_port(const asw_http *h) {
    return h->port;
}

void asw_http_stop(asw_http *h) {
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
