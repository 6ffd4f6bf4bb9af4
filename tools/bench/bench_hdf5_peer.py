"""Peer for nordic-bench-hdf5: h5py appending the trial-file sample layout
(same dtypes, chunk rows, libver latest, SWMR mode, same batch size, flush +
fdatasync on the same timer). Prints one line: "<seconds> <sets>".

With MODE "chunked" the peer buffers rows the way nd_trial_file does: whole
chunks go to h5py as soon as they fill, and the flush timer writes the
partial rest; the default MODE "batch" writes every batch as it comes.

usage: bench_hdf5_peer.py PATH NCH NSETS BATCH CHUNK_ROWS FLUSH_INTERVAL_S [MODE]"""
import os
import sys
import time

import h5py
import numpy as np


def main():
    path, nch, nsets, batch, chunk_rows, interval = sys.argv[1:7]
    mode = sys.argv[7] if len(sys.argv) > 7 else "batch"
    if mode not in ("batch", "chunked"):
        sys.exit("MODE must be batch or chunked, not %r" % mode)
    nch, nsets, batch, chunk_rows, interval = (int(nch), int(nsets), int(batch),
                                               int(chunk_rows), float(interval))
    i = np.arange(nsets, dtype=np.uint64)
    seq = i + np.uint64(3) * (i // np.uint64(5000))
    raw = np.empty((nsets, nch), dtype=np.int32)
    for ch in range(nch):
        raw[:, ch] = ((i * np.uint64(7919) + np.uint64(ch * 104729)) % np.uint64(2000003)
                      ).astype(np.int64) - 1000000
    force = raw.astype(np.float64) * 0.001

    t0 = time.perf_counter()
    f = h5py.File(path, "w", libver="latest")
    g = f.create_group("samples")
    d_raw = g.create_dataset("raw", (0, nch), maxshape=(None, nch), dtype="<i4",
                             chunks=(chunk_rows, nch))
    d_force = g.create_dataset("force_N", (0, nch), maxshape=(None, nch), dtype="<f8",
                               chunks=(chunk_rows, nch))
    d_seq = g.create_dataset("seq", (0,), maxshape=(None,), dtype="<u8", chunks=(chunk_rows,))
    f.swmr_mode = True
    fd = os.open(path, os.O_RDONLY)
    dsets = ((d_raw, raw), (d_force, force), (d_seq, seq))
    n = 0          # rows received
    written = 0    # rows handed to h5py
    last_flush = time.monotonic()

    def write_rows(upto):
        # rows [written, upto) from the row buffers (here: the source arrays,
        # which hold the same values a copy into numpy buffers would)
        nonlocal written
        if upto > written:
            for d, src in dsets:
                d.resize(upto, axis=0)
                d[written:upto] = src[written:upto]
            written = upto

    while n < nsets:
        k = min(batch, nsets - n)
        n += k
        if mode == "batch":
            write_rows(n)
        elif n // chunk_rows > written // chunk_rows:
            write_rows(n // chunk_rows * chunk_rows)  # whole chunks as they fill
        now = time.monotonic()
        if now - last_flush >= interval:
            write_rows(n)  # the partial rest, as nd_trial_file's flush does
            for d, _ in dsets:
                d.flush()
            os.fdatasync(fd)
            last_flush = now
    write_rows(n)
    f.close()
    os.fdatasync(fd)
    os.close(fd)
    print("%.6f %d" % (time.perf_counter() - t0, nsets))


if __name__ == "__main__":
    main()
