/* nd_request_parse: every command accepted with good fields and refused with
 * a clear message for bad ones; then tens of thousands of random and mutated
 * buffers never crash and always yield either an error or a valid request
 * (run under ASan: -DNORDIC_SANITIZE=address). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nd_control.h"
#include "test_util.h"

static nd_request req;
static char err[512];

static int parse(const char *s)
{
    err[0] = '\0';
    return nd_request_parse(s, strlen(s), &req, err, sizeof err);
}

/* Refused, with an error containing `want`. */
static void expect_error(const char *json, const char *want)
{
    int rc = parse(json);
    CHECK_EQ_INT(rc, -1);
    CHECK(err[0] != '\0');
    if (!strstr(err, want)) {
        fprintf(stderr, "request %.120s\n  error \"%s\" lacks \"%s\"\n", json, err, want);
        nd_test_failed++;
    } else {
        nd_test_passed++;
    }
}

static void test_good_requests(void)
{
    const char *simple[] = {"{\"cmd\":\"status\"}", "{\"cmd\":\"devices\"}", "{\"cmd\":\"stop\"}",
                            " {\"cmd\" : \"config\"}\n"};
    const nd_cmd want[] = {ND_CMD_STATUS, ND_CMD_DEVICES, ND_CMD_STOP, ND_CMD_CONFIG};
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(parse(simple[i]), 0);
        CHECK_EQ_INT(req.cmd, want[i]);
    }

    CHECK_EQ_INT(parse("{\"cmd\":\"tare\"}"), 0);
    CHECK(req.tare.left && req.tare.right);
    CHECK_NEAR(req.tare.window_s, 0, 0);
    CHECK_EQ_INT(parse("{\"cmd\":\"tare\",\"side\":\"right\",\"window_s\":2.5}"), 0);
    CHECK(!req.tare.left && req.tare.right);
    CHECK_NEAR(req.tare.window_s, 2.5, 0);

    CHECK_EQ_INT(parse("{\"cmd\":\"calibrate\",\"side\":\"left\",\"mass_kg\":20}"), 0);
    CHECK_EQ_INT(req.cmd, ND_CMD_CALIBRATE);
    CHECK_EQ_INT(req.calibrate.side, ND_LEFT);
    CHECK_NEAR(req.calibrate.mass_kg, 20, 0);
    CHECK_EQ_INT(parse("{\"cmd\":\"calibrate\",\"side\":\"right\",\"mass_kg\":0.5,"
                       "\"window_s\":3}"),
                 0);
    CHECK_EQ_INT(req.calibrate.side, ND_RIGHT);

    CHECK_EQ_INT(parse("{\"cmd\":\"start\",\"athlete_id\":\"A17\"}"), 0);
    CHECK(!strcmp(req.start.athlete_id, "A17"));
    CHECK_NEAR(req.start.subject.body_mass_kg, 0, 0);
    CHECK_EQ_INT(req.start.subject.injured_side, ND_SIDE_NONE);
    CHECK_EQ_INT(parse("{\"cmd\":\"start\",\"athlete_id\":\"team-B_07.x\",\"body_mass_kg\":82,"
                       "\"lever_m\":0.43,\"injured_side\":\"left\",\"notes\":\"after ACL\\n"
                       "week 6 \\u00e9\",\"protocol\":\"3X6\"}"),
                 0);
    CHECK(!strcmp(req.start.athlete_id, "team-B_07.x"));
    CHECK_NEAR(req.start.subject.body_mass_kg, 82, 0);
    CHECK_NEAR(req.start.subject.lever_m, 0.43, 0);
    CHECK_EQ_INT(req.start.subject.injured_side, ND_SIDE_LEFT);
    CHECK(!strcmp(req.start.notes, "after ACL\nweek 6 \xc3\xa9"));
    CHECK(!strcmp(req.start.protocol, "3x6"));
    CHECK_EQ_INT(req.start.protocol_sets, 3);
    CHECK_EQ_INT(req.start.protocol_reps, 6);
    /* Boundaries: 64-character id, mass 500, lever 1.5, 1024-byte notes. */
    char buf[2048], id[65], notes[1025];
    memset(id, 'a', 64), id[64] = '\0';
    memset(notes, 'n', 1024), notes[1024] = '\0';
    snprintf(buf, sizeof buf,
             "{\"cmd\":\"start\",\"athlete_id\":\"%s\",\"body_mass_kg\":500,\"lever_m\":1.5,"
             "\"notes\":\"%s\",\"injured_side\":\"none\",\"protocol\":\"20x50\"}",
             id, notes);
    CHECK_EQ_INT(parse(buf), 0);
    CHECK_EQ_INT(strlen(req.start.notes), 1024);

    CHECK_EQ_INT(parse("{\"cmd\":\"mark\",\"kind\":\"pain\",\"value\":2}"), 0);
    CHECK_EQ_INT(req.mark.pain, 2);
    CHECK(!strcmp(req.mark.kind, "pain"));
    CHECK_EQ_INT(parse("{\"cmd\":\"mark\",\"kind\":\"pain\",\"value\":10.0,\"detail\":\"knee\"}"),
                 0);
    CHECK_EQ_INT(req.mark.pain, 10);
    CHECK_EQ_INT(parse("{\"cmd\":\"mark\",\"kind\":\"note\",\"detail\":\"slipped on rep 2\"}"), 0);
    CHECK_EQ_INT(req.mark.pain, -1);
    CHECK(!strcmp(req.mark.detail, "slipped on rep 2"));

    CHECK_EQ_INT(parse("{\"cmd\":\"config\",\"set\":{\"on_N\":150,\"wave_decimation\":5,"
                       "\"live_hz\":25}}"),
                 0);
    CHECK(req.config.has[ND_CFG_ON_N] && req.config.has[ND_CFG_WAVE_DECIMATION]);
    CHECK(!req.config.has[ND_CFG_OFF_N]);
    CHECK_NEAR(req.config.value[ND_CFG_ON_N], 150, 0);
    nd_metric_settings s;
    memset(&s, 0, sizeof s);
    s.off_N = 42;
    nd_config_request_apply(&req.config, &s);
    CHECK_NEAR(s.on_N, 150, 0);
    CHECK_NEAR(s.off_N, 42, 0);
    CHECK(!strcmp(nd_cmd_name(ND_CMD_CALIBRATE), "calibrate"));
    CHECK(!strcmp(nd_config_key_name(ND_CFG_IMBALANCE_PCT), "imbalance_pct"));
}

static void test_bad_requests(void)
{
    expect_error("", "empty");
    expect_error("{", "not valid JSON");
    expect_error("[1,2]", "JSON object");
    expect_error("\"status\"", "JSON object");
    expect_error("{}", "needs \"cmd\"");
    expect_error("{\"cmd\":5}", "must be a string");
    expect_error("{\"cmd\":\"reboot\"}", "valid: status, devices, tare");
    expect_error("{\"cmd\":\"status\"} {\"cmd\":\"stop\"}", "after the JSON");
    expect_error("{\"cmd\":\"status\",\"x\":1}", "unknown field \"x\"");
    expect_error("{\"cmd\":\"status\",\"cmd\":\"stop\"}", "twice");
    expect_error("{\"cmd\":\"stop\",\"athlete_id\":\"A\"}", "unknown field");
    expect_error("{\"cmd\":\"tare\",\"side\":\"middle\"}", "\"side\" must be");
    expect_error("{\"cmd\":\"tare\",\"window_s\":0}", "out of range");
    expect_error("{\"cmd\":\"tare\",\"window_s\":\"1\"}", "must be a number");
    expect_error("{\"cmd\":\"calibrate\",\"mass_kg\":20}", "needs \"side\"");
    expect_error("{\"cmd\":\"calibrate\",\"side\":\"left\"}", "needs \"mass_kg\"");
    expect_error("{\"cmd\":\"calibrate\",\"side\":\"both\",\"mass_kg\":20}",
                 "\"left\" or \"right\"");
    expect_error("{\"cmd\":\"calibrate\",\"side\":\"left\",\"mass_kg\":0}", "out of range");
    expect_error("{\"cmd\":\"calibrate\",\"side\":\"left\",\"mass_kg\":-3}", "out of range");
    expect_error("{\"cmd\":\"calibrate\",\"side\":\"left\",\"mass_kg\":1e999}", "finite");
    expect_error("{\"cmd\":\"calibrate\",\"side\":\"left\",\"mass_kg\":true}", "number");
    expect_error("{\"cmd\":\"start\"}", "needs \"athlete_id\"");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"\"}", "1-64 characters");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\".hidden\"}", "not start with '.'");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"../etc\"}", "1-64 characters");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"a b\"}", "1-64 characters");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"J\\u00f6rg\"}", "1-64 characters");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":17}", "must be a string");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":null}", "must be a string");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"body_mass_kg\":0}", "out of range");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"body_mass_kg\":500.01}",
                 "out of range");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"lever_m\":1.6}", "out of range");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"lever_m\":[0.4]}", "number");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"injured_side\":\"both\"}",
                 "\"left\", \"right\" or \"none\"");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3-6\"}", "like \"3x6\"");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"0x6\"}", "like \"3x6\"");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x51\"}", "like \"3x6\"");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6x\"}", "like \"3x6\"");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"notes\":\"bell\\u0007\"}",
                 "control character");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"notes\":\"a\\u0000b\"}", "\\u0000");
    /* An escaped backslash followed by the text u0000 is no NUL: accepted as
     * written; an escaped backslash followed by a real \u0000 still is one. */
    CHECK_EQ_INT(parse("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"notes\":\"C:\\\\u0000x\"}"), 0);
    CHECK(strcmp(req.start.notes, "C:\\u0000x") == 0);
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"notes\":\"C:\\\\\\u0000x\"}",
                 "\\u0000");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"Athlete_id\":\"B\"}",
                 "unknown field \"Athlete_id\"");
    char buf[4096], id[66], notes[1026];
    memset(id, 'a', 65), id[65] = '\0';
    snprintf(buf, sizeof buf, "{\"cmd\":\"start\",\"athlete_id\":\"%s\"}", id);
    expect_error(buf, "too long");
    memset(notes, 'n', 1025), notes[1025] = '\0';
    snprintf(buf, sizeof buf, "{\"cmd\":\"start\",\"athlete_id\":\"A\",\"notes\":\"%s\"}", notes);
    expect_error(buf, "too long");
    expect_error("{\"cmd\":\"mark\"}", "needs \"kind\"");
    expect_error("{\"cmd\":\"mark\",\"kind\":\"pain\"}", "needs \"value\"");
    expect_error("{\"cmd\":\"mark\",\"kind\":\"pain\",\"value\":11}", "out of range");
    expect_error("{\"cmd\":\"mark\",\"kind\":\"pain\",\"value\":-1}", "out of range");
    expect_error("{\"cmd\":\"mark\",\"kind\":\"pain\",\"value\":2.5}", "integer");
    expect_error("{\"cmd\":\"mark\",\"kind\":\"pain\",\"value\":\"2\"}", "number");
    expect_error("{\"cmd\":\"mark\",\"kind\":\"note\",\"value\":2}", "only accepted with kind");
    expect_error("{\"cmd\":\"mark\",\"kind\":\"two words\"}", "\"kind\" must be");
    expect_error("{\"cmd\":\"config\",\"set\":5}", "must be an object");
    expect_error("{\"cmd\":\"config\",\"set\":{\"on_n\":100}}", "unknown config key \"on_n\"");
    expect_error("{\"cmd\":\"config\",\"set\":{\"live_hz\":0}}", "out of range");
    expect_error("{\"cmd\":\"config\",\"set\":{\"wave_decimation\":2.5}}", "integer");
    expect_error("{\"cmd\":\"config\",\"set\":{\"on_N\":1,\"on_N\":2}}", "twice");
    expect_error("{\"cmd\":\"config\",\"set\":{\"imbalance_pct\":-1e308}}", "out of range");
    /* Not JSON text at all. */
    const char junk[] = {'{', '"', 'c', 'm', 'd', '"', ':', '"', (char)0xC3, '"', '}'};
    CHECK_EQ_INT(nd_request_parse(junk, sizeof junk, &req, err, sizeof err), -1);
    CHECK(strstr(err, "UTF-8") != NULL);
    const char nul[] = "{\"cmd\":\"status\"}\0trailing";
    CHECK_EQ_INT(nd_request_parse(nul, sizeof nul - 1, &req, err, sizeof err), -1);
    CHECK(strstr(err, "NUL") != NULL);
    /* Oversize. */
    size_t big = ND_CONTROL_MAX_REQUEST + 1;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    memcpy(huge, "{\"cmd\":\"status\"}", 16);
    CHECK_EQ_INT(nd_request_parse(huge, big, &req, err, sizeof err), -1);
    CHECK(strstr(err, "too large") != NULL);
    /* Deep nesting is an error, not a stack overflow. */
    memset(huge, '[', ND_CONTROL_MAX_REQUEST);
    CHECK_EQ_INT(nd_request_parse(huge, ND_CONTROL_MAX_REQUEST, &req, err, sizeof err), -1);
    free(huge);
}

/* --------------------------------------------------------------- fuzzing */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const char *const seeds[] = {
    "{\"cmd\":\"status\"}",
    "{\"cmd\":\"tare\",\"side\":\"both\",\"window_s\":1}",
    "{\"cmd\":\"calibrate\",\"side\":\"left\",\"mass_kg\":20}",
    "{\"cmd\":\"start\",\"athlete_id\":\"A17\",\"body_mass_kg\":82,\"lever_m\":0.43,"
    "\"injured_side\":\"left\",\"notes\":\"n\",\"protocol\":\"3x6\"}",
    "{\"cmd\":\"mark\",\"kind\":\"pain\",\"value\":3,\"detail\":\"d\"}",
    "{\"cmd\":\"config\",\"set\":{\"on_N\":120,\"off_N\":60}}",
    "{\"cmd\":\"stop\"}",
};
static const char *const fragments[] = {
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "1e999",
    "-0",
    "1e-400",
    "\\u0000",
    "\\ud800",
    "\"cmd\"",
    "\"start\"",
    "\"athlete_id\"",
    "\"value\"",
    "\"set\"",
    "9999999999999999999999",
    "\xff",
    "\xc0\x80",
    "\xed\xa0\x80",
    "\xf4\x90\x80\x80",
    "NaN",
    "Infinity",
    "0x10",
};

/* A parsed request must satisfy every documented constraint. */
static bool request_valid(const nd_request *r)
{
    switch (r->cmd) {
    case ND_CMD_START: {
        const char *id = r->start.athlete_id;
        size_t n = strlen(id);
        if (n < 1 || n > 64 || id[0] == '.') return false;
        for (size_t i = 0; i < n; i++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", id[i]))
                return false;
        const nd_subject *s = &r->start.subject;
        if (!(s->body_mass_kg >= 0 && s->body_mass_kg <= 500)) return false;
        if (!(s->lever_m >= 0 && s->lever_m <= 1.5)) return false;
        return strlen(r->start.notes) <= ND_NOTES_MAX;
    }
    case ND_CMD_MARK:
        if (!strcmp(r->mark.kind, "pain")) return r->mark.pain >= 0 && r->mark.pain <= 10;
        return r->mark.pain == -1 && r->mark.kind[0];
    case ND_CMD_CALIBRATE:
        return (r->calibrate.side == ND_LEFT || r->calibrate.side == ND_RIGHT) &&
               r->calibrate.mass_kg > 0 && r->calibrate.mass_kg <= 500;
    case ND_CMD_TARE:
        return (r->tare.left || r->tare.right) && r->tare.window_s >= 0;
    case ND_CMD_CONFIG:
        for (int k = 0; k < ND_CFG_COUNT; k++)
            if (r->config.has[k] && !isfinite(r->config.value[k])) return false;
        return true;
    default:
        return (unsigned)r->cmd < ND_CMD_COUNT;
    }
}

static size_t make_case(char *buf, size_t cap, int kind)
{
    size_t n = 0;
    switch (kind) {
    case 0: /* random bytes */
        n = rnd() % 300;
        for (size_t i = 0; i < n; i++) buf[i] = (char)rnd();
        break;
    case 1: /* concatenated JSON-ish fragments */
        for (int k = (int)(rnd() % 24); k >= 0; k--) {
            const char *f = fragments[rnd() % (sizeof fragments / sizeof *fragments)];
            size_t l = strlen(f);
            if (n + l >= cap) break;
            memcpy(buf + n, f, l), n += l;
        }
        break;
    case 2: /* mutated valid request */
    default: {
        const char *s = seeds[rnd() % (sizeof seeds / sizeof *seeds)];
        n = strlen(s);
        memcpy(buf, s, n);
        for (int m = (int)(rnd() % 4); m >= 0; m--) {
            size_t at = n ? rnd() % n : 0;
            switch (rnd() % 5) {
            case 0:
                buf[at] = (char)rnd();
                break; /* flip */
            case 1:
                n = at;
                break; /* truncate */
            case 2:    /* insert fragment */
            {
                const char *f = fragments[rnd() % (sizeof fragments / sizeof *fragments)];
                size_t l = strlen(f);
                if (n + l < cap) {
                    memmove(buf + at + l, buf + at, n - at);
                    memcpy(buf + at, f, l);
                    n += l;
                }
                break;
            }
            case 3: /* overlong string run */
            {
                size_t l = 1 + rnd() % 2000;
                if (n + l < cap) {
                    memmove(buf + at + l, buf + at, n - at);
                    memset(buf + at, 'A' + (int)(rnd() % 26), l);
                    n += l;
                }
                break;
            }
            case 4: /* delete a byte */
                if (n) memmove(buf + at, buf + at + 1, n - at - 1), n--;
                break;
            }
        }
        break;
    }
    }
    return n;
}

/* Sessions (METRICS.md 5): set next, rest, gap and the target zone. */
static void test_session_requests(void)
{
    CHECK_EQ_INT(parse("{\"cmd\":\"set\",\"action\":\"next\"}"), 0);
    CHECK_EQ_INT(req.cmd, ND_CMD_SET);
    CHECK_EQ_INT(req.set.action, ND_SET_ACTION_NEXT);
    expect_error("{\"cmd\":\"set\"}", "set needs \"action\"");
    expect_error("{\"cmd\":\"set\",\"action\":\"prev\"}", "unknown set action \"prev\"");
    expect_error("{\"cmd\":\"set\",\"action\":1}", "\"action\" must be a string");
    expect_error("{\"cmd\":\"set\",\"action\":\"next\",\"set\":2}", "unknown field \"set\"");

    /* Defaults with a protocol: rest 120 s, gap 60 s, no zone. */
    CHECK_EQ_INT(parse("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6\"}"), 0);
    CHECK_EQ_INT(req.start.plan.sets, 3);
    CHECK_EQ_INT(req.start.plan.reps, 6);
    CHECK_NEAR(req.start.plan.rest_s, 120, 0);
    CHECK_NEAR(req.start.plan.set_gap_s, 60, 0);
    CHECK(isnan(req.start.plan.zone_lo_N[0]) && isnan(req.start.plan.zone_hi_N[1]));
    /* Zone in N with the default 10 % tolerance. */
    CHECK_EQ_INT(parse("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"2x8\","
                       "\"rest_s\":90,\"set_gap_s\":45,\"target_left_N\":300}"),
                 0);
    CHECK_NEAR(req.start.plan.rest_s, 90, 0);
    CHECK_NEAR(req.start.plan.set_gap_s, 45, 0);
    CHECK_NEAR(req.start.plan.zone_lo_N[0], 270, 1e-9);
    CHECK_NEAR(req.start.plan.zone_hi_N[0], 330, 1e-9);
    CHECK(isnan(req.start.plan.zone_lo_N[1]));
    /* Zone as 80 % of the best, tolerance 5 %: 0.8 * 400 = 320 -> 304..336. */
    CHECK_EQ_INT(parse("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"2x8\","
                       "\"target_pct\":80,\"best_left_N\":400,\"best_right_N\":350,"
                       "\"target_tolerance_pct\":5}"),
                 0);
    CHECK_NEAR(req.start.plan.zone_lo_N[0], 304, 1e-9);
    CHECK_NEAR(req.start.plan.zone_hi_N[0], 336, 1e-9);
    CHECK_NEAR(req.start.plan.zone_lo_N[1], 266, 1e-9);
    CHECK_NEAR(req.start.plan.zone_hi_N[1], 294, 1e-9);
    CHECK(req.start.plan.best_source[0] == '\0');
    /* Where the best came from is kept verbatim (stored with the zone). */
    CHECK_EQ_INT(parse("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"2x8\","
                       "\"target_pct\":80,\"best_left_N\":400,\"best_right_N\":350,"
                       "\"best_source\":\"index: L 400 N (trial t1, rep 2)\"}"),
                 0);
    CHECK(strcmp(req.start.plan.best_source, "index: L 400 N (trial t1, rep 2)") == 0);
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6\","
                 "\"target_left_N\":300,\"best_source\":\"index\"}",
                 "\"best_source\" needs \"target_pct\"");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"best_source\":\"index\"}",
                 "\"best_source\" needs a \"protocol\"");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6\","
                 "\"target_pct\":80,\"best_left_N\":400,\"best_source\":\"a\\nb\"}",
                 "control character");
    {
        char big[600], msg[800];
        memset(big, 'x', 256);
        big[256] = '\0';
        snprintf(msg, sizeof msg,
                 "{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6\","
                 "\"target_pct\":80,\"best_left_N\":400,\"best_source\":\"%s\"}",
                 big);
        expect_error(msg, "\"best_source\" is too long");
    }

    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"rest_s\":60}",
                 "\"rest_s\" needs a \"protocol\"");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6\",\"rest_s\":-1}",
                 "rest_s");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6\",\"set_gap_s\":0.5}",
                 "set_gap_s");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6\",\"target_pct\":80}",
                 "needs best_left_N");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6\",\"best_left_N\":80}",
                 "need \"target_pct\"");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6\",\"target_left_N\":"
                 "300,\"target_pct\":80,\"best_left_N\":400}",
                 "not both");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6\","
                 "\"target_tolerance_pct\":5}",
                 "needs a target");
    expect_error(
        "{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6\",\"target_left_N\":0}",
        "target_left_N");

    /* Isometric tests (METRICS.md 5.7): the angle is required, 0..90, and
     * only for isometric tests; a Nordic plan has none. */
    CHECK_EQ_INT(parse("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6\"}"), 0);
    CHECK(req.start.plan.test == ND_TEST_NORDIC && isnan(req.start.plan.angle_deg));
    CHECK_EQ_INT(parse("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"6x3\","
                       "\"test\":\"isometric\",\"angle_deg\":30,\"leg\":\"right\"}"),
                 0);
    CHECK_EQ_INT(req.start.plan.test, ND_TEST_ISOMETRIC);
    CHECK_NEAR(req.start.plan.angle_deg, 30, 0);
    CHECK_EQ_INT(req.start.plan.leg, ND_SIDE_RIGHT);
    CHECK_EQ_INT(parse("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"1x1\","
                       "\"test\":\"isometric\",\"angle_deg\":90}"),
                 0);
    CHECK_NEAR(req.start.plan.angle_deg, 90, 0);
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6\","
                 "\"test\":\"isometric\"}",
                 "needs \"angle_deg\"");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6\","
                 "\"test\":\"isometric\",\"angle_deg\":90.5}",
                 "\"angle_deg\" = 90.5 is out of range [0, 90]");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6\","
                 "\"angle_deg\":30}",
                 "\"angle_deg\" is for \"test\": \"isometric\" only");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"protocol\":\"3x6\","
                 "\"test\":\"hold\",\"angle_deg\":30}",
                 "unknown test \"hold\"");
    expect_error("{\"cmd\":\"start\",\"athlete_id\":\"A\",\"test\":\"isometric\","
                 "\"angle_deg\":30}",
                 "\"test\" needs a \"protocol\"");
    CHECK_EQ_INT(parse("{\"cmd\":\"set\",\"action\":\"next\",\"angle_deg\":60,\"leg\":\"left\"}"),
                 0);
    CHECK(req.set.set_angle && req.set.angle_deg == 60 && req.set.switch_leg &&
          req.set.leg == ND_SIDE_LEFT);
    CHECK_EQ_INT(parse("{\"cmd\":\"set\",\"action\":\"next\"}"), 0);
    CHECK(!req.set.set_angle);
    expect_error("{\"cmd\":\"set\",\"action\":\"next\",\"angle_deg\":-1}",
                 "\"angle_deg\" = -1 is out of range [0, 90]");
    expect_error("{\"cmd\":\"set\",\"action\":\"next\",\"angle_deg\":\"30\"}",
                 "\"angle_deg\" must be a number");
}

static void test_fuzz(void)
{
    enum { CASES = 30000, CAP = 8192 };
    int accepted = 0, refused = 0, bad = 0;
    for (int i = 0; i < CASES; i++) {
        /* Exact-size heap copy so ASan catches any read past the end. */
        char tmp[CAP];
        size_t n = make_case(tmp, CAP, i % 3);
        char *b = malloc(n ? n : 1);
        memcpy(b, tmp, n);
        err[0] = '\0';
        int rc = nd_request_parse(b, n, &req, err, sizeof err);
        if (rc == 0) {
            accepted++;
            if (!request_valid(&req)) {
                bad++;
                fprintf(stderr, "accepted an invalid request: %.*s\n", (int)(n > 200 ? 200 : n), b);
            }
        } else if (rc == -1 && err[0]) {
            refused++;
        } else {
            bad++;
        }
        free(b);
    }
    printf("fuzz: %d cases, %d accepted (all valid), %d refused with a message\n", CASES, accepted,
           refused);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(accepted + refused, CASES);
    CHECK(refused > CASES / 2);
}

int main(void)
{
    test_good_requests();
    test_bad_requests();
    test_session_requests();
    test_fuzz();
    return nd_test_finish("test_control_parse");
}
