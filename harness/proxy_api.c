/*
 * proxy_api.c — Toxiproxy's HTTP API over framespec's relay (proxy_api.h): the requests answered
 * without HTTP (px_api_handle(), which fuzz/proxy_api_fuzz.c drives), and libmicrohttpd around
 * it. Shapes, codes and messages follow Toxiproxy's api.go and its api_test.go.
 */
#include "proxy_api.h"

#include <ctype.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sock.h"
#include "version.h"

#define JSON_TYPE "application/json"

/* ---- replies ---- */

static void reply_json(px_api_reply *out, int status, json_t *j)
{
    out->status = status;
    out->type = JSON_TYPE;
    out->body = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    out->len = out->body ? strlen(out->body) : 0;
    if (j && out->body == NULL) {
        out->status = 500;
        out->type = "text/plain";
    }
    json_decref(j);
}

/* Toxiproxy's error shape: {"error": msg, "status": status} (api.go ApiError). */
static void reply_error(px_api_reply *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_error(px_api_reply *out, int status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_json(out, status, json_pack("{s:s,s:i}", "error", msg, "status", status));
}

static json_t *toxic_json(const px_toxic *t)
{
    json_t *attrs = json_object();
    for (int i = 0; i < TX_MAX_ATTRS && tx_defs[t->type].attrs[i].name; i++) {
        const tx_attr *a = &tx_defs[t->type].attrs[i];
        json_object_set_new(attrs, a->name, a->words ? json_string(a->words[t->attr[i]])
                                                     : json_integer(t->attr[i]));
    }
    return json_pack("{s:o,s:s,s:s,s:s,s:f}", "attributes", attrs, "name", t->name, "type",
                     tx_defs[t->type].name, "stream", px_stream_name(t->stream), "toxicity",
                     t->toxicity);
}

/* Toxiproxy lists a proxy's upstream toxics first, then its downstream ones. */
static json_t *toxics_json(const px_info *p)
{
    json_t *a = json_array();
    for (int s = PX_UP; s <= PX_DOWN; s++)
        for (size_t i = 0; i < p->ntox; i++)
            if (p->toxics[i].stream == (px_stream)s)
                json_array_append_new(a, toxic_json(&p->toxics[i]));
    return a;
}

static json_t *proxy_json(const px_info *p)
{
    return json_pack("{s:s,s:s,s:s,s:b,s:o}", "name", p->name, "listen", p->listen, "upstream",
                     p->upstream, "enabled", p->enabled, "toxics", toxics_json(p));
}

/* ---- request bodies ---- */

/* The body as a JSON value of the given type (JSON_OBJECT, JSON_ARRAY), or NULL after a 400. */
static json_t *parse_body(const char *body, size_t len, json_type want, px_api_reply *out)
{
    json_error_t e;
    json_t *j;
    if (body == NULL || len == 0) {
        reply_error(out, 400, "bad request body: EOF");
        return NULL;
    }
    j = json_loadb(body, len, JSON_DECODE_ANY, &e);
    if (j == NULL) {
        reply_error(out, 400, "bad request body: %s", e.text);
        return NULL;
    }
    if (json_typeof(j) != want) {
        reply_error(out, 400, "bad request body: expected a JSON %s",
                    want == JSON_OBJECT ? "object" : "array");
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Field `key` of o as a string: *v NULL when absent. -1 after a 400 (not a string). */
static int field_str(json_t *o, const char *key, const char **v, px_api_reply *out)
{
    json_t *f = json_object_get(o, key);
    *v = NULL;
    if (f == NULL || json_is_null(f))
        return 0;
    if (!json_is_string(f)) {
        reply_error(out, 400, "bad request body: field '%s' must be a string", key);
        return -1;
    }
    *v = json_string_value(f);
    return 0;
}

/* Field `key` of o as a boolean: *v unchanged when absent. -1 after a 400. */
static int field_bool(json_t *o, const char *key, bool *v, px_api_reply *out)
{
    json_t *f = json_object_get(o, key);
    if (f == NULL || json_is_null(f))
        return 0;
    if (!json_is_boolean(f)) {
        reply_error(out, 400, "bad request body: field '%s' must be true or false", key);
        return -1;
    }
    *v = json_is_true(f);
    return 0;
}

/* A proxy's fields from o: name and upstream required (with " at proxy N" for /populate). */
typedef struct {
    const char *name, *listen, *upstream;
    bool enabled;
} proxy_fields;

static int proxy_fields_of(json_t *o, proxy_fields *f, const char *where, px_api_reply *out)
{
    f->enabled = true;
    if (!json_is_object(o)) {
        reply_error(out, 400, "bad request body: expected a JSON object%s", where);
        return -1;
    }
    if (field_str(o, "name", &f->name, out) < 0 || field_str(o, "listen", &f->listen, out) < 0 ||
        field_str(o, "upstream", &f->upstream, out) < 0 ||
        field_bool(o, "enabled", &f->enabled, out) < 0)
        return -1;
    if (f->name == NULL || f->name[0] == '\0') {
        reply_error(out, 400, "missing required field: name%s", where);
        return -1;
    }
    if (f->upstream == NULL || f->upstream[0] == '\0') {
        reply_error(out, 400, "missing required field: upstream%s", where);
        return -1;
    }
    if (strlen(f->name) >= sizeof ((px_info *)0)->name || strchr(f->name, '/')) {
        reply_error(out, 400, "bad request body: name '%s': 1 to 63 characters, no '/'%s",
                    f->name, where);
        return -1;
    }
    if (strlen(f->upstream) >= sizeof ((px_info *)0)->upstream ||
        (f->listen && strlen(f->listen) >= sizeof ((px_info *)0)->listen)) {
        reply_error(out, 400, "bad request body: an address over 159 characters%s", where);
        return -1;
    }
    if (f->listen == NULL || f->listen[0] == '\0')
        f->listen = "127.0.0.1:0"; /* loopback, a port of its choosing */
    return 0;
}

/* Set t's attributes from the object attrs (numbers, or words). -1 after a 400. */
static int toxic_attrs(px_toxic *t, json_t *attrs, px_api_reply *out)
{
    const char *key;
    json_t *v;
    if (attrs == NULL || json_is_null(attrs))
        return 0;
    if (!json_is_object(attrs)) {
        reply_error(out, 400, "bad request body: attributes must be a JSON object");
        return -1;
    }
    json_object_foreach(attrs, key, v)
    {
        int i = tx_attr_find(t->type, key);
        char text[64], err[300];
        if (i < 0) {
            reply_error(out, 400, "bad request body: %s has no attribute '%s'",
                        tx_defs[t->type].name, key);
            return -1;
        }
        if (json_is_integer(v))
            snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_string(v) && strlen(json_string_value(v)) < sizeof text)
            snprintf(text, sizeof text, "%s", json_string_value(v));
        else
            snprintf(text, sizeof text, "(not a whole number)");
        if (tx_set_attr(t, i, text, err, sizeof err) < 0) {
            reply_error(out, 400, "bad request body: %s", err);
            return -1;
        }
    }
    return 0;
}

static int toxicity_of(px_toxic *t, json_t *o, px_api_reply *out)
{
    json_t *v = json_object_get(o, "toxicity");
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_number(v)) {
        reply_error(out, 400, "bad request body: toxicity must be a number");
        return -1;
    }
    t->toxicity = json_number_value(v);
    return 0;
}

/* ---- the endpoints ---- */

static void get_proxies(px_relay *r, px_api_reply *out)
{
    json_t *o = json_object();
    px_info p;
    for (size_t i = 0; px_relay_get(r, NULL, i, &p) == 0; i++)
        json_object_set_new(o, p.name, proxy_json(&p));
    reply_json(out, 200, o);
}

/* Create proxy f; 0, or -1 after the error reply. */
static int create(px_relay *r, const proxy_fields *f, px_api_reply *out)
{
    char err[300];
    int rc = px_relay_add(r, f->name, f->listen, f->upstream, f->enabled, NULL, 0, err, sizeof err);
    if (rc == -2)
        reply_error(out, 409, "proxy already exists");
    else if (rc == -1)
        reply_error(out, 400, "bad request body: %s", err);
    else if (rc == -3)
        reply_error(out, 500, "%s", err);
    return rc == 0 ? 0 : -1;
}

static void post_proxies(px_relay *r, const char *body, size_t len, px_api_reply *out)
{
    json_t *o = parse_body(body, len, JSON_OBJECT, out);
    proxy_fields f;
    px_info p;
    if (o == NULL)
        return;
    if (proxy_fields_of(o, &f, "", out) == 0 && create(r, &f, out) == 0 &&
        px_relay_get(r, f.name, 0, &p) == 0)
        reply_json(out, 201, proxy_json(&p));
    json_decref(o);
}

/* POST /populate: every entry checked first; a proxy with the same listen and upstream is left
 * as it is, one that differs is replaced (its toxics go), a new one created (Toxiproxy's
 * proxy_collection.go AddOrReplace). */
static void populate(px_relay *r, const char *body, size_t len, px_api_reply *out)
{
    json_t *a = parse_body(body, len, JSON_ARRAY, out), *v, *made;
    size_t i;
    if (a == NULL)
        return;
    json_array_foreach(a, i, v)
    {
        proxy_fields f;
        char where[32];
        snprintf(where, sizeof where, " at proxy %zu", i + 1);
        if (proxy_fields_of(v, &f, where, out) < 0) {
            json_decref(a);
            return;
        }
    }
    made = json_array();
    json_array_foreach(a, i, v)
    {
        proxy_fields f;
        px_info p;
        proxy_fields_of(v, &f, "", out);
        if (px_relay_get(r, f.name, 0, &p) == 0 &&
            (strcmp(p.listen, f.listen) || strcmp(p.upstream, f.upstream)))
            px_relay_remove(r, f.name);
        if (px_relay_get(r, f.name, 0, &p) != 0 && create(r, &f, out) < 0) {
            /* the error reply, with what was made before it */
            json_t *e = json_loadb(out->body, out->len, 0, NULL);
            free(out->body);
            if (e)
                json_object_set(e, "proxies", made);
            reply_json(out, out->status, e);
            json_decref(made);
            json_decref(a);
            return;
        }
        px_relay_get(r, f.name, 0, &p);
        json_array_append_new(made, proxy_json(&p));
    }
    reply_json(out, 201, json_pack("{s:o}", "proxies", made));
    json_decref(a);
}

static void update_proxy(px_relay *r, const char *name, const char *body, size_t len,
                         px_api_reply *out)
{
    json_t *o = parse_body(body, len, JSON_OBJECT, out);
    const char *listen, *upstream;
    px_info p;
    char err[300];
    int rc;
    if (o == NULL)
        return;
    if (px_relay_get(r, name, 0, &p) != 0) {
        reply_error(out, 404, "proxy not found");
    } else if (field_str(o, "listen", &listen, out) == 0 &&
               field_str(o, "upstream", &upstream, out) == 0 &&
               field_bool(o, "enabled", &p.enabled, out) == 0) {
        rc = px_relay_update(r, name, listen && listen[0] ? listen : NULL,
                             upstream && upstream[0] ? upstream : NULL, p.enabled, err, sizeof err);
        if (rc == 0 && px_relay_get(r, name, 0, &p) == 0)
            reply_json(out, 200, proxy_json(&p));
        else if (rc == -2)
            reply_error(out, 404, "proxy not found");
        else
            reply_error(out, 500, "%s", err);
    }
    json_decref(o);
}

static void reset_all(px_relay *r, px_api_reply *out)
{
    px_info p;
    char err[300];
    for (size_t i = 0; px_relay_get(r, NULL, i, &p) == 0; i++) {
        px_relay_set_toxics(r, p.name, NULL, 0);
        if (!p.enabled && px_relay_update(r, p.name, NULL, NULL, true, err, sizeof err) != 0) {
            reply_error(out, 500, "%s", err);
            return;
        }
    }
    out->status = 204;
}

/* The index of toxic `name` in p, or -1. */
static int toxic_at(const px_info *p, const char *name)
{
    for (size_t i = 0; i < p->ntox; i++)
        if (!strcmp(p->toxics[i].name, name))
            return (int)i;
    return -1;
}

static void add_toxic(px_relay *r, px_info *p, const char *body, size_t len, px_api_reply *out)
{
    json_t *o = parse_body(body, len, JSON_OBJECT, out);
    const char *name, *type, *stream;
    px_toxic t;
    px_stream s = PX_DOWN;
    int ty;
    if (o == NULL)
        return;
    if (field_str(o, "name", &name, out) < 0 || field_str(o, "type", &type, out) < 0 ||
        field_str(o, "stream", &stream, out) < 0)
        goto done;
    if (stream && !strcasecmp(stream, "upstream"))
        s = PX_UP;
    else if (stream && strcasecmp(stream, "downstream")) {
        reply_error(out, 400, "stream was invalid, can be either upstream or downstream");
        goto done;
    }
    ty = type ? tx_find(type, strlen(type)) : -1;
    if (ty < 0) {
        reply_error(out, 400, "invalid toxic type");
        goto done;
    }
    tx_init(&t, (tx_type)ty, s);
    if (name && name[0]) {
        if (strlen(name) >= sizeof t.name) {
            reply_error(out, 400, "bad request body: a toxic name is 1 to 63 characters");
            goto done;
        }
        snprintf(t.name, sizeof t.name, "%s", name);
    }
    if (toxic_at(p, t.name) >= 0) {
        reply_error(out, 409, "toxic already exists");
        goto done;
    }
    if (toxicity_of(&t, o, out) < 0 || toxic_attrs(&t, json_object_get(o, "attributes"), out) < 0)
        goto done;
    {
        const char *why = tx_unfit(&t, px_relay_framing(r));
        if (why) {
            reply_error(out, 400, "%s", why);
            goto done;
        }
    }
    if (p->ntox == PX_MAX_TOXICS) {
        reply_error(out, 400, "at most %d toxics on a proxy", PX_MAX_TOXICS);
        goto done;
    }
    p->toxics[p->ntox++] = t;
    if (px_relay_set_toxics(r, p->name, p->toxics, p->ntox) != 0)
        reply_error(out, 404, "proxy not found");
    else
        reply_json(out, 200, toxic_json(&t));
done:
    json_decref(o);
}

/* /proxies/{p}/toxics[/{t}] */
static void toxics(px_relay *r, px_info *p, const char *method, const char *tname,
                   const char *body, size_t len, px_api_reply *out)
{
    int at;
    if (tname == NULL) {
        if (!strcmp(method, "GET"))
            reply_json(out, 200, toxics_json(p));
        else if (!strcmp(method, "POST"))
            add_toxic(r, p, body, len, out);
        else
            out->status = 405;
        return;
    }
    at = toxic_at(p, tname);
    if (strcmp(method, "GET") && strcmp(method, "POST") && strcmp(method, "PATCH") &&
        strcmp(method, "DELETE")) {
        out->status = 405;
    } else if (at < 0) {
        reply_error(out, 404, "toxic not found");
    } else if (!strcmp(method, "GET")) {
        reply_json(out, 200, toxic_json(&p->toxics[at]));
    } else if (!strcmp(method, "DELETE")) {
        memmove(&p->toxics[at], &p->toxics[at + 1], (p->ntox - (size_t)at - 1) * sizeof *p->toxics);
        p->ntox--;
        px_relay_set_toxics(r, p->name, p->toxics, p->ntox);
        out->status = 204;
    } else {
        /* an update: attributes merged into the toxic's, toxicity if given (name, type and
         * stream stay) */
        json_t *o = parse_body(body, len, JSON_OBJECT, out);
        px_toxic t = p->toxics[at];
        if (o == NULL)
            return;
        if (toxicity_of(&t, o, out) == 0 &&
            toxic_attrs(&t, json_object_get(o, "attributes"), out) == 0) {
            p->toxics[at] = t;
            px_relay_set_toxics(r, p->name, p->toxics, p->ntox);
            reply_json(out, 200, toxic_json(&t));
        }
        json_decref(o);
    }
}

/* /proxies/{name}[/toxics[/{toxic}]] */
static void proxy_path(px_relay *r, const char *method, const char *rest, const char *body,
                       size_t len, px_api_reply *out)
{
    char name[160], tname[160];
    const char *slash = strchr(rest, '/');
    px_info p;
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n == 0 || n >= sizeof name) {
        out->status = 404;
        return;
    }
    memcpy(name, rest, n);
    name[n] = '\0';
    if (slash && strcmp(slash, "/toxics") && strncmp(slash, "/toxics/", 8)) {
        out->status = 404;
        return;
    }
    if (slash && slash[7] == '/' && (slash[8] == '\0' || strchr(slash + 8, '/') ||
                                     strlen(slash + 8) >= sizeof tname)) {
        out->status = 404;
        return;
    }
    if (slash == NULL && strcmp(method, "GET") && strcmp(method, "POST") &&
        strcmp(method, "PATCH") && strcmp(method, "DELETE")) {
        out->status = 405;
        return;
    }
    if (px_relay_get(r, name, 0, &p) != 0) {
        reply_error(out, 404, "proxy not found");
        return;
    }
    if (slash) {
        if (slash[7] == '/')
            snprintf(tname, sizeof tname, "%s", slash + 8);
        toxics(r, &p, method, slash[7] == '/' ? tname : NULL, body, len, out);
    } else if (!strcmp(method, "GET")) {
        reply_json(out, 200, proxy_json(&p));
    } else if (!strcmp(method, "DELETE")) {
        px_relay_remove(r, name);
        out->status = 204;
    } else {
        update_proxy(r, name, body, len, out);
    }
}

void px_api_handle(px_relay *r, const char *method, const char *url, const char *body, size_t len,
                   px_api_reply *out)
{
    memset(out, 0, sizeof *out);
    out->status = 404;
    if (!strcmp(url, "/version")) {
        if (strcmp(method, "GET")) {
            out->status = 405;
            return;
        }
        reply_json(out, 200, json_pack("{s:s}", "version", "framespec " FRAMESPEC_VERSION));
    } else if (!strcmp(url, "/reset")) {
        if (strcmp(method, "POST"))
            out->status = 405;
        else
            reset_all(r, out);
    } else if (!strcmp(url, "/populate")) {
        if (strcmp(method, "POST"))
            out->status = 405;
        else
            populate(r, body, len, out);
    } else if (!strcmp(url, "/proxies")) {
        if (!strcmp(method, "GET"))
            get_proxies(r, out);
        else if (!strcmp(method, "POST"))
            post_proxies(r, body, len, out);
        else
            out->status = 405;
    } else if (!strncmp(url, "/proxies/", 9)) {
        proxy_path(r, method, url + 9, body, len, out);
    }
    if (out->status == 404 && out->body == NULL) {
        out->body = strdup("404 page not found\n");
        out->len = out->body ? strlen(out->body) : 0;
        out->type = "text/plain; charset=utf-8";
    }
}

/* ---- HTTP: libmicrohttpd ---- */

struct px_api {
    struct MHD_Daemon *d;
    px_relay *r;
};

typedef struct {
    char *buf;
    size_t len;
    bool too_big;
} req_body;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    px_api *a = cls;
    req_body *b = *con_cls;
    px_api_reply rep;
    struct MHD_Response *resp;
    const char *ua;
    enum MHD_Result rc;
    (void)version;
    if (b == NULL) {
        b = calloc(1, sizeof *b);
        *con_cls = b;
        return b ? MHD_YES : MHD_NO;
    }
    if (*upload_size > 0) {
        if (b->too_big || b->len + *upload_size > PX_API_MAX_BODY) {
            b->too_big = true;
        } else {
            char *nb = realloc(b->buf, b->len + *upload_size);
            if (nb == NULL)
                return MHD_NO;
            memcpy(nb + b->len, upload, *upload_size);
            b->buf = nb;
            b->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT);
    memset(&rep, 0, sizeof rep);
    if (ua && !strncmp(ua, "Mozilla/", 8)) {
        /* a browser: Toxiproxy refuses them (a page must not drive the proxy) */
        rep.status = 403;
        rep.body = strdup("User agent not allowed\n");
        rep.len = rep.body ? strlen(rep.body) : 0;
        rep.type = "text/plain; charset=utf-8";
    } else if (b->too_big) {
        reply_error(&rep, 413, "bad request body: over %u bytes", PX_API_MAX_BODY);
    } else {
        px_api_handle(a->r, method, url, b->buf, b->len, &rep);
    }
    resp = MHD_create_response_from_buffer(rep.len, rep.body ? rep.body : (char *)"",
                                           MHD_RESPMEM_MUST_COPY);
    free(rep.body);
    if (resp == NULL)
        return MHD_NO;
    if (rep.type && rep.len > 0)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep.type);
    rc = MHD_queue_response(c, (unsigned)rep.status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    req_body *b = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (b) {
        free(b->buf);
        free(b);
        *con_cls = NULL;
    }
}

px_api *px_api_start(px_relay *r, const char *addr, char *bound, size_t bn, char *err, size_t n)
{
    char text[200];
    sock_addr sa;
    px_api *a;
    const union MHD_DaemonInfo *info;
    bool digits = addr[0] != '\0' && strspn(addr, "0123456789") == strlen(addr);
    snprintf(text, sizeof text, digits ? "127.0.0.1:%s" : "%s", addr);
    /* port 0: any (sock_parse_addr() takes 1..65535) */
    if (strlen(text) >= 2 && !strcmp(text + strlen(text) - 2, ":0")) {
        text[strlen(text) - 1] = '1';
        if (sock_parse_addr(text, &sa, err, n) < 0)
            return NULL;
        ((struct sockaddr_in *)&sa.sa)->sin_port = 0; /* sin6_port sits at the same offset */
    } else if (sock_parse_addr(text, &sa, err, n) < 0) {
        return NULL;
    }
    if (sa.family == AF_UNIX) {
        snprintf(err, n, "give HOST:PORT or PORT (a unix socket is not served)");
        return NULL;
    }
    a = calloc(1, sizeof *a);
    if (a == NULL) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    a->r = r;
    a->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                                (sa.family == AF_INET6 ? MHD_USE_IPv6 : 0),
                            0, NULL, NULL, on_request, a, MHD_OPTION_SOCK_ADDR, &sa.sa,
                            MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 << 10),
                            MHD_OPTION_END);
    if (a->d == NULL) {
        snprintf(err, n, "cannot serve the API on %s (in use? a bad address?)", text);
        free(a);
        return NULL;
    }
    info = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
    text[strlen(text) - strlen(strrchr(text, ':'))] = '\0';
    snprintf(bound, bn, "%s:%u", text, info ? info->port : 0);
    return a;
}

void px_api_stop(px_api *a)
{
    if (a == NULL)
        return;
    MHD_stop_daemon(a->d);
    free(a);
}
