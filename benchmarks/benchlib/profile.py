# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""py-spy profiles of the daemons, summed up."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

# Leaf frames of a thread that waits (for an answer, a lock, a key) rather than computes.
_WAITING = (
    "SSLSocket.read",
    "SSLSocket.recv_into",
    "SSLSocket.send",
    "SSLSocket.sendall",
    "SSLSocket.do_handshake",
    "SocketIO.readinto",
    "Condition.wait",
    "Event.wait",
    "_PollLikeSelector.select",
    "do_poll",
    "socket.accept",
)


def summarize_profile(path: Path, top: int = 25) -> dict:
    """Hottest functions of a py-spy raw (collapsed) profile.

    ``waiting_pct``: samples whose leaf waits on a socket or a lock; ``on_cpu_inclusive``/``on_cpu_self``:
    shares of the other (computing) samples.
    """
    total = waiting = 0
    own: Counter = Counter()
    inclusive: Counter = Counter()
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        stack, _sep, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        if frames[-1].startswith(_WAITING):
            waiting += n
            continue
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return {"samples": waiting, "waiting_pct": 100.0 if waiting else None}
    return {
        "samples": total + waiting,
        "waiting_pct": round(100 * waiting / (total + waiting), 1),
        "on_cpu_inclusive": [(f, round(100 * n / total, 1)) for f, n in inclusive.most_common(top)],
        "on_cpu_self": [(f, round(100 * n / total, 1)) for f, n in own.most_common(top)],
    }
