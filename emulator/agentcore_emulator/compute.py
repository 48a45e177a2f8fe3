"""The compute a session holds, measured as AgentCore bills it: vCPU-seconds of CPU actually
used (I/O wait is not billed), and GB-seconds of memory held (at least 128 MB), read from
``/proc`` for every process of the instance's process group."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# AgentCore Runtime's published prices (us-east-1), used to show an estimate: stated on
# the dashboard with the figures, configurable in [emulator].
VCPU_HOUR_USD = 0.0895
GB_HOUR_USD = 0.00945
MIN_MEMORY_BYTES = 128 * 1024 * 1024  # AgentCore bills at least 128 MB
_GB = 1024**3
_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def group_usage(group: int, proc: Path = _PROC) -> tuple[float, int] | None:
    """CPU seconds used and bytes resident, summed over process group ``group``; None
    where ``/proc`` cannot tell (not Linux)."""
    if not proc.is_dir():
        return None
    cpu_ticks = resident_pages = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended while we looked
        # The command name (field 2) may hold spaces and parentheses: read after the last.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) < 22 or int(fields[2]) != group:
            continue
        cpu_ticks += int(fields[11]) + int(fields[12])  # utime, stime
        resident_pages += int(fields[21])
    return cpu_ticks / _TICKS, resident_pages * _PAGE


@dataclass
class ComputeMeter:
    """One session's vCPU- and GB-seconds so far, from samples taken now and then."""

    group: int
    started_cpu: float | None = None
    vcpu_seconds: float = 0.0
    gb_seconds: float = 0.0
    memory_bytes: int = 0
    last_at: float | None = None

    def sample(self, now: float) -> None:
        usage = group_usage(self.group)
        if usage is None:
            return
        cpu, resident = usage
        if self.started_cpu is None:
            self.started_cpu = cpu
        self.vcpu_seconds = max(self.vcpu_seconds, cpu - self.started_cpu)
        if self.last_at is not None:
            held = max(resident, MIN_MEMORY_BYTES)
            self.gb_seconds += held / _GB * max(0.0, now - self.last_at)
        self.memory_bytes = resident
        self.last_at = now

    def cost(self, vcpu_hour: float = VCPU_HOUR_USD, gb_hour: float = GB_HOUR_USD) -> float:
        return self.vcpu_seconds / 3600 * vcpu_hour + self.gb_seconds / 3600 * gb_hour
