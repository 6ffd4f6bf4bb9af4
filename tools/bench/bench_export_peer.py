"""Peer of nordic-bench-export: reads what every export reads (raw, force_N,
seq) with h5py in the exporter's slice size, and nothing else: the floor an
HDF5-based exporter pays before formatting a single number."""
import sys

import h5py

SLICE = 16384  # ND_EXPORT_SLICE_ROWS

with h5py.File(sys.argv[1], "r") as f:
    raw, force, seq = f["samples/raw"], f["samples/force_N"], f["samples/seq"]
    n = seq.shape[0]
    total = 0.0
    for first in range(0, n, SLICE):
        last = min(n, first + SLICE)
        r = raw[first:last]
        x = force[first:last]
        s = seq[first:last]
        total += float(x[0, 0]) + float(r[0, 0]) + float(s[0])
print(total, file=sys.stderr)
