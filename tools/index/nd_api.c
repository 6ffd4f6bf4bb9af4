/* /api/v1 dispatch and response helpers (nd_api.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd_api_internal.h"

void nd_api_response_free(nd_api_response *r)
{
    if (!r) return;
    free(r->body);
    free(r->file_path);
    r->body = NULL;
    r->file_path = NULL;
    r->body_len = 0;
}

int api_body(nd_api_response *out, int status, const char *content_type, char *body, size_t len)
{
    out->status = status;
    out->content_type = content_type;
    out->body = body;
    out->body_len = len;
    return 0;
}

static int out_of_memory(nd_api_response *out)
{
    static const char msg[] = "{\"error\":\"out of memory\",\"parameter\":null}";
    char *b = malloc(sizeof msg);
    if (b) memcpy(b, msg, sizeof msg);
    return api_body(out, 500, "application/json", b, b ? sizeof msg - 1 : 0);
}

int api_json(nd_api_response *out, int status, cJSON *j)
{
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) return out_of_memory(out);
    return api_body(out, status, "application/json", text, strlen(text));
}

int api_error(nd_api_response *out, int status, const char *parameter, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_CreateObject();
    if (!j) return out_of_memory(out);
    cJSON_AddStringToObject(j, "error", msg);
    if (parameter) {
        /* Echo at most 64 bytes of a caller-supplied name. */
        char p[65];
        snprintf(p, sizeof p, "%s", parameter);
        cJSON_AddStringToObject(j, "parameter", p);
    } else {
        cJSON_AddNullToObject(j, "parameter");
    }
    return api_json(out, status, j);
}

void sb_add(strbuf *b, const char *s, size_t n)
{
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void sb_puts(strbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

void sb_printf(strbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        sb_add(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(b, big, (size_t)n);
    free(big);
}

void sb_num(strbuf *b, double v, const char *nan_text)
{
    if (!isfinite(v)) {
        sb_puts(b, nan_text);
        return;
    }
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    sb_puts(b, buf);
}

static bool starts_segment(const char *path, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0 || (path[n] != '\0' && path[n] != '/')) return false;
    *rest = path + n;
    return true;
}

int nd_api_handle(nd_index *ix, const char *method, const char *path, const char *query,
                  const char *body, size_t body_len, nd_api_response *out)
{
    if (!ix || !method || !path || !out) return -1;
    const char *rest = NULL;
    bool trials = starts_segment(path, "/api/v1/trials", &rest);
    bool athletes = !trials && starts_segment(path, "/api/v1/athletes", &rest);
    if (!trials && !athletes) return -1;
    memset(out, 0, sizeof *out);
    if (query && strlen(query) > API_MAX_QUERY)
        return api_error(out, 414, NULL, "query string longer than %d bytes", API_MAX_QUERY);
    if (body_len > ND_API_MAX_BODY)
        return api_error(out, 413, "body", "request body larger than %d bytes", ND_API_MAX_BODY);
    if (trials) return api_trials(ix, method, rest, query, out);
    return api_athletes(ix, method, rest, query, body, body_len, out);
}
