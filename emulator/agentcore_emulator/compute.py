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


def group_usages(groups: set[int], proc: Path = _PROC) -> dict[int, tuple[float, int]]:
    """CPU seconds used and bytes resident by each of ``groups`` (process groups), summed
    over their processes, in one pass over ``/proc``; empty where it cannot tell."""
    found: dict[int, tuple[float, int]] = {}
    if not groups or not proc.is_dir():
        return found
    ticks: dict[int, int] = {}
    pages: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended while we looked
        # The command name (field 2) may hold spaces and parentheses: read after the last.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) < 22 or (group := int(fields[2])) not in groups:
            continue
        ticks[group] = ticks.get(group, 0) + int(fields[11]) + int(fields[12])  # utime, stime
        pages[group] = pages.get(group, 0) + int(fields[21])
    for group, used in ticks.items():
        found[group] = (used / _TICKS, pages[group] * _PAGE)
    return found


@dataclass
class ComputeMeter:
    """One session's vCPU- and GB-seconds so far, from samples taken now and then."""

    group: int  # the instance's process group: every process of it is the session's
    last_at: float  # when memory was last counted to (the session's start, at first)
    vcpu_seconds: float = 0.0
    gb_seconds: float = 0.0
    memory_bytes: int = 0

    def sample(self, now: float, usage: tuple[float, int] | None) -> None:
        """Take one reading of the group (None: none could be had, nothing is counted)."""
        if usage is None:
            return
        cpu, resident = usage
        # The group began with the session: all its CPU is the session's. (A process that
        # has ended takes its time with it: sampled often, little is missed.)
        self.vcpu_seconds = max(self.vcpu_seconds, cpu)
        # Memory held since the last reading, counted at this reading's size.
        self.gb_seconds += max(resident, MIN_MEMORY_BYTES) / _GB * max(0.0, now - self.last_at)
        self.memory_bytes = resident
        self.last_at = now

    def cost(self, vcpu_hour: float = VCPU_HOUR_USD, gb_hour: float = GB_HOUR_USD) -> float:
        return self.vcpu_seconds / 3600 * vcpu_hour + self.gb_seconds / 3600 * gb_hour
