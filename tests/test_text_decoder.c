/* Text line decoder: presets, banners, partial lines, bad input, options. */
#include <stdlib.h>
#include <string.h>

#include "nd_text_decoder.h"
#include "test_util.h"

#define MAXS 256
static nd_sample got[MAXS];
static size_t ngot;

static void collect(void *ctx, const nd_sample *s, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n && ngot < MAXS; i++) got[ngot++] = s[i];
}

static nd_device dev;

static nd_text_decoder *make(const char *uri_text, nd_text_config *cfg_out)
{
    memset(&dev, 0, sizeof dev);
    dev.sink.samples = collect;
    ngot = 0;
    nd_uri uri;
    char err[256];
    if (nd_uri_parse(uri_text, &uri, err, sizeof err) < 0) {
        fprintf(stderr, "uri: %s\n", err);
        return NULL;
    }
    nd_text_config cfg;
    int rc = nd_text_config_from_uri(&cfg, &uri, "csv", err, sizeof err);
    nd_uri_free(&uri);
    if (rc < 0) {
        fprintf(stderr, "config: %s\n", err);
        return NULL;
    }
    if (cfg_out) *cfg_out = cfg;
    return nd_text_decoder_new(&dev, &cfg);
}

static void feed_str(nd_text_decoder *d, const char *s)
{
    nd_text_decoder_feed(d, (const uint8_t *)s, strlen(s), 42);
}

static void test_hx711_banner_and_partial(void)
{
    nd_text_config cfg;
    nd_text_decoder *d = make("serial:/dev/x?preset=hx711-adc-2x", &cfg);
    CHECK(d != NULL);
    if (!d) return;
    /* Connecting mid-line: "ut val: 3.00 ..." is the tail of a line. */
    feed_str(d, "ut val: 3.00    Load_cell 2 output val: 4.00\r\n"
                "Starting...\r\n"
                "Startup is complete\r\n"
                "Load_cell 1 output val: 12.34    Load_cell 2 output val: -5.50\r\n"
                "Load_cell 1 output val: 1e2    Load_cell 2 output val: .5\n"
                "Load_cell 1 output val: 7.00\r\n" /* right value missing: bad */
                "Load_cell 1 output val: 8.00    Load_cell 2 output"); /* unfinished */
    CHECK_EQ_INT(ngot, 2);
    CHECK_EQ_INT(got[0].raw[0], 1234);
    CHECK_EQ_INT(got[0].raw[1], -550);
    CHECK_EQ_INT(got[1].raw[0], 10000);
    CHECK_EQ_INT(got[1].raw[1], 50);
    CHECK_EQ_INT(got[0].nch, 2);
    CHECK_EQ_INT(got[0].seq, 0);
    CHECK_EQ_INT(got[1].seq, 1);
    CHECK_EQ_INT(got[0].host_ns, 42);
    CHECK_EQ_INT(atomic_load(&dev.counters.lines_ok), 2);
    /* partial first line, two banners, the short line */
    CHECK_EQ_INT(atomic_load(&dev.counters.lines_bad), 4);
    /* The unfinished line completes with the next bytes. */
    feed_str(d, " val: 9.00\r\n");
    CHECK_EQ_INT(ngot, 3);
    CHECK_EQ_INT(got[2].raw[0], 800);
    CHECK_EQ_INT(got[2].raw[1], 900);
    /* reset forgets a partial line and skips the next fragment again. */
    feed_str(d, "Load_cell 1 output val: 1.00    Load");
    nd_text_decoder_reset(d);
    feed_str(d, "_cell 2 output val: 2.00\r\nLoad_cell 1 output val: 3.00    Load_cell 2 output "
                "val: 4.00\r\n");
    CHECK_EQ_INT(ngot, 4);
    CHECK_EQ_INT(got[3].raw[0], 300);
    CHECK_EQ_INT(got[3].seq, 3);
    nd_device_info info;
    nd_text_config_info(&cfg, &info);
    CHECK_EQ_INT(info.nch, 2);
    CHECK_NEAR(info.counts_per_newton[0], 100.0 / 0.00980665, 1e-6);
    CHECK(strcmp(info.channel_names[1], "right") == 0);
    nd_text_decoder_free(d);
}

static void test_split_feeds_equal_whole(void)
{
    const char *stream = "junk\n10,20\r\n-30 , 40\r\n\r\n\n50;60;70\r99\n";
    nd_text_decoder *d = make("serial:/dev/x?preset=csv", NULL);
    CHECK(d != NULL);
    if (!d) return;
    for (size_t i = 0; stream[i]; i++) nd_text_decoder_feed(d, (const uint8_t *)stream + i, 1, i);
    CHECK_EQ_INT(ngot, 3);
    CHECK_EQ_INT(got[0].raw[0], 10);
    CHECK_EQ_INT(got[0].raw[1], 20);
    CHECK_EQ_INT(got[1].raw[0], -30);
    CHECK_EQ_INT(got[1].raw[1], 40);
    CHECK_EQ_INT(got[2].raw[0], 50);
    CHECK_EQ_INT(got[2].raw[1], 60);
    /* "junk" (partial first) and "99" (one number only); empty lines are not counted */
    CHECK_EQ_INT(atomic_load(&dev.counters.lines_bad), 2);
    nd_text_decoder_free(d);
}

static void test_openscale_time_and_unit(void)
{
    nd_text_decoder *d = make("serial:/dev/x?preset=openscale&first_line=keep", NULL);
    CHECK(d != NULL);
    if (!d) return;
    feed_str(d, "Readings:\r\n1500,2.25,lbs,\r\n1600,1.00,kg,\r\n4294968,0.001,lbs,\r\n");
    CHECK_EQ_INT(ngot, 2);
    CHECK_EQ_INT(got[0].raw[0], 2250);
    CHECK_EQ_INT(got[0].nch, 1);
    CHECK_EQ_INT(got[0].dev_t_us, 1500000);
    /* 4294968 ms = 4294968000 us wraps past 2^32 like a device clock */
    CHECK_EQ_INT(got[1].dev_t_us, (uint32_t)(4294968000ull & 0xffffffffu));
    CHECK_EQ_INT(got[1].raw[0], 1);
    CHECK_EQ_INT(atomic_load(&dev.counters.lines_bad), 2); /* banner, kg line */
    nd_text_decoder_free(d);
}

static void test_bad_input_counted(void)
{
    nd_text_decoder *d = make("serial:/dev/x?preset=csv&first_line=keep&scale=1000&unit=kg", NULL);
    CHECK(d != NULL);
    if (!d) return;
    char longline[ND_TEXT_MAX_LINE + 100];
    memset(longline, '1', sizeof longline - 2);
    longline[sizeof longline - 2] = '\n';
    longline[sizeof longline - 1] = '\0';
    feed_str(d, longline);               /* too long */
    feed_str(d, "3000000,1\n");          /* 3e9 counts: beyond int32 */
    feed_str(d, "1.5,\x01\x02\xff,2\n"); /* binary noise */
    feed_str(d, "HX711 ttyACM0\n");      /* digits glued to letters: no numbers */
    feed_str(d, "nan,inf\n");            /* not numbers */
    feed_str(d, "1.5,2.5\n");
    CHECK_EQ_INT(ngot, 1);
    CHECK_EQ_INT(got[0].raw[0], 1500);
    CHECK_EQ_INT(got[0].raw[1], 2500);
    CHECK_EQ_INT(atomic_load(&dev.counters.lines_bad), 5);
    nd_text_decoder_free(d);
}

static void test_custom_pattern(void)
{
    /* "t=<ms> a=<x> b=<y> c=<z>": right is column 3, left column 1. */
    nd_text_decoder *d =
        make("serial:/dev/x?preset=csv&channels=3,1&time=0&time_unit=us&fields=4&match=t%3D"
             "&first_line=keep&unit=N&scale=10",
             NULL);
    CHECK(d != NULL);
    if (!d) return;
    feed_str(d, "t=77 a=1.25 b=9 c=-2\nx=1 a=1 b=2 c=3\nt=1 a=1 b=2\n");
    CHECK_EQ_INT(ngot, 1);
    CHECK_EQ_INT(got[0].raw[0], -20);
    CHECK_EQ_INT(got[0].raw[1], 13); /* llround(12.5) */
    CHECK_EQ_INT(got[0].dev_t_us, 77);
    CHECK_EQ_INT(atomic_load(&dev.counters.lines_bad), 2);
    nd_text_decoder_free(d);
}

static void test_number_extraction(void)
{
    double v[8];
    CHECK_EQ_INT(nd_text_extract_numbers("HX711 v0.7 ttyACM0", v, 8), 0);
    CHECK_EQ_INT(nd_text_extract_numbers("a -1.5e3, +.25 x=7E-1 1e", v, 8), 4);
    CHECK_NEAR(v[0], -1500, 1e-9);
    CHECK_NEAR(v[1], 0.25, 1e-12);
    CHECK_NEAR(v[2], 0.7, 1e-12);
    CHECK_NEAR(v[3], 1, 1e-12);
    char big[200];
    memset(big, '9', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_EQ_INT(nd_text_extract_numbers(big, v, 8), -1);
}

static void expect_config_error(const char *uri_text, const char *needle)
{
    nd_uri uri;
    char err[256] = "";
    CHECK(nd_uri_parse(uri_text, &uri, err, sizeof err) == 0);
    nd_text_config cfg;
    int rc = nd_text_config_from_uri(&cfg, &uri, "csv", err, sizeof err);
    CHECK_EQ_INT(rc, -1);
    CHECK(strstr(err, needle) != NULL);
    if (!strstr(err, needle)) fprintf(stderr, "  error was: %s\n", err);
    nd_uri_free(&uri);
}

static void test_config_errors(void)
{
    expect_config_error("serial:/x?preset=hx712", "preset=hx712");
    expect_config_error("serial:/x?unit=stone", "unit=stone");
    expect_config_error("serial:/x?channels=0,x", "channels=0,x");
    expect_config_error("serial:/x?channels=0,1,2,3,4,5,6,7,8", "channels=");
    expect_config_error("serial:/x?channels=5&fields=2", "fields=2");
    expect_config_error("serial:/x?time_unit=min", "time_unit=min");
    expect_config_error("serial:/x?first_line=maybe", "first_line=maybe");
    expect_config_error("serial:/x?scale=0", "scale");
}

int main(void)
{
    test_hx711_banner_and_partial();
    test_split_feeds_equal_whole();
    test_openscale_time_and_unit();
    test_bad_input_counted();
    test_custom_pattern();
    test_number_extraction();
    test_config_errors();
    return nd_test_finish("text_decoder");
}
