/* Configuration reload on SIGHUP (nd_reload.h). Changed keys are found by
 * comparing nd_config_print() of the old and new configuration, so a key
 * added to the table is covered without touching this file. */
#include "nd_reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd_log.h"

typedef struct printed {
    char *text;
    size_t len;
} printed;

static int print_config(const nd_config *c, printed *out)
{
    FILE *f = open_memstream(&out->text, &out->len);
    if (!f) return -1;
    nd_config_print(c, f);
    return fclose(f) ? -1 : 0;
}

/* Finds "key = value" under [section] in printed text; copies the value. */
static bool lookup(const char *text, const char *section, const char *key, char *val, size_t len)
{
    char cur[64] = "";
    const char *line = text;
    while (line && *line) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (n > 2 && line[0] == '[') {
            snprintf(cur, sizeof cur, "%.*s", (int)(n - 2), line + 1);
        } else if (!strcmp(cur, section)) {
            size_t kl = strlen(key);
            if (n >= kl + 3 && !strncmp(line, key, kl) && !strncmp(line + kl, " = ", 3)) {
                snprintf(val, len, "%.*s", (int)(n - kl - 3), line + kl + 3);
                return true;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

static bool reloadable(const char *section, const char *key)
{
    return !strcmp(key, "log_level") || !strcmp(section, "live") || !strcmp(section, "metrics");
}

static void append(char *list, size_t len, const char *section, const char *key)
{
    size_t used = strlen(list);
    snprintf(list + used, len - used, "%s%s.%s", used ? ", " : "", section, key);
}

void nd_reload_init(nd_reload *r, const nd_config *running)
{
    memset(r, 0, sizeof *r);
    nd_config_defaults(&r->defaults);
    r->loaded = *running;
}

static void apply_metrics(nd_reload *r, nd_daemon *d)
{
    char err[256];
    int rc = nd_daemon_set_metric_settings_after_trial(d, &r->pending, err, sizeof err);
    if (rc == 0)
        nd_notice("reload: metric settings in effect from the next trial");
    else if (rc > 0)
        nd_notice("reload: a trial is recording; metric settings apply when it stops");
    else
        nd_err("reload: metric settings refused: %s", err);
}

int nd_reload_apply(nd_reload *r, nd_daemon *d, const nd_config *fresh, char *summary,
                    size_t summarylen)
{
    printed old = {0}, new = {0};
    if (print_config(&r->loaded, &old) || print_config(fresh, &new)) {
        free(old.text);
        free(new.text);
        snprintf(summary, summarylen, "reload failed: out of memory");
        nd_err("%s", summary);
        return 0;
    }
    char applied[1024] = "", restart[1024] = "";
    bool metrics = false, live = false;
    int changed = 0;
    char section[64] = "";
    const char *line = new.text;
    while (line && *line) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        const char *eq = memmem(line, n, " = ", 3);
        if (n > 2 && line[0] == '[') {
            snprintf(section, sizeof section, "%.*s", (int)(n - 2), line + 1);
        } else if (eq) {
            char key[64], before[1024] = "", after[1024];
            snprintf(key, sizeof key, "%.*s", (int)(eq - line), line);
            snprintf(after, sizeof after, "%.*s", (int)(n - (size_t)(eq - line) - 3), eq + 3);
            lookup(old.text, section, key, before, sizeof before);
            if (strcmp(before, after)) {
                changed++;
                if (reloadable(section, key)) {
                    nd_notice("reload: %s.%s: %s -> %s", section, key, before, after);
                    append(applied, sizeof applied, section, key);
                    metrics |= !strcmp(section, "metrics");
                    live |= !strcmp(section, "live");
                } else {
                    nd_warn("reload: %s.%s changed (%s -> %s) but needs a restart; keeping %s",
                            section, key, before, after, before);
                    append(restart, sizeof restart, section, key);
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(old.text);
    free(new.text);

    if (fresh->log_level != r->loaded.log_level) nd_log_set_level(fresh->log_level);
    r->loaded.log_level = fresh->log_level;
    if (live) {
        nd_daemon_set_live_options(d, fresh->live_hz, fresh->wave_decimation);
        r->loaded.live_hz = fresh->live_hz;
        r->loaded.wave_decimation = fresh->wave_decimation;
    }
    if (metrics) {
        r->pending = fresh->metrics;
        r->loaded.metrics = fresh->metrics;
        apply_metrics(r, d);
    }
    snprintf(summary, summarylen, "configuration reloaded: %s%s%s%s",
             *applied ? "applied " : (changed ? "" : "no changes"), applied,
             *restart ? (*applied ? "; restart needed for " : "restart needed for ") : "", restart);
    nd_notice("%s", summary);
    return changed;
}
