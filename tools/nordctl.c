/* nordctl: command-line client for nordicd's control socket (daemon/wire/ZMQ_PROTOCOL.md).
 * Human-readable output by default, --json for scripts. Exit status: 0 ok, 1 refused by the daemon,
 * 2 usage error, 3 no answer / transport error. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include <cjson/cJSON.h>

#include "nd_client.h"
#include "nd_zsec.h"

enum {
    EXIT_REFUSED = ND_CLIENT_REFUSED,
    EXIT_USAGE = ND_CLIENT_USAGE,
    EXIT_NOANSWER = ND_CLIENT_NOANSWER
};

static void usage(FILE *out)
{
    fputs("Usage: nordctl [OPTIONS] COMMAND [ARGS]\n"
          "Control a running nordicd.\n\n"
          "Commands:\n"
          "  status                          daemon state, device, counters\n"
          "  devices                         device drivers and the current device\n"
          "  tare [left|right|both] [--window S] [--force]\n"
          "                                  zero the unloaded hooks\n"
          "  calibrate left|right MASS_KG [--window S]\n"
          "                                  two-point calibration with a known mass\n"
          "  start --athlete ID [--mass KG] [--lever M] [--injured left|right|none]\n"
          "        [--notes TEXT] [--protocol SETSxREPS [--rest S] [--set-gap S]\n"
          "        [--target-left N] [--target-right N] | [--target-pct P --best-left N\n"
          "        --best-right N] [--tolerance PCT] [--leg left|right [--leg-on N]\n"
          "        [--leg-off N]] [--test isometric --angle DEG]]\n"
          "                                  start a trial (a protocol counts sets, rest\n"
          "                                  and the target zone: daemon/metrics/METRICS.md 5;\n"
          "                                  --test isometric: holds at knee angle DEG 0-90)\n"
          "  stop                            stop the trial (prints the summary)\n"
          "  mark KIND [DETAIL...]           event mark; `mark pain N [DETAIL]` (N = 0-10)\n"
          "  set next [left|right|both] [--angle DEG]\n"
          "                                  end the current set of the protocol (and\n"
          "                                  switch the working leg / knee angle of the\n"
          "                                  next sets; the angle for isometric tests)\n"
          "  next-day-pain TRIAL_ID N [DETAIL...]\n"
          "                                  next-day pain 0-10 of a closed session; prints\n"
          "                                  the progression suggestion\n"
          "  config [KEY=VALUE...]           show or change metric/live settings\n"
          "  send JSON                       send a raw request\n"
          "  keygen PREFIX                   write PREFIX.key (secret, 0600) and PREFIX.pub\n\n"
          "Options:\n"
          "  --ctl ENDPOINT       control endpoint (default $NORDIC_CTL, else the daemon's\n"
          "                       default ipc://<runtime-dir>/control)\n"
          "  --json               print the daemon's JSON reply unchanged\n"
          "  --timeout SECONDS    wait this long for an answer (default 10)\n"
          "  --server-key FILE    CURVE: the daemon's public key ($NORDIC_SERVER_KEY)\n"
          "  --client-key FILE    CURVE: this client's secret key ($NORDIC_CLIENT_KEY)\n"
          "  -h, --help           this help\n\n"
          "Exit status: 0 ok, 1 refused by nordicd, 2 usage error, 3 no answer.\n",
          out);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "nordctl: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'nordctl --help'.\n");
    va_end(ap);
    return EXIT_USAGE;
}

static int parse_number(const char *text, const char *what, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v)) {
        usage_error("%s: not a number: \"%s\"", what, text);
        return -1;
    }
    *out = v;
    return 0;
}

/* Builds the request for a command. Returns NULL after printing a usage
 * error. */
static cJSON *build_request(int argc, char **argv)
{
    const char *cmd = argv[0];
    cJSON *r = cJSON_CreateObject();
    double v;
    if (!strcmp(cmd, "status") || !strcmp(cmd, "devices") || !strcmp(cmd, "stop")) {
        if (argc > 1) goto extra;
        cJSON_AddStringToObject(r, "cmd", cmd);
    } else if (!strcmp(cmd, "tare") || !strcmp(cmd, "calibrate")) {
        bool cal = !strcmp(cmd, "calibrate");
        cJSON_AddStringToObject(r, "cmd", cmd);
        int pos = 0;
        for (int i = 1; i < argc; i++) {
            if (!strcmp(argv[i], "--force") && !cal) {
                cJSON_AddBoolToObject(r, "force", true);
            } else if (!strcmp(argv[i], "--window")) {
                if (++i >= argc) goto missing;
                if (parse_number(argv[i], "--window", &v)) goto fail;
                cJSON_AddNumberToObject(r, "window_s", v);
            } else if (pos == 0) {
                cJSON_AddStringToObject(r, "side", argv[i]);
                pos++;
            } else if (pos == 1 && cal) {
                if (parse_number(argv[i], "MASS_KG", &v)) goto fail;
                cJSON_AddNumberToObject(r, "mass_kg", v);
                pos++;
            } else {
                goto extra;
            }
        }
        if (cal && pos < 2) {
            usage_error("%s", "calibrate needs SIDE and MASS_KG, e.g. `nordctl calibrate left 20`");
            goto fail;
        }
    } else if (!strcmp(cmd, "start")) {
        cJSON_AddStringToObject(r, "cmd", "start");
        static const struct {
            const char *opt, *field;
            bool number;
        } map[] = {{"--athlete", "athlete_id", false},
                   {"--mass", "body_mass_kg", true},
                   {"--lever", "lever_m", true},
                   {"--injured", "injured_side", false},
                   {"--notes", "notes", false},
                   {"--protocol", "protocol", false},
                   {"--rest", "rest_s", true},
                   {"--set-gap", "set_gap_s", true},
                   {"--target-left", "target_left_N", true},
                   {"--target-right", "target_right_N", true},
                   {"--target-pct", "target_pct", true},
                   {"--best-left", "best_left_N", true},
                   {"--best-right", "best_right_N", true},
                   {"--tolerance", "target_tolerance_pct", true},
                   {"--leg", "leg", false},
                   {"--leg-on", "leg_on_N", true},
                   {"--leg-off", "leg_off_N", true},
                   {"--test", "test", false},
                   {"--angle", "angle_deg", true}};
        for (int i = 1; i < argc; i++) {
            size_t k;
            for (k = 0; k < sizeof map / sizeof *map; k++)
                if (!strcmp(argv[i], map[k].opt)) break;
            if (k == sizeof map / sizeof *map) {
                usage_error("start: unknown option %s", argv[i]);
                goto fail;
            }
            if (++i >= argc) goto missing;
            if (cJSON_GetObjectItemCaseSensitive(r, map[k].field)) {
                usage_error("start: %s given twice", map[k].opt);
                goto fail;
            }
            if (map[k].number) {
                if (parse_number(argv[i], map[k].opt, &v)) goto fail;
                cJSON_AddNumberToObject(r, map[k].field, v);
            } else {
                cJSON_AddStringToObject(r, map[k].field, argv[i]);
            }
        }
        if (!cJSON_GetObjectItemCaseSensitive(r, "athlete_id")) {
            usage_error("%s", "start needs --athlete ID");
            goto fail;
        }
        /* nordicd has no trial index to take the best from (METRICS.md 5.4). */
        if (cJSON_GetObjectItemCaseSensitive(r, "target_pct") &&
            !cJSON_GetObjectItemCaseSensitive(r, "best_left_N") &&
            !cJSON_GetObjectItemCaseSensitive(r, "best_right_N")) {
            usage_error("%s", "start: --target-pct needs --best-left and/or --best-right (N): "
                              "nordctl talks to nordicd only, which has no trial index; give "
                              "the athlete's best, or start the session from nordic-station, "
                              "which takes it from its index");
            goto fail;
        }
    } else if (!strcmp(cmd, "mark")) {
        if (argc < 2) {
            usage_error("%s", "mark needs KIND, e.g. `nordctl mark pain 2` or `nordctl mark note "
                              "\"slipped\"`");
            goto fail;
        }
        cJSON_AddStringToObject(r, "cmd", "mark");
        cJSON_AddStringToObject(r, "kind", argv[1]);
        int first_detail = 2;
        if (!strcmp(argv[1], "pain")) {
            if (argc < 3) {
                usage_error("%s", "mark pain needs a rating 0-10, e.g. `nordctl mark pain 2`");
                goto fail;
            }
            if (parse_number(argv[2], "pain rating", &v)) goto fail;
            cJSON_AddNumberToObject(r, "value", v);
            first_detail = 3;
        }
        if (argc > first_detail) {
            char detail[1024] = "";
            size_t used = 0;
            for (int i = first_detail; i < argc && used < sizeof detail; i++)
                used += (size_t)snprintf(detail + used, sizeof detail - used, "%s%s",
                                         i > first_detail ? " " : "", argv[i]);
            cJSON_AddStringToObject(r, "detail", detail);
        }
    } else if (!strcmp(cmd, "set")) {
        if (argc < 2 || strcmp(argv[1], "next")) {
            usage_error("%s", "set needs the action `next`: `nordctl set next [left|right|both] "
                              "[--angle DEG]`");
            goto fail;
        }
        cJSON_Delete(r);
        r = nd_req_set_next();
        for (int i = 2; r && i < argc; i++) {
            if (!strcmp(argv[i], "--angle")) {
                if (++i >= argc) goto missing;
                if (cJSON_GetObjectItemCaseSensitive(r, "angle_deg")) {
                    usage_error("%s", "set next: --angle given twice");
                    goto fail;
                }
                if (parse_number(argv[i], "--angle", &v)) goto fail;
                cJSON_AddNumberToObject(r, "angle_deg", v);
            } else if (!cJSON_GetObjectItemCaseSensitive(r, "leg")) {
                cJSON_AddStringToObject(r, "leg", argv[i]);
            } else {
                goto extra;
            }
        }
        return r;
    } else if (!strcmp(cmd, "next-day-pain")) {
        if (argc < 3) {
            usage_error("%s", "next-day-pain needs TRIAL_ID and a rating 0-10, e.g. "
                              "`nordctl next-day-pain 150c8e2d8b0e 2`");
            goto fail;
        }
        if (parse_number(argv[2], "pain rating", &v)) goto fail;
        char detail[200] = "";
        size_t used = 0;
        for (int i = 3; i < argc && used < sizeof detail; i++)
            used += (size_t)snprintf(detail + used, sizeof detail - used, "%s%s", i > 3 ? " " : "",
                                     argv[i]);
        cJSON_Delete(r);
        return nd_req_next_day_pain(argv[1], v, argc > 3 ? detail : NULL);
    } else if (!strcmp(cmd, "config")) {
        cJSON_AddStringToObject(r, "cmd", "config");
        cJSON *set = argc > 1 ? cJSON_AddObjectToObject(r, "set") : NULL;
        for (int i = 1; i < argc; i++) {
            char *eq = strchr(argv[i], '=');
            if (!eq || eq == argv[i]) {
                usage_error("config: expected KEY=VALUE, got \"%s\"", argv[i]);
                goto fail;
            }
            *eq = '\0';
            if (parse_number(eq + 1, argv[i], &v)) goto fail;
            cJSON_AddNumberToObject(set, argv[i], v);
        }
    } else if (!strcmp(cmd, "send")) {
        if (argc != 2) {
            usage_error("%s", "send needs one JSON argument");
            goto fail;
        }
        cJSON_Delete(r);
        return cJSON_CreateRaw(argv[1]); /* sent verbatim; the daemon validates */
    } else {
        usage_error("unknown command \"%s\"", cmd);
        goto fail;
    }
    return r;
missing:
    usage_error("%s: option needs a value", cmd);
    goto fail;
extra:
    usage_error("%s: too many arguments", cmd);
fail:
    cJSON_Delete(r);
    return NULL;
}

/* Indented "key: value" listing of a reply for people. */
static void print_value(const cJSON *v, int indent);
static void print_object(const cJSON *o, int indent)
{
    for (const cJSON *it = o->child; it; it = it->next) {
        if (indent == 0 && (!strcmp(it->string, "ok") || !strcmp(it->string, "cmd"))) continue;
        printf("%*s%s:", indent, "", it->string);
        if (cJSON_IsObject(it) && it->child) {
            printf("\n");
            print_object(it, indent + 2);
        } else {
            printf(" ");
            print_value(it, indent);
            printf("\n");
        }
    }
}

static void print_value(const cJSON *v, int indent)
{
    if (cJSON_IsString(v)) {
        printf("%s", v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 1e15)
            printf("%.0f", d);
        else
            printf("%.4g", d);
    } else if (cJSON_IsBool(v)) {
        printf("%s", cJSON_IsTrue(v) ? "yes" : "no");
    } else if (cJSON_IsNull(v)) {
        printf("-");
    } else if (cJSON_IsArray(v)) {
        bool first = true;
        if (!v->child) printf("(none)");
        for (const cJSON *it = v->child; it; it = it->next) {
            if (cJSON_IsObject(it)) {
                printf("\n%*s-\n", indent + 2, "");
                print_object(it, indent + 4);
            } else {
                printf("%s", first ? "" : ", ");
                print_value(it, indent);
            }
            first = false;
        }
    } else if (cJSON_IsObject(v)) {
        printf("{}");
    }
}

static int keygen(int argc, char **argv)
{
    if (argc != 2) return usage_error("%s", "keygen needs PREFIX, e.g. `nordctl keygen station1`");
    char err[512];
    if (nd_zsec_keygen(argv[1], err, sizeof err)) {
        fprintf(stderr, "nordctl: %s\n", err);
        return EXIT_NOANSWER;
    }
    printf("wrote %s.key (secret, mode 0600) and %s.pub\n", argv[1], argv[1]);
    return 0;
}

/* The whole program; rest holds argc + 1 pointers. Every path frees what it
 * allocated, so a sanitizer build exits with the documented status. */
static int nordctl(int argc, char **argv, char **rest)
{
    const char *endpoint = getenv("NORDIC_CTL");
    const char *server_key = getenv("NORDIC_SERVER_KEY");
    const char *client_key = getenv("NORDIC_CLIENT_KEY");
    double timeout_s = 10;
    bool json = false;
    int nrest = 0;

    /* Global options may appear anywhere; everything else is the command. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool takes = !strcmp(a, "--ctl") || !strcmp(a, "--timeout") || !strcmp(a, "--server-key") ||
                     !strcmp(a, "--client-key");
        if (takes && i + 1 >= argc) return usage_error("%s needs a value", a);
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--ctl")) {
            endpoint = argv[++i];
        } else if (!strcmp(a, "--server-key")) {
            server_key = argv[++i];
        } else if (!strcmp(a, "--client-key")) {
            client_key = argv[++i];
        } else if (!strcmp(a, "--timeout")) {
            if (parse_number(argv[++i], "--timeout", &timeout_s)) return EXIT_USAGE;
            if (timeout_s <= 0 || timeout_s > 3600)
                return usage_error("%s", "--timeout must be in (0, 3600] seconds");
        } else {
            rest[nrest++] = argv[i];
        }
    }
    if (nrest == 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(rest[0], "keygen")) return keygen(nrest, rest);

    cJSON *req = build_request(nrest, rest);
    if (!req) return EXIT_USAGE;
    char *text = cJSON_IsRaw(req) ? strdup(req->valuestring) : cJSON_PrintUnformatted(req);
    cJSON_Delete(req);

    void *zctx = zmq_ctx_new();
    nd_client_options opt = {.endpoint = endpoint,
                             .server_key_file = server_key,
                             .client_key_file = client_key,
                             .timeout_s = timeout_s};
    char err[600];
    int rc = EXIT_NOANSWER;
    nd_ctl_client *c = nd_ctl_client_open(zctx, &opt, &rc, err, sizeof err);
    if (!c) {
        fprintf(stderr, "nordctl: %s\n", err);
        goto out;
    }
    cJSON *r = NULL;
    char *raw = NULL;
    size_t rawlen = 0;
    rc = nd_ctl_client_call(c, text, strlen(text), &r, &raw, &rawlen, err, sizeof err);
    if (rc) {
        fprintf(stderr, "nordctl: %s\n", err);
        goto out;
    }
    bool ok = nd_reply_ok(r);
    if (json) {
        fwrite(raw, 1, rawlen, stdout);
        putchar('\n');
    } else if (ok) {
        print_object(r, 0);
        if (!r->child || !r->child->next || !r->child->next->next) printf("ok\n");
    } else {
        fprintf(stderr, "nordctl: refused: %s\n", nd_reply_error(r));
    }
    rc = ok ? 0 : EXIT_REFUSED;
    cJSON_Delete(r);
    free(raw);
out:
    nd_ctl_client_close(c);
    free(text);
    zmq_ctx_term(zctx);
    return rc;
}

int main(int argc, char **argv)
{
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) {
        fprintf(stderr, "nordctl: out of memory\n");
        return EXIT_NOANSWER;
    }
    int rc = nordctl(argc, argv, rest);
    free(rest);
    return rc;
}
