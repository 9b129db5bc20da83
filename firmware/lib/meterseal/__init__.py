# MeterSeal firmware package. MicroPython first; CPython imports it too (simulator, host tests).
VERSION = "0.1.0"
