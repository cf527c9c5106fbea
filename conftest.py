"""Test-session settings: one BLAS and one torch thread per pytest worker.

The suite runs with ``pytest -n 2`` on two cores; letting each worker also start a thread per
core oversubscribes the machine (torch and OpenBLAS then run the tiny models and solves of the
tests many times slower).
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def pytest_configure(config):
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    import torch

    torch.set_num_threads(1)
