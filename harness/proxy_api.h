/*
 * proxy_api.h — `framespec proxy --api`: Toxiproxy's HTTP API (github.com/Shopify/toxiproxy,
 * api.go), so that its clients (Go, Ruby, Python, Java, Node, .NET) drive framespec's proxy
 * unchanged: GET/POST /proxies, GET/POST/PATCH/DELETE /proxies/{name}, POST /populate,
 * GET/POST /proxies/{name}/toxics, GET/POST/PATCH/DELETE /proxies/{name}/toxics/{toxic},
 * POST /reset, GET /version, with its JSON shapes and status codes (201 for a created proxy, 200
 * for a created toxic, 204 for a delete and /reset) and its error shape
 * {"error": "...", "status": N}. HTTP with libmicrohttpd, JSON with jansson.
 *
 * Where framespec differs, on purpose: a proxy created without `listen` listens on
 * 127.0.0.1:0 (Toxiproxy: every interface); an unknown attribute, an out-of-range value or a
 * frame toxic the framing cannot carry is a 400 naming it (Toxiproxy ignores unknown fields);
 * /version answers {"version": "framespec X"}.
 */
#ifndef FRAMESPEC_PROXY_API_H
#define FRAMESPEC_PROXY_API_H

#include <stddef.h>

#include "proxy_relay.h"

/* A request body over this is refused (413). */
#define PX_API_MAX_BODY (1u << 20)

/* The answer to one request: status, body (malloc'd, the caller frees; may be NULL: none),
 * Content-Type (static). */
typedef struct {
    int status;
    char *body;
    size_t len;
    const char *type;
} px_api_reply;

/* Answer method url (decoded path) with body[0..len) (not NUL-terminated; may be NULL) on
 * relay r: what the HTTP layer sends. Never fails: out of memory is a 500. */
void px_api_handle(px_relay *r, const char *method, const char *url, const char *body, size_t len,
                   px_api_reply *out);

typedef struct px_api px_api;
/* Serve the API on addr ("HOST:PORT" or "PORT" on 127.0.0.1; port 0: any) in a thread of its
 * own. The address bound is written to bound[0..bn). NULL with why in err[0..n). */
px_api *px_api_start(px_relay *r, const char *addr, char *bound, size_t bn, char *err, size_t n);
/* Stop serving (waits for the thread) and free. */
void px_api_stop(px_api *a);

#endif
