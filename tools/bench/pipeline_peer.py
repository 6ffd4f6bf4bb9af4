#!/usr/bin/python3
"""Peer for nordic-bench-pipeline: the whole nordicd pipeline as a competent
lab engineer would write it with Debian's numpy, scipy, h5py and pyzmq.

    TCP NFP/1 source -> frames (COBS, CRC-16/CCITT-FALSE) -> calibration ->
    2nd-order Butterworth low-pass (scipy lfilter, state carried) -> rep
    detection (daemon/metrics/METRICS.md: open at T >= on, end after hold samples
    below off, discard shorter than min_rep) -> HDF5 trial file (the
    /samples layout of daemon/trialfile/TRIAL_FORMAT.md: raw, force_N, seq; chunks of
    chunk_rows, libver latest, SWMR, whole chunks buffered, flush + fdatasync
    every 0.25 s; /reps) -> ZeroMQ PUB (wave blocks of decimated force, live
    at live_hz, rep, status at 1 Hz; JSON as daemon/wire/ZMQ_PROTOCOL.md).

Work is done in batches, vectorised, every 20 ms of arrivals (as nordicd's
consumers batch). Frame decoding is a Python loop per frame: numpy has no
COBS. What it leaves out against nordicd: the trial file's root metadata
attributes and /events, the control socket, reconnection.

Ends on SIGTERM/SIGINT or when the source closes; prints one JSON line:
sets, gaps (sets lost, from seq), bad frames, reps, elapsed seconds.

usage: pipeline_peer.py --connect HOST:PORT --out FILE.h5 --pub ENDPOINT
         --cutoff HZ --on N --off N --hold S --min-rep S --impulse-threshold N
         [--chunk-rows 8192] [--live-hz 50] [--decimation 10] [--block 50]
"""
import argparse
import binascii
import json
import os
import signal
import socket
import time

import h5py
import numpy as np
import zmq
from scipy import signal as sps


def cobs_decode(block):
    out = bytearray()
    i, n = 0, len(block)
    while i < n:
        code = block[i]
        end = i + code
        if code == 0 or end > n:
            return None
        out += block[i + 1:end]
        i = end
        if code < 0xFF and i < n:
            out.append(0)
    return bytes(out)


class Peer:
    def __init__(self, a):
        self.a = a
        self.stop = False
        self.sets = self.gaps = self.bad = 0
        self.next_seq = None
        self.fs = None
        self.nch = None
        self.gain = None
        self.pending_raw = []
        self.pending_seq = []
        self.file = None
        self.zi = None
        self.pos = 0          # sets processed (trial index of the next set)
        self.carry = np.empty(0)  # filtered total since the last closed rep
        self.carry_fl = np.empty(0)
        self.carry_fr = np.empty(0)
        self.carry_start = 0  # trial index of carry[0]
        self.nreps = 0
        self.ctx = zmq.Context()
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.bind(a.pub)
        self.seqs = {}
        self.t_open = time.monotonic()
        self.t_first = None
        self.wave_acc = []
        self.last_live = 0.0
        self.last_status = 0.0
        self.last_flush = time.monotonic()
        self.cur = (0.0, 0.0)

    # ---- ZeroMQ
    def send(self, topic, body):
        s = self.seqs.get(topic, 0)
        self.seqs[topic] = s + 1
        body.update({"v": 1, "seq": s, "t": self.pos / self.fs if self.fs else None,
                     "uptime_s": time.monotonic() - self.t_open})
        self.pub.send_multipart([topic.encode(), json.dumps(body).encode()])

    # ---- file
    def open_file(self):
        a = self.a
        f = h5py.File(a.out, "w", libver="latest")
        f.attrs["sample_rate_hz"] = self.fs
        f.attrs["chunk_rows"] = a.chunk_rows
        g = f.create_group("samples")
        self.d_raw = g.create_dataset("raw", (0, self.nch), maxshape=(None, self.nch), dtype="<i4",
                                      chunks=(a.chunk_rows, self.nch))
        self.d_force = g.create_dataset("force_N", (0, self.nch), maxshape=(None, self.nch),
                                        dtype="<f8", chunks=(a.chunk_rows, self.nch))
        self.d_seq = g.create_dataset("seq", (0,), maxshape=(None,), dtype="<u8",
                                      chunks=(a.chunk_rows,))
        rep_t = np.dtype([("index", "<u4"), ("i_open", "<u8"), ("i_end", "<u8"),
                          ("t_open_s", "<f8"), ("t_end_s", "<f8"), ("peak_left_N", "<f8"),
                          ("peak_right_N", "<f8"), ("impulse_left_Ns", "<f8"),
                          ("impulse_right_Ns", "<f8")])
        self.rep_t = rep_t
        self.d_reps = f.create_dataset("reps", (0,), maxshape=(None,), dtype=rep_t, chunks=(64,))
        f.swmr_mode = True
        self.file = f
        self.fd = os.open(a.out, os.O_RDONLY)
        self.buf = []        # row buffers not yet handed to h5py
        self.buffered = 0
        self.written = 0
        b, den = sps.butter(2, a.cutoff, btype="low", fs=self.fs)
        self.ba = (b, den) if a.cutoff < 0.45 * self.fs else None
        self.hold = max(1, int(round(a.hold * self.fs)))
        self.min_n = int(round(a.min_rep * self.fs))

    def write_rows(self):
        if not self.buffered:
            return
        raw = np.concatenate([r for r, _, _ in self.buf])
        force = np.concatenate([f for _, f, _ in self.buf])
        seq = np.concatenate([s for _, _, s in self.buf])
        n0, n1 = self.written, self.written + len(seq)
        for d, src in ((self.d_raw, raw), (self.d_force, force), (self.d_seq, seq)):
            d.resize(n1, axis=0)
            d[n0:n1] = src
        self.written = n1
        self.buf, self.buffered = [], 0

    def flush(self):
        self.write_rows()
        for d in (self.d_raw, self.d_force, self.d_seq, self.d_reps):
            d.flush()
        os.fdatasync(self.fd)

    # ---- frames
    def frame(self, block):
        body = cobs_decode(block)
        if body is None or len(body) < 4:
            self.bad += 1
            return
        if binascii.crc_hqx(body[:-2], 0xFFFF) != int.from_bytes(body[-2:], "little") \
                or body[0] != 1:
            self.bad += 1
            return
        kind, p = body[1], body[2:-2]
        if kind == 2:  # INFO
            info = json.loads(p.decode())
            if self.fs is None:
                self.fs = float(info["rate_hz"])
                self.nch = int(info["nch"])
                cpn = info.get("counts_per_newton") or [1.0] * self.nch
                self.gain = np.array([1.0 / c for c in cpn[:self.nch]])
                self.open_file()
            return
        if kind != 1 or self.fs is None:
            return
        seq, nch, nsets = int.from_bytes(p[0:4], "little"), p[8], p[9]
        if len(p) != 10 + 4 * nch * nsets or nch != self.nch:
            self.bad += 1
            return
        if self.next_seq is not None and seq != self.next_seq:
            self.gaps += (seq - self.next_seq) & 0xFFFFFFFF
        self.next_seq = (seq + nsets) & 0xFFFFFFFF
        if self.t_first is None:
            self.t_first = time.monotonic()  # the rate counts from the first set taken
        self.pending_raw.append(np.frombuffer(p, dtype="<i4", offset=10).reshape(nsets, nch))
        self.pending_seq.append(np.arange(seq, seq + nsets, dtype=np.uint64))

    # ---- the vectorised batch
    def process(self):
        if not self.pending_raw:
            return
        raw = np.concatenate(self.pending_raw)
        seq = np.concatenate(self.pending_seq)
        self.pending_raw, self.pending_seq = [], []
        n = len(seq)
        force = raw * self.gain
        fl, fr = force[:, 0], force[:, 1]
        if self.ba is not None:
            b, den = self.ba
            if self.zi is None:
                z = sps.lfilter_zi(b, den)
                self.zi = [z * fl[0], z * fr[0]]
            fl, self.zi[0] = sps.lfilter(b, den, fl, zi=self.zi[0])
            fr, self.zi[1] = sps.lfilter(b, den, fr, zi=self.zi[1])
        self.detect(fl, fr)
        self.cur = (float(fl[-1]), float(fr[-1]))
        # the file: whole chunks as they fill, the rest on the flush timer
        self.buf.append((raw, force, seq))
        self.buffered += n
        if (self.written + self.buffered) // self.a.chunk_rows > self.written // self.a.chunk_rows:
            self.write_rows()
        # wave: means of `decimation` calibrated, unfiltered sets, blocks of `block`
        self.wave(force[:, :2])
        self.pos += n
        self.sets += n

    def detect(self, fl, fr):
        a = self.a
        self.carry_fl = np.concatenate((self.carry_fl, fl))
        self.carry_fr = np.concatenate((self.carry_fr, fr))
        total = self.carry_fl + self.carry_fr
        n = len(total)
        below = np.concatenate(([0], (total < a.off).astype(np.int8), [0]))
        edges = np.flatnonzero(np.diff(below))
        starts, ends = edges[0::2], edges[1::2]
        run_starts = starts[(ends - starts) >= self.hold]
        on_idx = np.flatnonzero(total >= a.on)
        keep = n  # nothing open: the next batch starts afresh
        pos = 0
        while True:
            k = np.searchsorted(on_idx, pos)
            if k >= len(on_idx):
                break
            i_open = int(on_idx[k])
            j = np.searchsorted(run_starts, i_open, side="right")
            if j >= len(run_starts):
                keep = i_open  # still open: keep it for the next batch
                break
            i_end = int(run_starts[j])
            if i_end - i_open >= self.min_n:
                self.rep(i_open, i_end)
            pos = i_end
        self.carry_start += keep
        self.carry_fl = self.carry_fl[keep:]
        self.carry_fr = self.carry_fr[keep:]

    def rep(self, i_open, i_end):
        fs, thr = self.fs, self.a.impulse_threshold
        row = [self.nreps + 1, self.carry_start + i_open, self.carry_start + i_end,
               (self.carry_start + i_open) / fs, (self.carry_start + i_end) / fs]
        peaks, imp = [], []
        for f in (self.carry_fl, self.carry_fr):
            seg = f[i_open:i_end]
            peaks.append(float(seg.max()))
            imp.append(float(seg[seg >= thr].sum() / fs))
        row += peaks + imp
        self.nreps += 1
        n = self.d_reps.shape[0]
        self.d_reps.resize(n + 1, axis=0)
        self.d_reps[n] = tuple(row)
        self.send("rep", {"index": row[0], "t_open_s": row[3], "t_end_s": row[4],
                          "peak_left_N": peaks[0], "peak_right_N": peaks[1],
                          "impulse_left_Ns": imp[0], "impulse_right_Ns": imp[1]})

    def wave(self, lr):
        a = self.a
        self.wave_acc.append(lr)
        have = sum(len(x) for x in self.wave_acc)
        need = a.decimation * a.block
        if have < need:
            return
        allv = np.concatenate(self.wave_acc)
        nblocks = len(allv) // need
        for k in range(nblocks):
            pts = allv[k * need:(k + 1) * need].reshape(a.block, a.decimation, 2).mean(axis=1)
            self.send("wave", {"t0": (self.pos - len(allv) + k * need) / self.fs,
                               "dt": a.decimation / self.fs, "decimation": a.decimation,
                               "n": a.block, "left_N": np.round(pts[:, 0], 2).tolist(),
                               "right_N": np.round(pts[:, 1], 2).tolist(),
                               "host_ns": time.monotonic_ns()})
        self.wave_acc = [allv[nblocks * need:]]

    def ticks(self):
        now = time.monotonic()
        if now - self.last_live >= 1.0 / self.a.live_hz and self.fs:
            self.send("live", {"left_N": self.cur[0], "right_N": self.cur[1],
                               "total_N": self.cur[0] + self.cur[1], "reps": self.nreps})
            self.last_live = now
        if now - self.last_status >= 1.0:
            self.send("status", {"state": "recording", "counters": {
                "samples": self.sets, "gap_sets": self.gaps, "bad_frames": self.bad}})
            self.last_status = now
        if self.file is not None and now - self.last_flush >= self.a.flush:
            self.flush()
            self.last_flush = now

    def run(self, sock):
        buf = bytearray()
        t_batch = time.monotonic()
        sock.settimeout(0.02)
        while not self.stop:
            try:
                data = sock.recv(262144)
                if not data:
                    break
                buf += data
            except socket.timeout:
                pass
            except InterruptedError:
                continue
            now = time.monotonic()
            if now - t_batch >= 0.02:
                *frames, rest = bytes(buf).split(b"\x00")
                buf = bytearray(rest)
                for fr in frames:
                    if fr:
                        self.frame(fr)
                self.process()
                self.ticks()
                t_batch = now
        for fr in bytes(buf).split(b"\x00")[:-1]:
            if fr:
                self.frame(fr)
        self.process()
        elapsed = time.monotonic() - self.t_first if self.t_first else 0.0
        if self.file is not None:
            self.flush()
            self.file.close()
            os.close(self.fd)
        return elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pub", required=True)
    for name in ("cutoff", "on", "off", "hold", "min_rep", "impulse_threshold"):
        ap.add_argument("--" + name.replace("_", "-"), dest=name, type=float, required=True)
    ap.add_argument("--chunk-rows", type=int, default=8192)
    ap.add_argument("--live-hz", type=float, default=50)
    ap.add_argument("--decimation", type=int, default=10)
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--flush", type=float, default=0.25)
    a = ap.parse_args()
    peer = Peer(a)

    def on_signal(_sig, _frm):
        peer.stop = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    host, port = a.connect.rsplit(":", 1)
    sock = None
    for _ in range(200):
        try:
            sock = socket.create_connection((host, int(port)))
            break
        except OSError:
            time.sleep(0.05)
    if sock is None:
        raise SystemExit("cannot connect to %s" % a.connect)
    elapsed = peer.run(sock)
    print(json.dumps({"sets": peer.sets, "gaps": peer.gaps, "bad": peer.bad,
                      "reps": peer.nreps, "elapsed_s": elapsed}), flush=True)


if __name__ == "__main__":
    main()
