/* Lines must fit the preset's meaning (issue 17, point 3). A single-cell
 * board read with a two-leg preset used to become left = reading, right =
 * average without a word. The lines here are what the HX711 Arduino
 * libraries' own single-cell example sketches print (bogde/HX711
 * HX711_full_example; HX711_ADC Read_1x_load_cell), replayed through the
 * real file: transport and text decoder (SERIAL.md, "Lines must fit"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nd_capture.h"
#include "nd_device.h"
#include "test_util.h"

/* bogde/HX711 example: "one reading:\t" + units(1 decimal) + "\t| average:\t"
 * + units(5 decimals), println (CR LF). */
static const char *const single_cell_bogde = "one reading:\t12.3\t| average:\t12.29876\r\n";
/* HX711_ADC Read_1x_load_cell: "Load_cell output val: " + value, println. */
static const char *const single_cell_hx711_adc = "Load_cell output val: 12.34\r\n";

typedef struct result {
    size_t nsets;
    nd_sample first;
    nd_device_info info;
    bool have_info;
    uint64_t lines_bad;
} result;

/* Replay `lines` (repeated `times`) through file:...?proto=text&<query>. */
static result replay(const char *query, const char *lines, int times)
{
    result res = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/lines.txt", nd_test_tmpdir("text_fit"));
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return res;
    for (int i = 0; i < times; i++) fputs(lines, f);
    fclose(f);
    char uri[800], err[256];
    snprintf(uri, sizeof uri, "file:%s?pace=0&proto=text&%s", path, query);
    nd_capture cap;
    CHECK(nd_capture_init(&cap, 256, 64) == 0);
    nd_sink sink = nd_capture_sink(&cap);
    nd_device *dev = NULL;
    if (nd_device_open(uri, &sink, &dev, err, sizeof err) < 0) {
        fprintf(stderr, "open %s: %s\n", uri, err);
        CHECK(!"device opens");
        nd_capture_free(&cap);
        return res;
    }
    atomic_bool stop = false;
    CHECK_EQ_INT(nd_device_run(dev, &stop), ND_RUN_EOF);
    res.nsets = nd_capture_nsets(&cap);
    if (res.nsets) res.first = cap.sets[0];
    res.have_info = nd_capture_info(&cap, &res.info);
    res.lines_bad = atomic_load(&nd_device_counters(dev)->lines_bad);
    nd_device_close(dev);
    nd_capture_free(&cap);
    unlink(path);
    return res;
}

/* The default preset (csv: bare columns, left then right) must not take a
 * labelled single-cell line as two legs: refused, and said on status. */
static void test_csv_refuses_labelled_single_cell(void)
{
    result r = replay("preset=csv", single_cell_bogde, 8);
    CHECK_EQ_INT(r.nsets, 0);
    CHECK_EQ_INT(r.lines_bad, 8); /* the first as a possibly partial line */
    CHECK(r.have_info);
    CHECK(strstr(r.info.warning, "preset=csv") != NULL);
    CHECK(strstr(r.info.warning, "text labels") != NULL);
    CHECK(strstr(r.info.warning, "one reading") != NULL);
}

/* Saying which number is the reading makes the same line valid: one channel,
 * the reading (12.3 g x scale 10), not the average. */
static void test_single_cell_with_channels(void)
{
    result r = replay("preset=csv&channels=0&unit=g&scale=10", single_cell_bogde, 8);
    CHECK_EQ_INT(r.nsets, 7);
    CHECK_EQ_INT(r.first.nch, 1);
    CHECK_EQ_INT(r.first.raw[0], 123);
    CHECK(r.have_info && r.info.warning[0] == '\0');
}

/* The two-cell HX711_ADC preset read from its single-cell example. */
static void test_hx711_two_cell_preset_on_one_cell(void)
{
    result r = replay("preset=hx711-adc-2x", single_cell_hx711_adc, 8);
    CHECK_EQ_INT(r.nsets, 0);
    CHECK(r.have_info);
    CHECK(strstr(r.info.warning, "preset=hx711-adc-2x") != NULL);
    CHECK(strstr(r.info.warning, "wrong count of numbers") != NULL);
}

/* A good stream with a stray labelled line (a reset banner) is not a misfit
 * board: the line is skipped, no warning. Neither is a short bad start. */
static void test_good_stream_no_warning(void)
{
    result r = replay("preset=csv", "10,20\r\n30,40\r\nreading: 1 average: 2\r\n", 3);
    CHECK_EQ_INT(r.nsets, 5); /* 6 good lines, the first dropped as possibly partial */
    CHECK(r.have_info && r.info.warning[0] == '\0');
    result s = replay("preset=csv", "reading: 1 average: 2\r\n", 4); /* fewer than 5 */
    CHECK(s.have_info && s.info.warning[0] == '\0');
}

int main(void)
{
    test_csv_refuses_labelled_single_cell();
    test_single_cell_with_channels();
    test_hx711_two_cell_preset_on_one_cell();
    test_good_stream_no_warning();
    return nd_test_finish("test_text_fit");
}
