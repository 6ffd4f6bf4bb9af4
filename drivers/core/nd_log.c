#include "nd_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdatomic.h>

static atomic_int current_level = ND_LOG_INFO;

/* Under systemd (stderr connected to the journal) the "<N>" prefix carries the
 * priority; on a terminal a word is easier to read. */
static bool to_journal(void)
{
    static atomic_int cached = -1;
    int v = atomic_load(&cached);
    if (v < 0) {
        v = getenv("JOURNAL_STREAM") != NULL;
        atomic_store(&cached, v);
    }
    return v;
}

void nd_log_set_level(int level)
{
    atomic_store(&current_level, level);
}
int nd_log_get_level(void)
{
    return atomic_load(&current_level);
}

int nd_log_parse_level(const char *name)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {{"error", ND_LOG_ERR},    {"err", ND_LOG_ERR},       {"warning", ND_LOG_WARNING},
                 {"warn", ND_LOG_WARNING}, {"notice", ND_LOG_NOTICE}, {"info", ND_LOG_INFO},
                 {"debug", ND_LOG_DEBUG}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i].name) == 0) return names[i].level;
    return -1;
}

void nd_log(int level, const char *fmt, ...)
{
    if (level > atomic_load(&current_level)) return;
    /* One fprintf per line so concurrent threads never interleave inside a line;
     * the "<N>" prefix lets journald assign the priority. */
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (to_journal()) {
        fprintf(stderr, "<%d>%s\n", level, line);
    } else {
        static const char *const words[] = {"", "", "", "error: ", "warning: ", "", "", "debug: "};
        fprintf(stderr, "%s: %s%s\n", program_invocation_short_name,
                level >= 0 && level <= 7 ? words[level] : "", line);
    }
}
