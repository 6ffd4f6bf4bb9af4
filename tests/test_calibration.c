/* Calibration (METRICS.md 4.1): defaults, tare and two-point gain with known
 * answers, refusals, and persistence (atomic save, exact round trip, every
 * kind of corrupt file refused with a clear error and nothing changed). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_calibration.h"
#include "test_util.h"

static const char *dir;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static nd_sample sample2(int32_t a, int32_t b)
{
    nd_sample s;
    memset(&s, 0, sizeof s);
    s.nch = 2;
    s.raw[0] = a;
    s.raw[1] = b;
    return s;
}

static void test_defaults_and_apply(void)
{
    nd_calibration c;
    const double cpn[2] = {200.0, -400.0};
    nd_calibration_default(&c, 2, cpn);
    CHECK_EQ_INT(c.nch, 2);
    CHECK_EQ_INT(c.left_channel, 0);
    CHECK_EQ_INT(c.right_channel, 1);
    CHECK(c.gain[0] == 1.0 / 200.0 && c.gain[1] == -1.0 / 400.0 && c.offset[0] == 0);
    CHECK_NEAR(nd_calibration_apply(&c, 0, 20000), 100.0, 1e-12);
    nd_calibration_default(&c, 3, NULL);
    CHECK(c.gain[2] == 1.0);
    nd_calibration_default(&c, 1, NULL);
    CHECK_EQ_INT(c.right_channel, 0);
}

static void test_tare_and_two_point(void)
{
    char err[256];
    nd_calibration c;
    nd_calibration_default(&c, 2, NULL);
    nd_raw_mean a;
    nd_raw_mean_start(&a, 2, 4);
    CHECK(isnan(nd_raw_mean_value(&a, 0)));
    CHECK_EQ_INT(nd_calibration_tare(&c, &a, err, sizeof err), -1); /* nothing averaged */
    CHECK(strstr(err, "no samples") != NULL);
    const int32_t l[] = {1000, 1002, 998, 1004}, r[] = {-500, -501, -499, -504};
    int done = 0;
    for (int i = 0; i < 4; i++) {
        nd_sample s = sample2(l[i], r[i]);
        done = nd_raw_mean_add(&a, &s);
        CHECK_EQ_INT(done, i == 3);
    }
    nd_sample extra = sample2(99999, 99999);
    CHECK_EQ_INT(nd_raw_mean_add(&a, &extra), 1); /* full: ignored */
    CHECK_NEAR(nd_raw_mean_value(&a, 0), 1001.0, 0);
    CHECK_NEAR(nd_raw_mean_value(&a, 1), -501.0, 0);
    CHECK_EQ_INT(nd_calibration_tare(&c, &a, err, sizeof err), 0);
    CHECK(c.offset[0] == 1001.0 && c.offset[1] == -501.0);
    CHECK_NEAR(nd_calibration_apply(&c, 0, 1001), 0.0, 0);

    /* 20 kg on the left hook reads 1001 + 39226.6 counts on average:
     * gain = 20 * 9.80665 / 39226.6 = 0.005 N/count exactly. */
    CHECK_EQ_INT(nd_calibration_set_gain_from_mass(&c, 0, 20.0, 1001 + 39226.6, err, sizeof err),
                 0);
    CHECK_NEAR(c.gain[0], 0.005, 1e-15);
    CHECK_NEAR(nd_calibration_apply(&c, 0, 1001 + 40000), 200.0, 1e-9);
    /* Reversed wiring (load decreases the count): negative gain, positive force. */
    CHECK_EQ_INT(nd_calibration_set_gain_from_mass(&c, 1, 10.0, -501 - 9806.65, err, sizeof err),
                 0);
    CHECK_NEAR(c.gain[1], -0.01, 1e-15);
    CHECK_NEAR(nd_calibration_apply(&c, 1, -501 - 10000), 100.0, 1e-9);

    /* Refusals leave the gain unchanged. */
    double before = c.gain[0];
    const double bad_mass[] = {0.0, -5.0, NAN, INFINITY, 1001.0};
    for (size_t k = 0; k < sizeof bad_mass / sizeof bad_mass[0]; k++) {
        err[0] = 0;
        CHECK_EQ_INT(nd_calibration_set_gain_from_mass(&c, 0, bad_mass[k], 50000, err, sizeof err),
                     -1);
        CHECK(strstr(err, "mass") != NULL);
    }
    CHECK_EQ_INT(nd_calibration_set_gain_from_mass(&c, 0, 20, 1001.5, err, sizeof err), -1);
    CHECK(strstr(err, "no load change") != NULL); /* |delta| = 0.5 count < 1 */
    CHECK_EQ_INT(nd_calibration_set_gain_from_mass(&c, 0, 20, 1001, err, sizeof err), -1);
    CHECK_EQ_INT(nd_calibration_set_gain_from_mass(&c, 0, 20, NAN, err, sizeof err), -1);
    CHECK_EQ_INT(nd_calibration_set_gain_from_mass(&c, 2, 20, 50000, err, sizeof err), -1);
    CHECK(strstr(err, "channel 2") != NULL);
    CHECK_EQ_INT(nd_calibration_set_gain_from_mass(&c, -1, 20, 50000, err, sizeof err), -1);
    CHECK(c.gain[0] == before);
    /* Exactly 1 count of change is accepted. */
    CHECK_EQ_INT(nd_calibration_set_gain_from_mass(&c, 0, 0.001, 1002, err, sizeof err), 0);

    /* Tare with a mismatched channel count is refused. */
    nd_raw_mean one;
    nd_raw_mean_start(&one, 1, 1);
    nd_sample s = sample2(5, 5);
    nd_raw_mean_add(&one, &s);
    CHECK_EQ_INT(nd_calibration_tare(&c, &one, err, sizeof err), -1);
}

static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void test_save_load(void)
{
    char err[256], path[600];
    snprintf(path, sizeof path, "%s/calibration.conf", dir);
    nd_calibration c, back;
    nd_calibration_default(&c, 3, NULL);
    c.offset[0] = 8388607.123456789;
    c.offset[1] = -1234.5;
    c.offset[2] = 0.1;
    c.gain[0] = 1.0 / 3.0;
    c.gain[1] = -2.5e-7;
    c.gain[2] = 6.02e23;
    c.left_channel = 2;
    c.right_channel = 0;
    snprintf(c.device_serial, sizeof c.device_serial, "NB-0042 rev B");
    CHECK_EQ_INT(nd_calibration_save(&c, path, err, sizeof err), 0);
    CHECK_EQ_INT(count_entries(dir), 1); /* no temporary file left behind */
    memset(&back, 0x55, sizeof back);
    CHECK_EQ_INT(nd_calibration_load(&back, path, err, sizeof err), 0);
    CHECK_EQ_INT(back.nch, 3);
    for (int ch = 0; ch < 3; ch++)
        CHECK(back.offset[ch] == c.offset[ch] && back.gain[ch] == c.gain[ch]);
    CHECK_EQ_INT(back.left_channel, 2);
    CHECK_EQ_INT(back.right_channel, 0);
    CHECK(strcmp(back.device_serial, "NB-0042 rev B") == 0);
    /* Overwrite: replaced atomically, still one file. */
    c.gain[0] = 0.25;
    CHECK_EQ_INT(nd_calibration_save(&c, path, err, sizeof err), 0);
    CHECK_EQ_INT(nd_calibration_load(&back, path, err, sizeof err), 0);
    CHECK(back.gain[0] == 0.25);
    CHECK_EQ_INT(count_entries(dir), 1);
    /* Empty serial round-trips. */
    c.device_serial[0] = 0;
    CHECK_EQ_INT(nd_calibration_save(&c, path, err, sizeof err), 0);
    CHECK_EQ_INT(nd_calibration_load(&back, path, err, sizeof err), 0);
    CHECK(back.device_serial[0] == 0);

    /* Refused saves: nothing is written. */
    char other[600];
    snprintf(other, sizeof other, "%s/none/calibration.conf", dir);
    CHECK_EQ_INT(nd_calibration_save(&c, other, err, sizeof err), -1);
    CHECK(strstr(err, "cannot create") != NULL);
    nd_calibration broken = c;
    broken.gain[1] = NAN;
    CHECK_EQ_INT(nd_calibration_save(&broken, path, err, sizeof err), -1);
    CHECK(strstr(err, "gain of channel 1") != NULL);
    broken = c;
    snprintf(broken.device_serial, sizeof broken.device_serial, "bad\nserial");
    CHECK_EQ_INT(nd_calibration_save(&broken, path, err, sizeof err), -1);
    broken = c;
    broken.right_channel = 3;
    CHECK_EQ_INT(nd_calibration_save(&broken, path, err, sizeof err), -1);
    CHECK_EQ_INT(count_entries(dir), 1);
}

static void test_corrupt_files(void)
{
    char err[256], path[600];
    snprintf(path, sizeof path, "%s/corrupt.conf", dir);
    const char *head = "format = nordic-calibration\nversion = 1\ndevice_serial = X\nchannels = 2\n"
                       "left_channel = 0\nright_channel = 1\n";
    struct {
        const char *body; /* appended to head unless it starts with '!' */
        const char *expect;
    } cases[] = {
        {"offset.0 = 1\ngain.0 = 2\noffset.1 = 3\n", "channel 1 is missing"},
        {"offset.0 = 1\ngain.0 = 2\noffset.1 = 3\ngain.1 = zero\n", "not a finite number"},
        {"offset.0 = 1\ngain.0 = 2\noffset.1 = 3\ngain.1 = nan\n", "not a finite number"},
        {"offset.0 = 1\ngain.0 = 2\noffset.1 = 3\ngain.1 = 1e999\n", "not a finite number"},
        {"offset.0 = 1\ngain.0 = 0\noffset.1 = 3\ngain.1 = 1\n", "gain of channel 0"},
        {"offset.0 = 1\ngain.0 = 2\noffset.1 = 3\ngain.1 = 4\ngain.1 = 4\n", "appears twice"},
        {"offset.0 = 1\ngain.0 = 2\noffset.1 = 3\ngain.1 = 4\ngain.2 = 4\n", "channels = 2"},
        {"offset.0 = 1\ngain.0 = 2\noffset.1 = 3\ngain.1 = 4\ngain.9 = 4\n", "names no channel"},
        {"offset.0 = 1\ngain.0 = 2\noffset.1 = 3\ngain.1 = 4\ncolour = red\n", "unknown key"},
        {"offset.0 = 1\ngain.0 = 2\noffset.1 = 3\ngain.1 = 4\njust text\n", "key = value"},
        {"offset.0 = 1 2\ngain.0 = 2\noffset.1 = 3\ngain.1 = 4\n", "not a finite number"},
        {"!format = nordic-calibration\nversion = 2\n", "not supported"},
        {"!format = something-else\n", "expected 'nordic-calibration'"},
        {"!", "'format' is missing"},
        {"!format = nordic-calibration\nversion = 1\nchannels = 9\n", "channels"},
        {"!format = nordic-calibration\nversion = 1\ndevice_serial = X\nchannels = 2\n"
         "left_channel = 5\nright_channel = 1\noffset.0 = 1\ngain.0 = 2\noffset.1 = 3\ngain.1 = "
         "4\n",
         "mapping"},
        {"!format = nordic-calibration\nversion = 1\ndevice_serial = X\nchannels = 2\n"
         "left_channel = 0\noffset.0 = 1\ngain.0 = 2\noffset.1 = 3\ngain.1 = 4\n",
         "'right_channel' is missing"},
    };
    nd_calibration c, before;
    nd_calibration_default(&c, 2, NULL);
    c.gain[0] = 42;
    before = c;
    char text[2048];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        if (cases[k].body[0] == '!')
            snprintf(text, sizeof text, "%s", cases[k].body + 1);
        else
            snprintf(text, sizeof text, "%s%s", head, cases[k].body);
        write_file(path, text);
        err[0] = 0;
        CHECK_EQ_INT(nd_calibration_load(&c, path, err, sizeof err), -1);
        if (!strstr(err, cases[k].expect))
            fprintf(stderr, "case %zu: error '%s' lacks '%s'\n", k, err, cases[k].expect);
        CHECK(strstr(err, cases[k].expect) != NULL);
        CHECK(memcmp(&c, &before, sizeof c) == 0); /* untouched */
    }
    /* A valid file with comments, blanks and CRLF loads. */
    snprintf(text, sizeof text,
             "# comment\r\n\r\n%soffset.0 = 1\r\ngain.0 = 2\noffset.1=3\ngain.1 = 4\n", head);
    write_file(path, text);
    CHECK_EQ_INT(nd_calibration_load(&c, path, err, sizeof err), 0);
    CHECK(c.gain[1] == 4 && c.offset[1] == 3);
    /* Binary garbage with NUL bytes. */
    FILE *f = fopen(path, "wb");
    const unsigned char junk[] = {0x7f, 'E', 'L', 'F', 0, 0, 1, '=', 0, 0xff, '\n'};
    fwrite(junk, 1, sizeof junk, f);
    fclose(f);
    before = c;
    CHECK_EQ_INT(nd_calibration_load(&c, path, err, sizeof err), -1);
    CHECK(memcmp(&c, &before, sizeof c) == 0);
    /* A NUL inside an otherwise valid line (fgets would stop the line
     * there and keep "gain.1 = 4"), and a block of NULs such as a crash can
     * leave in a file: both refused, nothing loaded. */
    static const char nul_in_line[] = "gain.1 = 4\0 and junk after the NUL\n";
    static const char nul_block[] = "gain.1 = 4\n\0\0\0\0\0\0\0\0\n";
    const struct {
        const char *tail;
        size_t len;
    } nul_cases[] = {{nul_in_line, sizeof nul_in_line - 1}, {nul_block, sizeof nul_block - 1}};
    for (size_t k = 0; k < 2; k++) {
        f = fopen(path, "wb");
        fprintf(f, "%soffset.0 = 1\ngain.0 = 2\noffset.1 = 3\n", head);
        fwrite(nul_cases[k].tail, 1, nul_cases[k].len, f);
        fclose(f);
        err[0] = 0;
        CHECK_EQ_INT(nd_calibration_load(&c, path, err, sizeof err), -1);
        CHECK(strstr(err, "NUL byte") != NULL);
        CHECK(memcmp(&c, &before, sizeof c) == 0);
    }
    /* A very long line. */
    f = fopen(path, "w");
    fputs("format = ", f);
    for (int i = 0; i < 5000; i++) fputc('x', f);
    fputc('\n', f);
    fclose(f);
    CHECK_EQ_INT(nd_calibration_load(&c, path, err, sizeof err), -1);
    CHECK(strstr(err, "too long") != NULL);
    /* A huge file is refused before it is read. */
    f = fopen(path, "w");
    for (int i = 0; i < 100000; i++) fputc('#', f);
    fclose(f);
    CHECK_EQ_INT(nd_calibration_load(&c, path, err, sizeof err), -1);
    CHECK(strstr(err, "too large") != NULL);
    /* Missing file. */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/absent.conf", dir);
    CHECK_EQ_INT(nd_calibration_load(&c, missing, err, sizeof err), -1);
    CHECK(strstr(err, "cannot open") != NULL && strstr(err, "absent.conf") != NULL);
    unlink(path);
}

int main(void)
{
    dir = nd_test_tmpdir("calibration");
    test_defaults_and_apply();
    test_tare_and_two_point();
    test_save_load();
    test_corrupt_files();
    return nd_test_finish("test_calibration");
}
