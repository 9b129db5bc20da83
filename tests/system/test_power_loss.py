"""Power loss during storage writes (P2; the base of every persistence guarantee).

A MicroPython process rewrites files on the simulated board's littlefs image with write_atomic();
it is killed with SIGKILL at random moments, 50 times. After each kill the image must mount, and
every file must hold exactly its old or its new content.
"""
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from host_tools.paths import FIRMWARE_LIB
from host_tools.sim import micropython_command
from host_tools import frozen

WRITER = Path(__file__).with_name("storage_writer.py")


def _spawn(state, seq):
    env = frozen.mp_env()
    return subprocess.Popen(frozen.mp_command() + [str(WRITER), str(state),
                             str(seq)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _parse(out):
    have, started, done = {}, {}, {}
    for line in out.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in ("have", "start", "done"):
            {"have": have, "start": started, "done": done}[parts[0]][int(parts[1])] = int(parts[2])
        elif parts and parts[0] not in ("have", "start", "done"):
            raise AssertionError("writer said: " + out.decode(errors="replace")[-2000:])
    return have, started, done


def test_sigkill_during_writes_never_tears_a_file(tmp_path):
    rng = random.Random(2024)
    expect = {}  # file -> set of acceptable sequence numbers after the last kill
    seq = 1
    kills = 0
    mid_write = 0  # kills that landed between a write's start and its end
    while kills < 50:
        p = _spawn(tmp_path, seq)
        time.sleep(rng.uniform(0.05, 0.35))
        p.send_signal(signal.SIGKILL)
        out, _ = p.communicate(timeout=30)
        have, started, done = _parse(out)
        assert len(have) == 3, "the image did not mount again:\n" + out.decode(errors="replace")[-2000:]
        for f, s in have.items():
            assert s != -1, "file f%d is torn after kill %d" % (f, kills)
            if f in expect:
                assert s in expect[f], "file f%d holds seq %d, expected one of %s" % (f, s, expect[f])
        kills += 1
        mid_write += any(started.get(f) != done.get(f) for f in started)
        for f in range(3):
            last_done = done.get(f, have[f])
            expect[f] = {last_done, started.get(f, last_done)}
        seq = max([seq] + list(started.values())) + 1
    assert kills == 50
    assert mid_write >= 25, "only %d kills hit a write: the test would prove little" % mid_write
