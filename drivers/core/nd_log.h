/* Logging to stderr in a journal-friendly form ("<N>message", sd-daemon levels). */
#ifndef ND_LOG_H
#define ND_LOG_H

enum nd_log_level {
    ND_LOG_ERR = 3,
    ND_LOG_WARNING = 4,
    ND_LOG_NOTICE = 5,
    ND_LOG_INFO = 6,
    ND_LOG_DEBUG = 7
};

void nd_log_set_level(int level);
int nd_log_get_level(void);
/* Parses "error", "warning", "notice", "info", "debug"; returns -1 if unknown. */
int nd_log_parse_level(const char *name);
void nd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define nd_err(...)    nd_log(ND_LOG_ERR, __VA_ARGS__)
#define nd_warn(...)   nd_log(ND_LOG_WARNING, __VA_ARGS__)
#define nd_notice(...) nd_log(ND_LOG_NOTICE, __VA_ARGS__)
#define nd_info(...)   nd_log(ND_LOG_INFO, __VA_ARGS__)
#define nd_debug(...)  nd_log(ND_LOG_DEBUG, __VA_ARGS__)

#endif
