"""Pins every BLAS/OpenMP pool of a PyTorch peer to its --threads before torch is imported.

Debian's torch does its GEMMs in OpenBLAS, whose own thread pool ignores
torch.set_num_threads(): without this a peer runs more threads than it is credited with (and
slows down under load). Import this module before torch.
"""
import os
import sys


def pin_threads_from_argv(default="1"):
    n = default
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            n = sys.argv[i + 1]
        elif a.startswith("--threads="):
            n = a.split("=", 1)[1]
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = n
    return n
