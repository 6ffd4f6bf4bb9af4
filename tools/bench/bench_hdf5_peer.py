"""Peer for nordic-bench-hdf5: h5py appending the trial-file sample layout
(same dtypes, chunk rows, libver latest, SWMR mode, same batch size, flush +
fdatasync on the same timer). Prints one line: "<seconds> <sets>".

usage: bench_hdf5_peer.py PATH NCH NSETS BATCH CHUNK_ROWS FLUSH_INTERVAL_S"""
import os
import sys
import time

import h5py
import numpy as np


def main():
    path, nch, nsets, batch, chunk_rows, interval = sys.argv[1:7]
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
    n = 0
    last_flush = time.monotonic()
    while n < nsets:
        k = min(batch, nsets - n)
        for d, src in ((d_raw, raw), (d_force, force), (d_seq, seq)):
            d.resize(n + k, axis=0)
            d[n:n + k] = src[n:n + k]
        n += k
        now = time.monotonic()
        if now - last_flush >= interval:
            for d in (d_raw, d_force, d_seq):
                d.flush()
            os.fdatasync(fd)
            last_flush = now
    f.close()
    os.fdatasync(fd)
    os.close(fd)
    print("%.6f %d" % (time.perf_counter() - t0, nsets))


if __name__ == "__main__":
    main()
