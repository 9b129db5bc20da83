"""Copy the IEC 62056-21 line files of tests/vectors/iec62056_21 to the prepared vector folder
(MicroPython's tests open them there through mptest.vector_lines)."""
import shutil
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "vectors" / "iec62056_21"


def prepare(outdir):
    for f in sorted(SRC.glob("*.txt")):
        shutil.copyfile(f, Path(outdir) / ("iec62056_21_" + f.name))
