"""Every firmware file compiles with mpy-cross, and that mpy-cross emits the bytecode version the
MicroPython interpreter loads (P1: the .mpy files a board gets are the ones we test)."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MICROPYTHON = os.environ.get("MICROPYTHON") or str(ROOT / ".venv" / "bin" / "micropython")


def test_mpy_cross_matches_interpreter_bytecode():
    out = subprocess.run([sys.executable, "-m", "mpy_cross", "--version"], capture_output=True,
                         text=True, check=True).stdout
    major, minor = map(int, re.search(r"mpy v(\d+)\.(\d+)", out).groups())
    code = "import sys; print(sys.implementation._mpy)"
    mpy = int(subprocess.run([MICROPYTHON, "-c", code], capture_output=True, text=True,
                             check=True).stdout)
    assert (mpy & 0xFF, (mpy >> 8) & 3) == (major, minor)


def test_every_firmware_file_compiles(tmp_path):
    files = sorted((ROOT / "firmware").rglob("*.py"))
    assert len(files) > 5
    bad = []
    for f in files:
        proc = subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(tmp_path / "x.mpy"),
                               str(f)], capture_output=True, text=True)
        if proc.returncode != 0:
            bad.append("%s: %s" % (f.relative_to(ROOT), proc.stderr.strip()))
    assert not bad, "\n".join(bad)
