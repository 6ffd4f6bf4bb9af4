/* libcurl GET into memory for the hub (station_fetch.h). */
#include "station_fetch.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int station_fetch_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static size_t on_data(char *data, size_t size, size_t n, void *user)
{
    station_fetch_result *r = user;
    size_t len = size * n;
    if (r->body_len + len > (size_t)STATION_FETCH_MAX_BODY) return 0; /* aborts the transfer */
    char *b = realloc(r->body, r->body_len + len + 1);
    if (!b) return 0;
    memcpy(b + r->body_len, data, len);
    r->body = b;
    r->body_len += len;
    b[r->body_len] = '\0';
    return len;
}

/* libcurl's progress callback: non-zero aborts the transfer. */
static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const atomic_bool *cancel = user;
    return cancel && atomic_load(cancel);
}

int station_fetch(const char *url, const char *token, const atomic_bool *cancel,
                  station_fetch_result *out)
{
    memset(out, 0, sizeof *out);
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(out->error, sizeof out->error, "cannot start an HTTP client");
        return -1;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    char authz[300];
    if (token) {
        snprintf(authz, sizeof authz, "Authorization: Bearer %s", token);
        headers = curl_slist_append(headers, authz);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    /* A station that accepted but stalls: give up when under 1 KiB/s for 10 s. */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 10L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)cancel);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(h);
    int ret = 0;
    if (rc != CURLE_OK) {
        snprintf(out->error, sizeof out->error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        free(out->body);
        out->body = NULL;
        out->body_len = 0;
        ret = -1;
    } else {
        char *ct = NULL;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
        if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
            snprintf(out->content_type, sizeof out->content_type, "%s", ct);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return ret;
}

void station_fetch_free(station_fetch_result *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}
