/* Device URI parser: good forms, every malformed form (each must give -1 and a
 * one-line message), typed getters and key checking. */
#include <string.h>

#include "nd_device.h"
#include "nd_uri.h"
#include "test_util.h"

static char err[256];

/* Parsing must fail with a non-empty, single-line message containing want. */
static void expect_bad(const char *text, const char *want)
{
    nd_uri u;
    err[0] = '\0';
    int rc = nd_uri_parse(text, &u, err, sizeof err);
    CHECK_EQ_INT(rc, -1);
    CHECK(err[0] != '\0');
    CHECK(strchr(err, '\n') == NULL);
    if (!strstr(err, want)) fprintf(stderr, "  '%s' -> '%s' (wanted '%s')\n", text, err, want);
    CHECK(strstr(err, want) != NULL);
    CHECK(u.scheme == NULL && u.nparams == 0); /* nothing left to free */
}

static void test_good(void)
{
    nd_uri u;
    CHECK_EQ_INT(nd_uri_parse("serial:/dev/ttyACM0?baud=921600&proto=nfp", &u, err, sizeof err), 0);
    CHECK(strcmp(u.scheme, "serial") == 0);
    CHECK(strcmp(u.path, "/dev/ttyACM0") == 0);
    CHECK_EQ_INT(u.nparams, 2);
    CHECK(strcmp(nd_uri_get(&u, "baud"), "921600") == 0);
    CHECK(strcmp(nd_uri_get(&u, "proto"), "nfp") == 0);
    CHECK(nd_uri_get(&u, "parity") == NULL);
    nd_uri_free(&u);

    CHECK_EQ_INT(nd_uri_parse("sim:", &u, err, sizeof err), 0);
    CHECK(strcmp(u.scheme, "sim") == 0 && u.path[0] == '\0' && u.nparams == 0);
    nd_uri_free(&u);

    CHECK_EQ_INT(nd_uri_parse("sim:?", &u, err, sizeof err), 0);
    CHECK_EQ_INT(u.nparams, 0);
    nd_uri_free(&u);

    /* Colons in the path, upper-case scheme normalised, scheme punctuation. */
    CHECK_EQ_INT(nd_uri_parse("TCP:[::1]:7000?proto=nfp", &u, err, sizeof err), 0);
    CHECK(strcmp(u.scheme, "tcp") == 0 && strcmp(u.path, "[::1]:7000") == 0);
    nd_uri_free(&u);
    CHECK_EQ_INT(nd_uri_parse("usb+nfp.v1-x:1209:0001", &u, err, sizeof err), 0);
    CHECK(strcmp(u.scheme, "usb+nfp.v1-x") == 0 && strcmp(u.path, "1209:0001") == 0);
    nd_uri_free(&u);

    /* Percent-decoding in path, key and value; '+' stays a plus; empty value. */
    CHECK_EQ_INT(nd_uri_parse("file:/tmp/a%20b%3Fc.bin?na%6De=x%26y%3dz&plus=a+b&empty=", &u, err,
                              sizeof err),
                 0);
    CHECK(strcmp(u.path, "/tmp/a b?c.bin") == 0);
    CHECK(strcmp(nd_uri_get(&u, "name"), "x&y=z") == 0);
    CHECK(strcmp(nd_uri_get(&u, "plus"), "a+b") == 0);
    CHECK(strcmp(nd_uri_get(&u, "empty"), "") == 0);
    nd_uri_free(&u);

    /* Exactly the maximum number of parameters is fine. */
    char text[512] = "sim:?";
    for (int i = 0; i < ND_URI_MAX_PARAMS; i++) {
        char kv[16];
        snprintf(kv, sizeof kv, "%sk%d=%d", i ? "&" : "", i, i);
        strcat(text, kv);
    }
    CHECK_EQ_INT(nd_uri_parse(text, &u, err, sizeof err), 0);
    CHECK_EQ_INT(u.nparams, ND_URI_MAX_PARAMS);
    CHECK(strcmp(nd_uri_get(&u, "k31"), "31") == 0);
    nd_uri_free(&u);
    strcat(text, "&k32=1");
    expect_bad(text, "too many options");

    nd_uri_free(&u); /* freeing twice is harmless (zeroed) */
}

static void test_bad(void)
{
    expect_bad("", "empty device URI");
    expect_bad(NULL, "empty device URI");
    expect_bad("sim", "no scheme");
    expect_bad("/dev/ttyACM0", "no scheme");
    expect_bad("sim?rate=1:2", "no scheme");
    expect_bad(":path", "empty scheme");
    expect_bad("1sim:", "scheme '1sim' is invalid");
    expect_bad("si m:", "scheme 'si m' is invalid");
    expect_bad("sim_x:", "scheme 'sim_x' is invalid");
    expect_bad("sim:?rate=1&rate=2", "'rate' is given twice");
    expect_bad("sim:?rate=1&r%61te=2", "'rate' is given twice");
    expect_bad("sim:?=5", "empty key");
    expect_bad("sim:?rate", "has no value");
    expect_bad("sim:?rate=1&&reps=2", "empty option");
    expect_bad("sim:?rate=1&", "empty option");
    expect_bad("file:/tmp/a%2", "bad percent escape");
    expect_bad("file:/tmp/a%zz", "bad percent escape");
    expect_bad("sim:?rate=%4", "bad percent escape");
    expect_bad("sim:?ra%g0te=1", "bad percent escape");
    expect_bad("file:/tmp/a%00b", "%00");
    char longer[700];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    memcpy(longer, "file:", 5);
    expect_bad(longer, "too long");
}

static void test_getters(void)
{
    nd_uri u;
    CHECK_EQ_INT(nd_uri_parse("sim:?rate=1000&neg=-5&big=99999999999999999999&x=12x&sp= 1"
                              "&d=2.5&dbad=1e&inf=inf&nan=nan&b1=yes&b0=Off&bb=maybe&empty=",
                              &u, err, sizeof err),
                 0);
    long l = 0;
    CHECK_EQ_INT(nd_uri_get_long(&u, "rate", 1, 1, 100000, &l, err, sizeof err), 0);
    CHECK_EQ_INT(l, 1000);
    CHECK_EQ_INT(nd_uri_get_long(&u, "absent", 42, 1, 100, &l, err, sizeof err), 0);
    CHECK_EQ_INT(l, 42);
    CHECK_EQ_INT(nd_uri_get_long(&u, "neg", 0, -10, 10, &l, err, sizeof err), 0);
    CHECK_EQ_INT(l, -5);
    l = 7;
    CHECK_EQ_INT(nd_uri_get_long(&u, "rate", 1, 1, 999, &l, err, sizeof err), -1);
    CHECK(strstr(err, "rate=1000") && strstr(err, "1..999"));
    CHECK_EQ_INT(l, 7); /* untouched on error */
    CHECK_EQ_INT(nd_uri_get_long(&u, "big", 1, 1, 10, &l, err, sizeof err), -1);
    CHECK(strstr(err, "out of range"));
    CHECK_EQ_INT(nd_uri_get_long(&u, "x", 1, 1, 100, &l, err, sizeof err), -1);
    CHECK(strstr(err, "x='12x'") && strstr(err, "not an integer") && strstr(err, "1..100"));
    CHECK_EQ_INT(nd_uri_get_long(&u, "sp", 1, 0, 100, &l, err, sizeof err), -1);
    CHECK_EQ_INT(nd_uri_get_long(&u, "empty", 1, 0, 100, &l, err, sizeof err), -1);
    CHECK_EQ_INT(nd_uri_get_long(&u, "d", 1, 0, 100, &l, err, sizeof err), -1);

    double d = 0;
    CHECK_EQ_INT(nd_uri_get_double(&u, "d", 0, 0, 10, &d, err, sizeof err), 0);
    CHECK_NEAR(d, 2.5, 0);
    CHECK_EQ_INT(nd_uri_get_double(&u, "absent", 1.25, 0, 10, &d, err, sizeof err), 0);
    CHECK_NEAR(d, 1.25, 0);
    CHECK_EQ_INT(nd_uri_get_double(&u, "d", 0, 3, 10, &d, err, sizeof err), -1);
    CHECK(strstr(err, "d=2.5") && strstr(err, "3..10"));
    CHECK_EQ_INT(nd_uri_get_double(&u, "dbad", 0, 0, 10, &d, err, sizeof err), -1);
    CHECK(strstr(err, "not a number"));
    CHECK_EQ_INT(nd_uri_get_double(&u, "inf", 0, 0, 10, &d, err, sizeof err), -1);
    CHECK_EQ_INT(nd_uri_get_double(&u, "nan", 0, 0, 10, &d, err, sizeof err), -1);
    CHECK_EQ_INT(nd_uri_get_double(&u, "empty", 0, 0, 10, &d, err, sizeof err), -1);

    int b = -1;
    CHECK_EQ_INT(nd_uri_get_bool(&u, "b1", 0, &b, err, sizeof err), 0);
    CHECK_EQ_INT(b, 1);
    CHECK_EQ_INT(nd_uri_get_bool(&u, "b0", 1, &b, err, sizeof err), 0);
    CHECK_EQ_INT(b, 0);
    CHECK_EQ_INT(nd_uri_get_bool(&u, "absent", 7, &b, err, sizeof err), 0);
    CHECK_EQ_INT(b, 1);
    CHECK_EQ_INT(nd_uri_get_bool(&u, "bb", 0, &b, err, sizeof err), -1);
    CHECK(strstr(err, "bb='maybe'") && strstr(err, "boolean"));

    static const char *const allowed[] = {"rate", "neg", "big", "x",  "sp", "d",     "dbad",
                                          "inf",  "nan", "b1",  "b0", "bb", "empty", NULL};
    CHECK_EQ_INT(nd_uri_check_keys(&u, allowed, err, sizeof err), 0);
    static const char *const fewer[] = {"rate", "neg", NULL};
    CHECK_EQ_INT(nd_uri_check_keys(&u, fewer, err, sizeof err), -1);
    CHECK(strstr(err, "unknown option 'big'") && strstr(err, "rate, neg"));
    nd_uri_free(&u);
}

/* Opening through the registry: unknown schemes list the known ones, and a
 * misspelt transport option is refused before anything is opened. */
static void test_device_open_errors(void)
{
    nd_device *dev = (nd_device *)1;
    CHECK_EQ_INT(nd_device_open("bogus:x", NULL, &dev, err, sizeof err), -1);
    CHECK(dev == NULL);
    CHECK(strstr(err, "unknown device type 'bogus:'") && strstr(err, "tcp:") &&
          strstr(err, "file:"));
    CHECK_EQ_INT(nd_device_open("tcp:127.0.0.1:1?conect_timeout_ms=5", NULL, &dev, err, sizeof err),
                 -1);
    CHECK(strstr(err, "unknown option 'conect_timeout_ms'") && strstr(err, "connect_timeout_ms"));
    CHECK_EQ_INT(nd_device_open("file:/nonexistent?proto=morse", NULL, &dev, err, sizeof err), -1);
    CHECK(strstr(err, "unknown proto 'morse'") && strstr(err, "nfp"));
    CHECK_EQ_INT(nd_device_open("tcp:127.0.0.1?proto=nfp", NULL, &dev, err, sizeof err), -1);
    CHECK(strstr(err, "no port"));
    CHECK_EQ_INT(nd_device_open("tcp:127.0.0.1:70000", NULL, &dev, err, sizeof err), -1);
    CHECK(strstr(err, "1..65535"));
    CHECK_EQ_INT(nd_device_open("tcp:[::1:80", NULL, &dev, err, sizeof err), -1);
    CHECK(strstr(err, "[IPV6]:PORT"));
    CHECK_EQ_INT(nd_device_open("sim", NULL, &dev, err, sizeof err), -1);
    CHECK(strstr(err, "no scheme"));
    CHECK(nd_driver_find("tcp") != NULL && nd_driver_find("file") != NULL);
    CHECK(strcmp(nd_driver_find("tcp")->scheme, "tcp") == 0);
    CHECK(nd_driver_find("tcp")->description != NULL && nd_driver_find("tcp")->usage != NULL);
    CHECK(nd_driver_find("nosuch") == NULL);
}

int main(void)
{
    test_good();
    test_bad();
    test_getters();
    test_device_open_errors();
    return nd_test_finish("test_uri");
}
