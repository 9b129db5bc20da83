"""Where the firmware and board definitions live, for tools run from a checkout."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
FIRMWARE_LIB = FIRMWARE / "lib"
BOARDS = ROOT / "boards"
