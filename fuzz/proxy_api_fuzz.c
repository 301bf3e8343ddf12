/*
 * proxy_api_fuzz — framespec proxy's Toxiproxy API (harness/proxy_api.c px_api_handle()) on any
 * requests, without HTTP and without sockets (px_relay_dry(): proxies bind nothing).
 *
 * Input: requests separated by a line "---"; each is "METHOD PATH" on its first line, then its
 * body (seeds: corpus/proxy_api_fuzz/, the requests of Toxiproxy's clients). Every request gets
 * an answer, never a crash, hang or leak: a status from the set Toxiproxy uses, a JSON body
 * (an object or an array) unless the status is 204, 404 on an unknown path or 405; an error body
 * has the shape {"error": "...", "status": N} with N the status.
 */
#define _GNU_SOURCE /* memmem */
#include <jansson.h>
#include <string.h>

#include "fuzz_common.h"
#include "proxy_api.h"

static void check(const px_api_reply *r)
{
    json_t *j = NULL;
    FUZZ_CHECK(r->status == 200 || r->status == 201 || r->status == 204 || r->status == 400 ||
                   r->status == 404 || r->status == 405 || r->status == 409 || r->status == 500,
               "status %d", r->status);
    if (r->status == 204 || r->status == 405) {
        FUZZ_CHECK(r->body == NULL, "a %d with a body", r->status);
        return;
    }
    FUZZ_CHECK(r->body != NULL && r->len == strlen(r->body), "status %d without a body",
               r->status);
    if (r->status == 404 && !strcmp(r->body, "404 page not found\n"))
        return;
    j = json_loads(r->body, 0, NULL);
    FUZZ_CHECK(j != NULL && (json_is_object(j) || json_is_array(j)), "not JSON: %s", r->body);
    if (r->status >= 400) {
        json_t *st = json_object_get(j, "status");
        FUZZ_CHECK(json_is_string(json_object_get(j, "error")) && json_is_integer(st) &&
                       json_integer_value(st) == r->status,
                   "error shape: %s", r->body);
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[200];
    px_relay *r = px_relay_new(wire_default_framing(), 65536, 16, err, sizeof err);
    const char *p = (const char *)data, *end = p + size;
    FUZZ_CHECK(r != NULL, "px_relay_new: %s", err);
    px_relay_dry(r);
    while (p < end) {
        const char *sep = memmem(p, (size_t)(end - p), "\n---\n", 5);
        const char *stop = sep ? sep : end, *nl = memchr(p, '\n', (size_t)(stop - p));
        const char *line_end = nl ? nl : stop, *sp = memchr(p, ' ', (size_t)(line_end - p));
        char method[16], path[256];
        px_api_reply rep;
        if (sp && sp - p < (long)sizeof method && line_end - sp - 1 < (long)sizeof path &&
            !memchr(p, '\0', (size_t)(line_end - p))) {
            memcpy(method, p, (size_t)(sp - p));
            method[sp - p] = '\0';
            memcpy(path, sp + 1, (size_t)(line_end - sp - 1));
            path[line_end - sp - 1] = '\0';
            px_api_handle(r, method, path, nl ? nl + 1 : NULL, nl ? (size_t)(stop - nl - 1) : 0,
                          &rep);
            check(&rep);
            free(rep.body);
        }
        p = sep ? sep + 5 : end;
    }
    px_relay_free(r);
    return 0;
}
