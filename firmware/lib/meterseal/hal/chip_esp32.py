# ESP32 specifics of the machine HAL. tools/typecheck_boards.py checks a file named
# chip_<board>.py against that board's stubs only; machine_board.py imports it behind
# `sys.platform == "esp32"` (MicroPython's sys.platform on the esp32 port).
#
# The board secret lives in the ESP-IDF NVS partition, namespace "meterseal", key "secret".
# NVS is plain flash until the chip is sealed: with flash encryption and NVS encryption
# enabled (eFuse keys, boards/esp32/NOTES.md) it can no longer be read off the chip, and it is
# not in the littlefs filesystem that mpremote or a file command could copy.
import os

import esp32
from meterseal.compat import const

_NAMESPACE = "meterseal"
_KEY = "secret"
_SECRET_LEN = const(32)
_PROBE_LEN = const(64)  # longer than any blob we write, so a wrong-length one is still seen


def _true_random(n):
    """n bytes from the hardware RNG while the radio runs.

    ESP-IDF (API reference, "Random Number Generation") guarantees true random numbers from
    esp_random(), which os.urandom uses, only while Wi-Fi or Bluetooth is on, or during the
    second-stage bootloader; otherwise the output "should be considered pseudo-random only".
    A meter runs with the radio off, so the station interface is switched on for the moment
    of the draw and back off. This happens once, on first boot; it takes some tens of ms.
    """
    wlan = None
    was_active = True
    try:
        import network

        wlan = network.WLAN(network.STA_IF)
        was_active = wlan.active()
        if not was_active:
            wlan.active(True)
    except (ImportError, OSError):
        wlan = None  # a firmware without Wi-Fi: the IDF's RNG state is all there is
    try:
        return os.urandom(n)
    finally:
        if wlan is not None and not was_active:
            wlan.active(False)


def load_or_make_secret(storage):
    """The 32-byte board secret, made on first boot. `storage` is unused on the ESP32."""
    nvs = esp32.NVS(_NAMESPACE)
    buf = bytearray(_PROBE_LEN)
    try:
        n = nvs.get_blob(_KEY, buf)
    except OSError:
        # ESP_ERR_NVS_NOT_FOUND: first boot. (A blob longer than _PROBE_LEN would land here
        # too; nothing writes one.)
        n = -1
    if n == _SECRET_LEN:
        return bytes(buf[:_SECRET_LEN])
    if n != -1:
        # Never replace a secret silently: every key derived from it would change.
        raise ValueError("NVS meterseal/secret has %d bytes, expected 32" % n)
    secret = _true_random(_SECRET_LEN)
    nvs.set_blob(_KEY, secret)
    nvs.commit()  # docs: esp32.NVS, changes are lost at the next reset without commit()
    return secret
