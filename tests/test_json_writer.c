/* The allocation-free JSON writer against the JSON grammar (RFC 8259) and
 * independent readers: strtod/strtoull for numbers, cJSON's parser for
 * strings and structure. Escapes, integers up to 2^64 - 1, exact double
 * round trips, NaN/inf as null, 0.01 fixed point equal to round(v*100)/100,
 * and refusal (never truncation) when the buffer is too small. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nd_json_writer.h"
#include "test_util.h"

typedef void (*write_fn)(nd_json_writer *w, const void *arg);

/* The text one value gives on its own (static buffer). */
static const char *text_of(write_fn fn, const void *arg)
{
    static char buf[512];
    nd_json_writer w;
    nd_jw_init(&w, buf, sizeof buf);
    fn(&w, arg);
    return nd_jw_finish(&w) >= 0 ? buf : "<failed>";
}

static void write_double(nd_json_writer *w, const void *arg)
{
    nd_jw_double(w, *(const double *)arg);
}

static void write_fixed2(nd_json_writer *w, const void *arg)
{
    nd_jw_fixed2(w, *(const double *)arg);
}

static void write_uint(nd_json_writer *w, const void *arg)
{
    nd_jw_uint(w, *(const uint64_t *)arg);
}

static void write_int(nd_json_writer *w, const void *arg)
{
    nd_jw_int(w, *(const int64_t *)arg);
}

static void write_string(nd_json_writer *w, const void *arg)
{
    nd_jw_string(w, arg);
}

/* A JSON integer: optional '-', digits, nothing else (RFC 8259 int). */
static bool is_json_integer(const char *s)
{
    if (*s == '-') s++;
    if (!*s || (s[0] == '0' && s[1])) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_strings(void)
{
    /* RFC 8259 7: '"', '\\' and U+0000..U+001F must be escaped; UTF-8 may pass. */
    const char *in = "a\"b\\c/\n\r\t\b\f\x01\x1f\x7f caf\xc3\xa9 \xe2\x82\xac";
    const char *want = "\"a\\\"b\\\\c/\\n\\r\\t\\b\\f\\u0001\\u001f\x7f caf\xc3\xa9 \xe2\x82\xac\"";
    const char *got = text_of(write_string, in);
    CHECK(!strcmp(got, want));
    cJSON *back = cJSON_Parse(got);
    CHECK(cJSON_IsString(back) && !strcmp(back->valuestring, in));
    cJSON_Delete(back);
    CHECK(!strcmp(text_of(write_string, ""), "\"\""));
    /* Every control character alone reads back as itself. */
    for (int c = 1; c < 0x20; c++) {
        char s[2] = {(char)c, 0};
        back = cJSON_Parse(text_of(write_string, s));
        CHECK(cJSON_IsString(back) && !strcmp(back->valuestring, s));
        cJSON_Delete(back);
    }
}

static void test_integers(void)
{
    const uint64_t u[] = {0, 1, 9, 10, 4294967296ull, (1ull << 53) + 1, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        const char *t = text_of(write_uint, &u[i]);
        CHECK(is_json_integer(t));
        errno = 0;
        CHECK(strtoull(t, NULL, 10) == u[i] && errno == 0);
    }
    CHECK(!strcmp(text_of(write_uint, &u[7]), "18446744073709551615"));
    const int64_t s[] = {0, -1, 42, -(1ll << 53) - 1, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        const char *t = text_of(write_int, &s[i]);
        CHECK(is_json_integer(t));
        errno = 0;
        CHECK(strtoll(t, NULL, 10) == s[i] && errno == 0);
    }
    CHECK(!strcmp(text_of(write_int, &s[5]), "-9223372036854775808"));
}

static void test_doubles(void)
{
    /* Integral values stay JSON integers (as cJSON prints them). */
    const double integral[] = {0, -0.0, 7, -120, 1e6, 123456789012345.0};
    for (size_t i = 0; i < sizeof integral / sizeof integral[0]; i++) {
        const char *t = text_of(write_double, &integral[i]);
        CHECK(is_json_integer(t) && strtod(t, NULL) == integral[i]);
    }
    const double special[] = {NAN, -NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 4; i++) {
        CHECK(!strcmp(text_of(write_double, &special[i]), "null"));
        CHECK(!strcmp(text_of(write_fixed2, &special[i]), "null"));
    }
    const double some[] = {0.1,  2.25, -1e-300, 5e-324, 1.7976931348623157e308,
                           1e15, 0.07, 1.0 / 3, 220.75};
    for (size_t i = 0; i < sizeof some / sizeof some[0]; i++) {
        double back = strtod(text_of(write_double, &some[i]), NULL);
        CHECK(memcmp(&back, &some[i], sizeof back) == 0);
    }
    CHECK(!strcmp(text_of(write_double, &some[0]), "0.1")); /* short when exact */
    /* A million random finite bit patterns read back bit for bit. */
    long bad = 0;
    for (int i = 0; i < 1000000; i++) {
        uint64_t bits = next_random();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v) || v == 0) continue;
        const char *t = text_of(write_double, &v);
        double back = strtod(t, NULL);
        if (memcmp(&back, &v, sizeof v) != 0) {
            if (bad++ < 5) fprintf(stderr, "round trip %.17g -> %s\n", v, t);
        }
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_fixed2(void)
{
    struct {
        double v;
        const char *want;
    } cases[] = {
        {0.005, "0.01"},  {-0.005, "-0.01"}, {1e6, "1000000"}, {1.5, "1.5"},
        {1.234, "1.23"},  {-0.001, "0"},     {-0.5, "-0.5"},   {0.07, "0.07"},
        {-12.3, "-12.3"}, {99.995, "100"},   {0.105, "0.11"}, /* 0.105 * 100 gives 10.5 in doubles:
                                                                 halves go away from 0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *t = text_of(write_fixed2, &cases[i].v);
        if (strcmp(t, cases[i].want))
            fprintf(stderr, "fixed2(%.17g) = %s, want %s\n", cases[i].v, t, cases[i].want);
        CHECK(!strcmp(t, cases[i].want));
    }
    /* The reader gets exactly round(v*100)/100, with at most two decimals. */
    long bad = 0;
    for (int i = 0; i < 1000000; i++) {
        double v = ((double)(next_random() >> 11) / 9007199254740992.0 - 0.5) * 2e5;
        if (i % 4 == 0) v /= 1e4;
        const char *t = text_of(write_fixed2, &v);
        const char *dot = strchr(t, '.');
        double back = strtod(t, NULL);
        if (back != round(v * 100) / 100 || (dot && strlen(dot) > 3) || strchr(t, 'e')) {
            if (bad++ < 5) fprintf(stderr, "fixed2 %.17g -> %s\n", v, t);
        }
    }
    CHECK_EQ_INT(bad, 0);
    /* Beyond exact integers of hundredths: still the same double. */
    const double huge[] = {123456789012345.67, -3e20, 1e300};
    for (size_t i = 0; i < 3; i++)
        CHECK(strtod(text_of(write_fixed2, &huge[i]), NULL) == round(huge[i] * 100) / 100);
}

static void write_document(nd_json_writer *w)
{
    nd_jw_begin_object(w);
    nd_jw_key(w, "a");
    nd_jw_int(w, 1);
    nd_jw_key(w, "b");
    nd_jw_begin_array(w);
    nd_jw_uint(w, 1);
    nd_jw_fixed2(w, 2.5);
    nd_jw_begin_object(w);
    nd_jw_key(w, "c");
    nd_jw_null(w);
    nd_jw_end_object(w);
    nd_jw_begin_array(w);
    nd_jw_end_array(w);
    nd_jw_end_array(w);
    nd_jw_key(w, "d\"");
    nd_jw_bool(w, true);
    nd_jw_key(w, "e");
    nd_jw_bool(w, false);
    nd_jw_key(w, "f");
    nd_jw_string(w, "x");
    nd_jw_end_object(w);
}

static void test_structure_and_overflow(void)
{
    const char *want =
        "{\"a\":1,\"b\":[1,2.5,{\"c\":null},[]],\"d\\\"\":true,\"e\":false,\"f\":\"x\"}";
    char buf[256];
    nd_json_writer w;
    nd_jw_init(&w, buf, sizeof buf);
    write_document(&w);
    ssize_t len = nd_jw_finish(&w);
    CHECK(len == (ssize_t)strlen(want) && !strcmp(buf, want));
    cJSON *j = cJSON_Parse(buf);
    CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "b")) == 4);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "d\"")));
    cJSON_Delete(j);

    /* Every buffer too small for text + NUL is refused; big enough gives it all. */
    size_t need = strlen(want) + 1;
    for (size_t cap = 0; cap <= need + 1; cap++) {
        char small[256];
        memset(small, '#', sizeof small);
        nd_jw_init(&w, small, cap);
        write_document(&w);
        ssize_t n = nd_jw_finish(&w);
        if (cap < need) {
            CHECK(n == -1);
            CHECK(small[cap] == '#'); /* nothing written past the buffer */
        } else {
            CHECK(n == (ssize_t)strlen(want) && !strcmp(small, want));
        }
    }

    /* Unbalanced containers are refused too. */
    nd_jw_init(&w, buf, sizeof buf);
    nd_jw_begin_object(&w);
    CHECK(nd_jw_finish(&w) == -1);
    nd_jw_init(&w, buf, sizeof buf);
    nd_jw_begin_array(&w);
    nd_jw_end_array(&w);
    nd_jw_end_array(&w);
    CHECK(nd_jw_finish(&w) == -1);
}

int main(void)
{
    test_strings();
    test_integers();
    test_doubles();
    test_fixed2();
    test_structure_and_overflow();
    return nd_test_finish("test_json_writer");
}
