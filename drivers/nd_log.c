#include "nd_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdatomic.h>

static atomic_int current_level = ND_LOG_INFO;

void nd_log_set_level(int level) { atomic_store(&current_level, level); }
int nd_log_get_level(void) { return atomic_load(&current_level); }

int nd_log_parse_level(const char *name)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {{"error", ND_LOG_ERR},   {"err", ND_LOG_ERR},   {"warning", ND_LOG_WARNING},
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
    fprintf(stderr, "<%d>%s\n", level, line);
}
