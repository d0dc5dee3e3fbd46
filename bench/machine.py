"""One line that says which machine the figures came from: print it first."""

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


if __name__ == "__main__":
    print(describe())
