// Independent XDF reader check (issue 16): loads an exported .xdf with
// Debian's libxdf and compares every sample, time stamp, marker and clock
// offset with an expectation file that tests/test_exports.py computed from
// the HDF5 trial with h5py and the formulas of tools/export/EXPORT.md.
//
//   xdf_check FILE.xdf EXPECTED.txt     exit 0 = identical, 1 = differences
//
// EXPECTED.txt:
//   stream NAME TYPE CHANNELS SRATE FORMAT      (force stream header)
//   label NAME / unit UNIT                      (one line each, per channel)
//   samples N      then N lines: TIME V0 V1 ... (time after clock sync)
//   markers M      then M lines: TIME<TAB>TEXT
//   clock K        then K lines: COLLECTION_TIME OFFSET
#include <xdf.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

static int failures = 0;

static void fail(const std::string &what)
{
    if (failures < 20) std::cerr << "FAIL: " << what << "\n";
    failures++;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        std::cerr << "usage: xdf_check FILE.xdf EXPECTED.txt\n";
        return 2;
    }
    Xdf xdf;
    if (xdf.load_xdf(argv[1]) != 0) {
        std::cerr << "FAIL: libxdf cannot load " << argv[1] << "\n";
        return 1;
    }
    std::ifstream exp(argv[2]);
    std::string key, name, type, format;
    int nch = 0;
    double srate = 0;
    exp >> key >> name >> type >> nch >> srate >> format;
    int force = -1, markers = -1;
    for (size_t s = 0; s < xdf.streams.size(); s++) {
        if (xdf.streams[s].info.type == "Force") force = (int)s;
        if (xdf.streams[s].info.type == "Markers") markers = (int)s;
    }
    if (force < 0 || markers < 0) {
        std::cerr << "FAIL: Force and Markers streams expected, found " << xdf.streams.size()
                  << " streams\n";
        return 1;
    }
    const Xdf::Stream &fs = xdf.streams[(size_t)force];
    if (fs.info.name != name) fail("stream name " + fs.info.name);
    if (fs.info.channel_count != nch) fail("channel_count");
    if (fs.info.nominal_srate != srate) fail("nominal_srate");
    if (fs.info.channel_format != format) fail("channel_format " + fs.info.channel_format);
    if ((int)fs.info.channels.size() != nch) fail("channel descriptions");
    for (int ch = 0; ch < nch; ch++) {
        std::string k1, label, k2, unit;
        exp >> k1 >> label >> k2 >> unit;
        if (ch < (int)fs.info.channels.size()) {
            auto &c = fs.info.channels[(size_t)ch];
            if (c.count("label") == 0 || c.at("label") != label) fail("label of channel " + label);
            if (c.count("unit") == 0 || c.at("unit") != unit) fail("unit of channel " + label);
            if (c.count("type") == 0 || c.at("type") != "Force") fail("type of channel " + label);
        }
    }
    size_t n = 0;
    exp >> key >> n;
    if (fs.time_stamps.size() != n) fail("sample count " + std::to_string(fs.time_stamps.size()));
    if (fs.time_series.size() != (size_t)nch) fail("time_series channels");
    for (size_t i = 0; i < n; i++) {
        double ts;
        exp >> ts;
        if (i < fs.time_stamps.size() && std::fabs(fs.time_stamps[i] - ts) > 1e-6)
            fail("time stamp of sample " + std::to_string(i));
        for (int ch = 0; ch < nch; ch++) {
            double v;
            exp >> v;
            // libxdf keeps values as float: the double64 sample must equal the
            // HDF5 double after the same conversion.
            if (i < fs.time_stamps.size() && fs.time_series.size() == (size_t)nch &&
                fs.time_series[(size_t)ch][i] != static_cast<float>(v))
                fail("sample " + std::to_string(i) + " channel " + std::to_string(ch));
        }
    }
    size_t m = 0;
    exp >> key >> m;
    std::string line;
    std::getline(exp, line);
    std::vector<std::pair<std::string, double>> got;
    for (auto &e : xdf.eventMap)
        if (e.second == markers) got.emplace_back(e.first.first, e.first.second);
    if (got.size() != m) fail("marker count " + std::to_string(got.size()));
    for (size_t i = 0; i < m; i++) {
        std::getline(exp, line);
        size_t tab = line.find('\t');
        double ts = std::stod(line.substr(0, tab));
        std::string text = line.substr(tab + 1);
        if (i < got.size()) {
            if (got[i].first != text) fail("marker " + std::to_string(i) + ": " + got[i].first);
            if (std::fabs(got[i].second - ts) > 1e-6) fail("marker time " + std::to_string(i));
        }
    }
    size_t k = 0;
    exp >> key >> k;
    if (fs.clock_times.size() != k || xdf.streams[(size_t)markers].clock_times.size() != k)
        fail("clock offset count " + std::to_string(fs.clock_times.size()));
    for (size_t i = 0; i < k; i++) {
        double t, v;
        exp >> t >> v;
        if (i < fs.clock_times.size() && (fs.clock_times[i] != t || fs.clock_values[i] != v))
            fail("clock offset " + std::to_string(i));
    }
    if (!exp) fail("expectation file ended early");
    std::cout << "xdf_check: " << n << " samples x " << nch << " channels, " << m << " markers, "
              << k << " clock offsets compared; " << failures << " differences\n";
    return failures ? 1 : 0;
}
