/*
 * test_registry.c -- the Schema Registry client against a scripted HTTP
 * server on 127.0.0.1 (a thread of this test): each connection gets the next
 * scripted answer (or none: the connection is held open past the client's
 * timeout), and the requests are kept to check what the client sent.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "asw/config.h"
#include "asw/registry.h"

#define MAX_STEPS 8

typedef struct step {
    int status; /* 0: answer nothing, hold the connection for hold_ms */
    const char *body;
    int hold_ms;
} step;

typedef struct fixture {
    int listen_fd, port;
    step steps[MAX_STEPS];
    int n_steps, served;
    char requests[MAX_STEPS][4096];
    pthread_t thread;
} fixture;

static fixture fx;

static void *serve(void *arg) {
    (void)arg;
    for (int i = 0; i < fx.n_steps; i++) {
        int fd = accept(fx.listen_fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        size_t got = 0;
        char *req = fx.requests[i];
        /* Read the head and, for a POST, its body (Content-Length). */
        for (;;) {
            ssize_t n = read(fd, req + got, sizeof fx.requests[i] - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            req[got] = '\0';
            char *end = strstr(req, "\r\n\r\n");
            if (!end)
                continue;
            const char *cl = strstr(req, "Content-Length: ");
            size_t want = cl ? (size_t)atol(cl + 16) : 0;
            if (got >= (size_t)(end + 4 - req) + want)
                break;
        }
        const step *s = &fx.steps[i];
        if (s->status == 0) {
            struct timespec ts = {s->hold_ms / 1000, (long)(s->hold_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        } else {
            char out[4096];
            int n = snprintf(out, sizeof out,
                             "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                             s->status, strlen(s->body), s->body);
            cr_assert_eq(write(fd, out, (size_t)n), n);
        }
        fx.served++;
        close(fd);
    }
    return NULL;
}

/* Start the server with these answers, in order. */
static void script(const step *steps, int n) {
    memset(&fx, 0, sizeof fx);
    fx.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fx.listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fx.listen_fd, 8), 0);
    socklen_t len = sizeof a;
    getsockname(fx.listen_fd, (struct sockaddr *)&a, &len);
    fx.port = ntohs(a.sin_port);
    memcpy(fx.steps, steps, (size_t)n * sizeof *steps);
    fx.n_steps = n;
    pthread_create(&fx.thread, NULL, serve, NULL);
}

static void finish(void) {
    shutdown(fx.listen_fd, SHUT_RDWR);
    close(fx.listen_fd);
    pthread_join(fx.thread, NULL);
}

static asw_registry *client(const char *user_info) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", fx.port);
    asw_registry_options o = {0};
    o.url = url;
    o.user_info = (char *)user_info;
    o.connect_timeout_ms = 1000;
    o.request_timeout_ms = 300;
    o.retries = 2;
    o.retry_backoff_ms = 10;
    o.retry_backoff_max_ms = 20;
    char err[256];
    asw_registry *r = asw_registry_new(&o, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    return r;
}

static const char *schema = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}";

Test(registry, register_posts_under_the_subject_and_caches_the_id) {
    step s[] = {{200, "{\"id\":42}", 0}};
    script(s, 1);
    asw_registry *r = client(NULL);
    int32_t id = 0;
    char err[512] = "";
    cr_assert_eq(asw_registry_register(r, "t.in-value", schema, &id, err, sizeof err),
                 ASW_REGISTRY_OK, "%s", err);
    cr_assert_eq(id, 42);
    id = 0;
    cr_assert_eq(asw_registry_register(r, "t.in-value", schema, &id, err, sizeof err),
                 ASW_REGISTRY_OK);
    cr_assert_eq(id, 42);
    const char *text;
    cr_assert_eq(asw_registry_lookup(r, 42, &text, err, sizeof err), ASW_REGISTRY_OK);
    cr_assert_str_eq(text, schema);
    cr_assert_eq(asw_registry_requests(r), 1, "the second register and the lookup are cached");
    finish();
    const char *req = fx.requests[0];
    cr_assert(strncmp(req, "POST /subjects/t.in-value/versions HTTP/1.1\r\n", 45) == 0, "%s", req);
    cr_assert(strstr(req, "Content-Type: application/vnd.schemaregistry.v1+json\r\n"), "%s", req);
    cr_assert(strstr(req, "{\"schema\":\"{\\\"type\\\":\\\"record\\\""), "%s", req);
    cr_assert(!strstr(req, "Authorization:"), "no credentials configured");
    asw_registry_destroy(r);
}

Test(registry, lookup_answers_the_schema_and_sends_basic_auth) {
    step s[] = {{200, "{\"schema\":\"{\\\"type\\\":\\\"string\\\"}\"}", 0}};
    script(s, 1);
    asw_registry *r = client("alice:s3cret");
    const char *text = NULL;
    char err[512] = "";
    cr_assert_eq(asw_registry_lookup(r, 7, &text, err, sizeof err), ASW_REGISTRY_OK, "%s", err);
    cr_assert_str_eq(text, "{\"type\":\"string\"}");
    finish();
    cr_assert(strncmp(fx.requests[0], "GET /schemas/ids/7 HTTP/1.1\r\n", 29) == 0);
    /* base64("alice:s3cret") */
    cr_assert(strstr(fx.requests[0], "Authorization: Basic YWxpY2U6czNjcmV0\r\n"), "%s",
              fx.requests[0]);
    asw_registry_destroy(r);
}

Test(registry, a_404_is_not_found_at_once_and_not_cached) {
    step s[] = {{404, "{\"error_code\":40403,\"message\":\"Schema 9 not found\"}", 0},
                {404, "{\"error_code\":40403,\"message\":\"Schema 9 not found\"}", 0}};
    script(s, 2);
    asw_registry *r = client(NULL);
    const char *text;
    char err[512] = "";
    cr_assert_eq(asw_registry_lookup(r, 9, &text, err, sizeof err), ASW_REGISTRY_E_NOT_FOUND);
    cr_assert_eq(asw_registry_requests(r), 1, "a 404 is not retried");
    cr_assert(strstr(err, "GET /schemas/ids/9: HTTP 404: Schema 9 not found"), "%s", err);
    cr_assert_eq(asw_registry_lookup(r, 9, &text, err, sizeof err), ASW_REGISTRY_E_NOT_FOUND);
    cr_assert_eq(asw_registry_requests(r), 2, "a 404 is asked again: the id may come");
    finish();
    asw_registry_destroy(r);
}

Test(registry, a_503_is_retried_until_it_passes) {
    step s[] = {{503, "{\"error_code\":50301,\"message\":\"busy\"}", 0},
                {500, "oops", 0},
                {200, "{\"id\":3}", 0}};
    script(s, 3);
    asw_registry *r = client(NULL);
    int32_t id = 0;
    char err[512] = "";
    cr_assert_eq(asw_registry_register(r, "s", schema, &id, err, sizeof err), ASW_REGISTRY_OK, "%s",
                 err);
    cr_assert_eq(id, 3);
    cr_assert_eq(asw_registry_requests(r), 3);
    finish();
    asw_registry_destroy(r);
}

Test(registry, a_timeout_on_every_try_is_unavailable_after_the_retries) {
    step s[] = {{0, NULL, 600}, {0, NULL, 600}, {0, NULL, 600}};
    script(s, 3);
    asw_registry *r = client(NULL);
    const char *text;
    char err[512] = "";
    cr_assert_eq(asw_registry_lookup(r, 5, &text, err, sizeof err), ASW_REGISTRY_E_UNAVAILABLE);
    cr_assert_eq(asw_registry_requests(r), 3, "1 try + 2 retries");
    cr_assert(strstr(err, "timed out") || strstr(err, "Timeout"), "%s", err);
    cr_assert(strstr(err, "(3 tries)"), "%s", err);
    finish();
    asw_registry_destroy(r);
}

Test(registry, refused_credentials_are_not_retried_and_never_shown) {
    step s[] = {{401, "{\"error_code\":40101,\"message\":\"Unauthorized\"}", 0}};
    script(s, 1);
    char url[96];
    snprintf(url, sizeof url, "http://bob:pw1@127.0.0.1:%d/", fx.port);
    asw_registry_options o = {.url = url,
                              .connect_timeout_ms = 1000,
                              .request_timeout_ms = 1000,
                              .retries = 3,
                              .retry_backoff_ms = 10,
                              .retry_backoff_max_ms = 10};
    char err[512] = "";
    asw_registry *r = asw_registry_new(&o, err, sizeof err);
    int32_t id;
    cr_assert_eq(asw_registry_register(r, "s", schema, &id, err, sizeof err),
                 ASW_REGISTRY_E_REFUSED);
    cr_assert_eq(asw_registry_requests(r), 1);
    cr_assert(strstr(err, "HTTP 401: Unauthorized"), "%s", err);
    cr_assert(!strstr(err, "pw1") && !strstr(err, "bob"), "%s", err);
    cr_assert(!strstr(asw_registry_url(r), "pw1"), "%s", asw_registry_url(r));
    finish();
    asw_registry_destroy(r);
}

Test(registry, nothing_listening_is_unavailable) {
    step none[] = {{0, NULL, 0}};
    script(none, 1);
    finish(); /* the port is free again: nothing listens */
    asw_registry *r = client(NULL);
    const char *text;
    char err[512] = "";
    cr_assert_eq(asw_registry_lookup(r, 1, &text, err, sizeof err), ASW_REGISTRY_E_UNAVAILABLE);
    cr_assert_eq(asw_registry_requests(r), 3);
    cr_assert(strstr(err, "Couldn't connect"), "%s", err);
    asw_registry_destroy(r);
}

Test(registry, options_come_from_the_schema_registry_keys) {
    asw_config *cfg = asw_config_new();
    asw_registry_options o;
    cr_assert_not(asw_registry_options_from_config(cfg, &o), "no URL: no registry");
    char err[256];
    cr_assert_eq(asw_config_set(cfg, "schema.registry.url", "https://sr:8081//", err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(
        asw_config_set(cfg, "schema.registry.basic.auth.user.info", "u:p", err, sizeof err), 0,
        "%s", err);
    cr_assert_eq(asw_config_set(cfg, "schema.registry.ssl.ca.location", "/ca.pem", err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(asw_config_set(cfg, "schema.registry.max.retries", "7", err, sizeof err), 0);
    cr_assert_neq(asw_config_set(cfg, "schema.registry.max.retries", "-1", err, sizeof err), 0);
    cr_assert(asw_registry_options_from_config(cfg, &o));
    cr_assert_str_eq(o.url, "https://sr:8081");
    cr_assert_str_eq(o.user_info, "u:p");
    cr_assert_str_eq(o.ca_location, "/ca.pem");
    cr_assert_null(o.cert_location);
    cr_assert_eq(o.retries, 7);
    cr_assert_eq(o.connect_timeout_ms, 2000);
    cr_assert_eq(o.request_timeout_ms, 10000);
    asw_registry_options_clear(&o);
    asw_config_destroy(cfg);
    cr_assert(asw_config_is_secret("schema.registry.basic.auth.user.info"));
    cr_assert(asw_config_is_secret("schema.registry.ssl.key.password"));
}
