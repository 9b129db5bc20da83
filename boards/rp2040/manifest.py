# Frozen MeterSeal firmware for RPI_PICO (MicroPython v1.29). Build from a micropython
# checkout (ports/rp2, after `make -C mpy-cross` and `make submodules` there):
#   make BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/meterseal/boards/rp2040/manifest.py
# Relative paths below are relative to this file. board.json is not frozen: it is the
# per-device configuration and goes to the filesystem (NOTES.md, "Deploy").
metadata(description="MeterSeal: signed smart-meter firmware (Raspberry Pi Pico)", version="0.1.0")

# The port's own frozen modules (_boot.py that mounts littlefs, rp2.py, ...).
include("$(PORT_DIR)/boards/manifest.py")

package("meterseal", base_path="../../firmware/lib")

# pyexec_file_if_exists() looks for a frozen boot.py/main.py before the filesystem, so the
# frozen ones run and a main.py copied onto the board later cannot replace them.
module("boot.py", base_path="../../firmware")
module("main.py", base_path="../../firmware")
