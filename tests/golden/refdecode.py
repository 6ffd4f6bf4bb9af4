#!/usr/bin/python3
"""Reference decoder for the serial golden corpus (tests/data/serial).

Written from drivers/decoders/PROTOCOL.md (NFP/1) and drivers/SERIAL.md (proto=text,
proto=loadstar) only, never from the C decoders or their output, so that the
expected .chk files are an independent reading of the documents. The output
format is the one tests/test_serial_golden.c prints (see tests/data/serial/
README.md). Every rule below names the paragraph it implements.

Usage:
  refdecode.py CAPTURE                 print the expected output
  refdecode.py --write DIR             (re)write DIR/*.capture.chk
  refdecode.py --check DIR             exit 1 if any .chk differs from this reading
"""
import json
import math
import os
import re
import sys
import urllib.parse

EV_GAP, EV_RESTART, EV_OVERFLOW = 0, 1, 4
AFTER_GAP, AFTER_RESTART = 1, 2
U32 = 1 << 32


class Output:
    def __init__(self):
        self.lines = []
        self.c = dict.fromkeys(
            "frames_ok bad_cobs bad_crc bad_version bad_length unknown_type bad_payload "
            "lines_ok lines_bad gaps gap_sets restarts overflows".split(), 0)

    def set(self, seq, t, flags, raw):
        self.lines.append("set %d t=%d flags=%d%s" % (seq, t, flags, "".join(" %d" % v for v in raw)))

    def event(self, kind, seq, count):
        self.lines.append("event %d seq=%d count=%d" % (kind, seq, count))

    def info(self, model, serial, rate, nch):
        self.lines.append("info model=%s serial=%s rate=%s nch=%d" % (model, serial, fmt_g(rate), nch))

    def text(self):
        c = self.c
        self.lines.append(
            "counters frames_ok=%d bad_cobs=%d bad_crc=%d bad_version=%d bad_length=%d "
            "unknown_type=%d bad_payload=%d lines_ok=%d lines_bad=%d gaps=%d gap_sets=%d "
            "restarts=%d overflows=%d" % tuple(c[k] for k in (
                "frames_ok", "bad_cobs", "bad_crc", "bad_version", "bad_length", "unknown_type",
                "bad_payload", "lines_ok", "lines_bad", "gaps", "gap_sets", "restarts",
                "overflows")))
        return "".join(l + "\n" for l in self.lines)


def fmt_g(x):
    """C's %g: 6 significant digits, no trailing zeros."""
    return "%g" % x


def llround(x):
    """C llround: nearest, halves away from zero (SERIAL.md: raw = llround(value x scale))."""
    a = abs(x)
    f = math.floor(a)
    r = f + 1 if a - f >= 0.5 else f
    return int(-r if x < 0 else r)


# ---------------------------------------------------------------- NFP/1 -----

def crc16_ccitt_false(data):
    """PROTOCOL.md section 1: poly 0x1021, init 0xFFFF, no reflection, no xorout."""
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


assert crc16_ccitt_false(b"123456789") == 0x29B1  # the documented check value


def cobs_decode(block):
    """PROTOCOL.md section 1; None if the block is not valid COBS."""
    out = bytearray()
    i = 0
    while i < len(block):
        code = block[i]
        if code == 0 or i + code > len(block):
            return None
        out += block[i + 1:i + code]
        i += code
        if code != 0xFF and i < len(block):
            out.append(0)
    return bytes(out)


MAX_BODY = 4100
MAX_ENCODED = 4117  # PROTOCOL.md 4.2


class InfoError(Exception):
    pass


def _no_constants(name):
    raise InfoError("non-JSON constant " + name)


def parse_info(payload):
    """PROTOCOL.md 2 (0x02 INFO) and 4.4; returns the description or raises InfoError."""
    if b"\0" in payload or len(payload) > 4096:
        raise InfoError("NUL or too long")
    try:
        text = payload.decode("utf-8")
        obj = json.loads(text, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError) as e:
        raise InfoError(str(e))
    if not isinstance(obj, dict):
        raise InfoError("not an object")

    def string(key, limit, required):
        if key not in obj:
            if required:
                raise InfoError("missing " + key)
            return ""
        v = obj[key]
        if not isinstance(v, str) or len(v.encode()) >= limit:
            raise InfoError("bad " + key)
        return v

    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    model = string("model", 64, True)
    serial = string("serial", 64, True)
    fw = string("fw", 32, False)
    if "rate_hz" not in obj or not number(obj["rate_hz"]) or not obj["rate_hz"] > 0:
        raise InfoError("bad rate_hz")
    nch = obj.get("nch")
    if not isinstance(nch, int) or isinstance(nch, bool) or not 1 <= nch <= 8:
        raise InfoError("bad nch")
    channels = obj.get("channels", [])
    if not isinstance(channels, list) or len(channels) > nch or any(
            not isinstance(c, str) or len(c.encode()) >= 32 for c in channels):
        raise InfoError("bad channels")
    cpn = obj.get("counts_per_newton", [])
    if not isinstance(cpn, list) or len(cpn) > nch or any(not number(v) or v < 0 for v in cpn):
        raise InfoError("bad counts_per_newton")
    return (model, serial, float(obj["rate_hz"]), nch, fw, tuple(channels), tuple(cpn))


class NfpDecoder:
    def __init__(self, out):
        self.out = out
        self.buf = bytearray()
        self.skipping = False
        self.info = None
        self.expect = None  # 64-bit seq of the next set, None before the first SAMPLES
        self.overflow_base = 0

    def feed(self, data):
        for b in data:
            if b == 0:
                if not self.skipping and self.buf:
                    self.frame(bytes(self.buf))
                self.buf.clear()
                self.skipping = False
            elif not self.skipping:
                self.buf.append(b)
                if len(self.buf) > MAX_ENCODED:  # 4.2: counted once, skip to next 0x00
                    self.out.c["bad_length"] += 1
                    self.buf.clear()
                    self.skipping = True

    def frame(self, block):
        c = self.out.c
        body = cobs_decode(block)
        if body is None:
            c["bad_cobs"] += 1
            return
        if len(body) < 4 or len(body) > MAX_BODY:
            c["bad_length"] += 1
            return
        if crc16_ccitt_false(body[:-2]) != int.from_bytes(body[-2:], "little"):
            c["bad_crc"] += 1
            return
        if body[0] != 1:
            c["bad_version"] += 1
            return
        kind, payload = body[1], body[2:-2]
        if kind == 1:
            self.samples(payload)
        elif kind == 2:
            self.info_frame(payload)
        elif kind == 3:
            self.status(payload)
        else:
            c["unknown_type"] += 1

    def samples(self, p):
        c = self.out.c
        if len(p) < 10:
            c["bad_length"] += 1
            return
        seq = int.from_bytes(p[0:4], "little")
        t_us = int.from_bytes(p[4:8], "little")
        nch, nsets = p[8], p[9]
        if not (1 <= nch <= 8 and 1 <= nsets <= 64 and len(p) == 10 + 4 * nch * nsets):
            c["bad_length"] += 1
            return
        if self.info is not None and nch != self.info[3]:
            c["bad_length"] += 1
            return
        c["frames_ok"] += 1
        flags = 0
        if self.expect is None:  # 5: the first frame is never a gap
            seq64 = seq
        else:
            e = self.expect % U32
            if seq == e:
                seq64 = self.expect
            elif seq > e:
                lost = seq - e
                seq64 = self.expect + lost
                self.gap(lost)
                flags = AFTER_GAP
            elif e - seq > (1 << 31):  # wrapped, sets lost across the wrap
                lost = seq + U32 - e
                seq64 = self.expect + lost
                self.gap(lost)
                flags = AFTER_GAP
            else:  # restart: seq restarts from the device's value
                seq64 = seq
                c["restarts"] += 1
                self.out.event(EV_RESTART, seq64, 0)
                self.overflow_base = 0
                flags = AFTER_RESTART
        rate = self.info[2] if self.info else None
        for i in range(nsets):
            raw = [int.from_bytes(p[10 + 4 * (i * nch + k):14 + 4 * (i * nch + k)], "little",
                                  signed=True) for k in range(nch)]
            if rate:
                t = (t_us + llround(i * 1e6 / rate)) % U32
            else:
                t = t_us if i == 0 else 0
            self.out.set(seq64 + i, t, flags if i == 0 else 0, raw)
        self.expect = seq64 + nsets

    def gap(self, lost):
        c = self.out.c
        c["gaps"] += 1
        c["gap_sets"] += lost
        self.out.event(EV_GAP, self.expect, lost)

    def info_frame(self, p):
        try:
            info = parse_info(p)
        except InfoError:
            self.out.c["bad_payload"] += 1
            return
        self.out.c["frames_ok"] += 1
        if info != self.info:
            self.info = info
            self.out.info(info[0], info[1], info[2], info[3])

    def status(self, p):
        c = self.out.c
        if len(p) != 6:
            c["bad_length"] += 1
            return
        c["frames_ok"] += 1
        overflows = int.from_bytes(p[0:4], "little")
        new = overflows - self.overflow_base if overflows >= self.overflow_base else overflows
        self.overflow_base = overflows
        if new > 0:
            c["overflows"] += new
            self.out.event(EV_OVERFLOW, self.expect if self.expect is not None else 0, new)


# ------------------------------------------------------------- proto=text ---

PRESETS = {  # SERIAL.md "Presets"
    "csv": dict(channels=[0, 1], time=None, fields=0, match="", unit="counts", scale=1.0, rate=100.0),
    "hx711-adc-2x": dict(channels=[1, 3], time=None, fields=4, match="Load_cell", unit="g",
                         scale=100.0, rate=10.0),
    "openscale": dict(channels=[1], time=0, fields=0, match="", unit="lbf", scale=1000.0, rate=10.0),
}
TIME_UNITS = {"s": 1e6, "ms": 1e3, "us": 1.0}
# SERIAL.md: signed decimal, optional fraction and exponent, '.' as the point.
NUMBER = re.compile(rb"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
GLUE = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")
MAX_LINE = 1024
INT32 = (-(1 << 31), (1 << 31) - 1)


def numbers(line):
    """Numbers in order; one glued to a letter, digit, '_' or '.' before it is none."""
    found, i = [], 0
    while i < len(line):
        m = NUMBER.match(line, i)
        if m and (i == 0 or line[i - 1] not in GLUE):
            found.append(float(m.group()))
            i = m.end()
        elif m:
            i = m.end()  # the whole glued token is skipped
        else:
            i += 1
    return found


def has_control(line):
    return any(b < 0x20 and b != 0x09 or b == 0x7F for b in line)


class LineSplitter:
    """SERIAL.md: lines end in LF, CR or CRLF; empty lines are ignored."""

    def __init__(self, on_line, skip_first):
        self.on_line = on_line
        self.buf = bytearray()
        self.skip_first = skip_first

    def feed(self, data):
        for b in data:
            if b in (0x0A, 0x0D):
                line = bytes(self.buf)
                self.buf.clear()
                if self.skip_first:
                    self.skip_first = False
                    if line:
                        self.on_line(None)  # the dropped half line counts bad
                    continue
                if line:
                    self.on_line(line)
            else:
                self.buf.append(b)


class TextDecoder:
    def __init__(self, out, q):
        preset = q.get("preset", "csv")
        cfg = dict(PRESETS[preset])
        if "channels" in q:
            cfg["channels"] = [int(x) for x in q["channels"].split(",")]
        if "time" in q:
            cfg["time"] = None if q["time"] == "none" else int(q["time"])
        for key in ("fields",):
            if key in q:
                cfg[key] = int(q[key])
        for key in ("scale", "rate"):
            if key in q:
                cfg[key] = float(q[key])
        if "match" in q:
            cfg["match"] = q["match"]
        self.time_scale = TIME_UNITS[q.get("time_unit", "ms")]
        self.cfg = cfg
        self.out = out
        self.seq = 0
        self.lines = LineSplitter(self.line, q.get("first_line", "skip") == "skip")
        out.info(q.get("model", "text:" + preset), "", cfg["rate"], len(cfg["channels"]))

    def feed(self, data):
        self.lines.feed(data)

    def line(self, line):
        c, cfg = self.out.c, self.cfg
        if line is None or len(line) > MAX_LINE or has_control(line) or \
                cfg["match"].encode() not in line:
            c["lines_bad"] += 1
            return
        nums = numbers(line)
        need = max(cfg["channels"] + ([cfg["time"]] if cfg["time"] is not None else [])) + 1
        if (cfg["fields"] and len(nums) != cfg["fields"]) or len(nums) < need:
            c["lines_bad"] += 1
            return
        raw = [llround(nums[i] * cfg["scale"]) for i in cfg["channels"]]
        if any(not INT32[0] <= v <= INT32[1] for v in raw):
            c["lines_bad"] += 1
            return
        t = 0
        if cfg["time"] is not None:
            t = llround(nums[cfg["time"]] * self.time_scale) % U32
        c["lines_ok"] += 1
        self.out.set(self.seq, t, 0, raw)
        self.seq += 1


# --------------------------------------------------------- proto=loadstar ---

FORCE_UNITS = {"lb", "lbf", "kg", "kgf", "n", "kn", "g", "oz"}


class LoadstarSession:
    """SERIAL.md "Loadstar DI-1000 family": the host's dialogue against the
    device's recorded answers, then the stream. Writes are printed as
    'write <escaped>' so the capture also checks what the host sends."""

    def __init__(self, out, q, data):
        self.out, self.q = out, q
        self.dialect = q.get("dialect", "di1000")
        self.scale = float(q.get("scale", 10000 if self.dialect == "di1000" else 1))
        self.rate = float(q.get("rate", 80))
        self.data = data
        self.pos = 0

    def write(self, text):
        self.out.lines.append("write " + text.encode().hex())

    def next_line(self):
        """Next non-empty device line (CR LF ended), or None when it fell silent."""
        while self.pos < len(self.data):
            m = re.compile(rb"[\r\n]").search(self.data, self.pos)
            if not m:
                return None  # a half line: no answer within the timeout
            line = self.data[self.pos:m.start()].strip(b" \t")
            self.pos = m.end()
            if line:
                return line.decode("latin-1")
        return None

    def answer(self):
        """Stray 'A' lines before an answer are skipped."""
        while True:
            line = self.next_line()
            if line != "A":
                return line

    def dialogue(self):
        self.write("\r")
        while True:  # wake: other lines are ignored until "A"
            line = self.next_line()
            if line is None:
                self.write("\r")
                self.write("\r")
                return False
            if line == "A":
                break
        if self.dialect == "di1000":
            self.write("MODEL\r")
            a = self.answer()
            if a is None or "DI-100" not in a:
                return False
            model = "Loadstar " + (a[4:] if a.startswith("FCM ") else a)
            self.write("ID\r")
            serial = self.answer()
            if serial is None:
                return False
            self.write("UNITS\r")
            unit = self.answer()
            if unit is None or ("unit" not in self.q and unit.lower() not in FORCE_UNITS):
                return False
            self.write("LC\r")
            cap = self.answer()
            if cap is None or not re.fullmatch(r"[-+]?[0-9]+(\.[0-9]*)?", cap.split()[0]):
                return False
        else:
            model = None
            self.write("SS1\r")
            serial = self.answer()
            if serial is None:
                return False
            self.write("SLC\r")
            cap = self.answer()
            if cap is None or not re.fullmatch(r"[-+]?[0-9]+(\.[0-9]*)?", cap.split()[0]):
                return False
        if self.q.get("tare") == "1":
            self.write("CT0\r")
            a = self.next_line()
            if a not in ("Tared", "A"):
                return False
        self.out.info(model if model else "Loadstar iLoad", serial.strip(), self.rate, 1)
        self.write("WC\r" if self.dialect == "di1000" else "O0W0\r")
        return True

    def run(self):
        ok = self.dialogue()
        if not ok:
            self.out.lines.append("connect failed")
            return
        seq = 0
        rest = self.data[self.pos:]
        for line in re.split(rb"\r\n|\r|\n", rest)[:-1] if rest else []:
            line = line.strip(b" \t")
            if not line or line in (b"A", b"Tared"):
                continue
            nums = NUMBER.fullmatch(line)
            if not nums or has_control(line):
                self.out.c["lines_bad"] += 1
                continue
            self.out.c["lines_ok"] += 1
            self.out.set(seq, 0, 0, [llround(float(line) * self.scale)])
            seq += 1


# ---------------------------------------------------------------- driver ---

def split_capture(blob):
    end = blob.index(b"\n#--\n")
    header = blob[:end].decode()
    m = re.search(r"^# uri: (.*)$", header, re.M)
    return m.group(1), blob[end + 5:]


def decode(blob):
    uri, data = split_capture(blob)
    query = urllib.parse.urlsplit(uri).query if "?" in uri else ""
    q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    out = Output()
    proto = q.get("proto", "nfp")
    if proto == "nfp":
        NfpDecoder(out).feed(data)
    elif proto == "text":
        TextDecoder(out, q).feed(data)
    elif proto == "loadstar":
        LoadstarSession(out, q, data).run()
    else:
        raise SystemExit("unknown proto " + proto)
    return out.text()


def main(argv):
    if len(argv) == 2 and not argv[1].startswith("--"):
        sys.stdout.write(decode(open(argv[1], "rb").read()))
        return 0
    if len(argv) != 3 or argv[1] not in ("--write", "--check"):
        sys.stderr.write(__doc__)
        return 2
    bad = 0
    names = sorted(n for n in os.listdir(argv[2]) if n.endswith(".capture"))
    for name in names:
        path = os.path.join(argv[2], name)
        expect = decode(open(path, "rb").read())
        if argv[1] == "--write":
            with open(path + ".chk", "w") as f:
                f.write(expect)
            continue
        try:
            have = open(path + ".chk").read()
        except FileNotFoundError:
            have = None
        if have != expect:
            bad += 1
            sys.stderr.write("%s: .chk differs from the reference decoder's reading\n" % name)
    print("%d captures, %d differ" % (len(names), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
