/* nordicd configuration: defaults, INI loading, strict errors. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nd_config.h"
#include "test_util.h"

static const char *write_file(const char *dir, const char *name, const char *text)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static int load_text(const char *dir, const char *text, nd_config *c, char *err, size_t errlen)
{
    nd_config_defaults(c);
    return nd_config_load(c, write_file(dir, "t.ini", text), err, errlen);
}

int main(void)
{
    const char *dir = nd_test_tmpdir("config");
    nd_config c;
    char err[512];

    nd_config_defaults(&c);
    CHECK(strcmp(c.device, "sim:?reps=0") == 0);
    CHECK(strcmp(c.pub, "tcp://127.0.0.1:5556") == 0);
    CHECK(strncmp(c.ctl, "ipc://", 6) == 0);
    CHECK(c.ring_capacity == 1ul << 20);
    CHECK_NEAR(c.ring_seconds, 8, 0); /* daemon/pipeline/RING.md, "Sizing" */
    CHECK_NEAR(c.flush_interval_s, 0.25, 0);
    CHECK_NEAR(c.metrics.on_N, 100, 0);
    CHECK(nd_config_validate(&c, err, sizeof err) == 0);

    /* A full, valid file. */
    CHECK(
        load_text(dir,
                  "# comment\n[daemon]\ndevice = tcp:127.0.0.1:7000?proto=nfp\n"
                  "data_dir = /tmp/x/trials\nlog_level = debug\nflush_interval_s = 0.5\n"
                  "[metrics]\non_N = 150\noff_N = 60\ncutoff_hz = 8\n[channels]\nleft_channel = 1\n"
                  "right_channel = 0\n[live]\nlive_hz = 25\n",
                  &c, err, sizeof err) == 0);
    CHECK(strcmp(c.device, "tcp:127.0.0.1:7000?proto=nfp") == 0);
    CHECK(strcmp(c.data_dir, "/tmp/x/trials") == 0);
    CHECK_NEAR(c.metrics.on_N, 150, 0);
    CHECK_NEAR(c.metrics.cutoff_hz, 8, 0);
    CHECK_EQ_INT(c.left_channel, 1);
    CHECK_EQ_INT(c.log_level, 7);
    CHECK(nd_config_validate(&c, err, sizeof err) == 0);

    /* Each bad input: -1 and a message naming the line and the problem. */
    CHECK(load_text(dir, "[daemon]\nbogus = 1\n", &c, err, sizeof err) == -1);
    CHECK(strstr(err, "t.ini:2") && strstr(err, "unknown key 'bogus'"));
    CHECK(load_text(dir, "[metrics]\non_N = lots\n", &c, err, sizeof err) == -1);
    CHECK(strstr(err, "on_N") && strstr(err, "lots"));
    CHECK(load_text(dir, "[metrics]\ncutoff_hz = nan\n", &c, err, sizeof err) == -1);
    CHECK(load_text(dir, "[daemon]\nflush_interval_s = 2\n", &c, err, sizeof err) == -1);
    CHECK(strstr(err, "flush_interval_s") != NULL);
    CHECK(load_text(dir, "[daemon]\nlog_level = loud\n", &c, err, sizeof err) == -1);
    CHECK(load_text(dir, "[daemon]\nforeground = maybe\n", &c, err, sizeof err) == -1);
    CHECK(load_text(dir, "[daemon]\ndata_dir = relative/dir\n", &c, err, sizeof err) == -1);
    CHECK(strstr(err, "absolute") != NULL);
    CHECK(load_text(dir, "[metrics]\ndevice = sim:\n", &c, err, sizeof err) == -1);
    CHECK(strstr(err, "[daemon]") != NULL);
    CHECK(load_text(dir, "device = sim:\n", &c, err, sizeof err) == -1);
    CHECK(load_text(dir, "[daemon\ndevice = sim:\n", &c, err, sizeof err) == -1);
    CHECK(strstr(err, "t.ini:1") != NULL);
    CHECK(load_text(dir, "[daemon]\nring_capacity = 5\n", &c, err, sizeof err) == -1);
    CHECK(load_text(dir, "[daemon]\nring_capacity = 3000\n", &c, err, sizeof err) == 0);
    CHECK(nd_config_validate(&c, err, sizeof err) == -1 && strstr(err, "power of two"));
    CHECK(load_text(dir, "[daemon]\nring_seconds = -1\n", &c, err, sizeof err) == -1);
    CHECK(strstr(err, "ring_seconds") != NULL);
    CHECK(load_text(dir, "[daemon]\nring_seconds = 0\n", &c, err, sizeof err) == 0);
    CHECK_NEAR(c.ring_seconds, 0, 0);
    CHECK(load_text(dir, "[channels]\nleft_channel = 1\nright_channel = 1\n", &c, err,
                    sizeof err) == 0);
    CHECK(nd_config_validate(&c, err, sizeof err) == -1);
    CHECK(load_text(dir, "[metrics]\non_N = 40\noff_N = 50\n", &c, err, sizeof err) == 0);
    CHECK(nd_config_validate(&c, err, sizeof err) == -1 && strstr(err, "off_N"));
    /* An empty state_dir is refused, not turned into "/" paths at start. */
    CHECK(load_text(dir, "[daemon]\nstate_dir =\ndata_dir = /srv/d\n", &c, err, sizeof err) == 0);
    CHECK(nd_config_validate(&c, err, sizeof err) == -1 && strstr(err, "state_dir"));
    nd_config_defaults(&c);
    CHECK(nd_config_load(&c, "/nonexistent/nordicd.conf", err, sizeof err) == -1);
    CHECK(strstr(err, "/nonexistent/nordicd.conf") != NULL);

    /* state_dir moves data_dir along unless data_dir was set itself. */
    nd_config_defaults(&c);
    CHECK(nd_config_set(&c, "daemon", "state_dir", "/srv/nordic", err, sizeof err) == 0);
    CHECK(strcmp(c.data_dir, "/srv/nordic/trials") == 0);
    CHECK(nd_config_set(&c, "daemon", "data_dir", "/data", err, sizeof err) == 0);
    CHECK(nd_config_set(&c, "daemon", "state_dir", "/srv/other", err, sizeof err) == 0);
    CHECK(strcmp(c.data_dir, "/data") == 0);

    /* The service account: names up to 32 characters, printed back. */
    CHECK(load_text(dir, "[daemon]\nuser = nordicd\ngroup = nordic\n", &c, err, sizeof err) == 0);
    CHECK(strcmp(c.user, "nordicd") == 0 && strcmp(c.group, "nordic") == 0);
    CHECK(load_text(dir, "[daemon]\nuser = abcdefghijabcdefghijabcdefghijabc\n", &c, err,
                    sizeof err) == -1);
    CHECK(strstr(err, "user") && strstr(err, "too long"));
    CHECK(load_text(dir, "[security]\nuser = nordicd\n", &c, err, sizeof err) == -1);
    CHECK(strstr(err, "[daemon]") != NULL);

    /* The printed configuration loads back to the same values. */
    nd_config_defaults(&c);
    c.metrics.hold_s = 0.3;
    char path[600];
    snprintf(path, sizeof path, "%s/printed.ini", dir);
    FILE *f = fopen(path, "w");
    nd_config_print(&c, f);
    fclose(f);
    nd_config c2;
    nd_config_defaults(&c2);
    CHECK(nd_config_load(&c2, path, err, sizeof err) == 0);
    CHECK(memcmp(&c.metrics, &c2.metrics, sizeof c.metrics) == 0);
    CHECK(strcmp(c.ctl, c2.ctl) == 0);
    nd_config_defaults(&c);
    snprintf(c.user, sizeof c.user, "nobody");
    snprintf(path, sizeof path, "%s/printed_user.ini", dir);
    f = fopen(path, "w");
    nd_config_print(&c, f);
    fclose(f);
    nd_config_defaults(&c2);
    CHECK(nd_config_load(&c2, path, err, sizeof err) == 0);
    CHECK(strcmp(c2.user, "nobody") == 0 && c2.group[0] == 0);
    return nd_test_finish("test_config");
}
