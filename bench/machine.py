"""Which machine the figures came from (print it first), and its cores to share."""

import os
import platform
from pathlib import Path

import aiohttp
import psutil


def cpu_model() -> str:
    """The CPU's name where the system tells it (Linux: /proc/cpuinfo), else ""."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor()


def describe() -> str:
    model = cpu_model()
    return (
        f"{platform.machine()}, {os.cpu_count()} cores"
        + (f" ({model})" if model else "")
        + f", {psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.system()}, "
        f"Python {platform.python_version()}, aiohttp {aiohttp.__version__}"
    )


def cores_apart() -> tuple[int, int] | None:
    """A core for the servers and another for the load generator (Linux, 2+ cores)."""
    if not hasattr(psutil.Process, "cpu_affinity"):
        return None  # macOS cannot pin a process to a core
    cores = psutil.Process().cpu_affinity()
    return (cores[0], cores[1]) if len(cores) >= 2 else None


CORES = cores_apart()  # the servers' core, then the load generator's


if __name__ == "__main__":
    print(describe())
