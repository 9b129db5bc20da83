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


# ESP-IDF's ESP_ERR_NVS_NOT_FOUND; MicroPython's check_esp_err raises OSError(-code), which the
# port may show as a negative or as its unsigned 32-bit form: compare modulo 2^32.
_NVS_NOT_FOUND = const(0x1102)
_BLOB_MAX = const(2048)  # above any keystore blob (ks_nvs.py keeps them under 1984 bytes)


class SecureBlobs:
    """Raw NVS blobs of one namespace (board.secure_blobs(namespace)): get(key) -> bytes or
    None, put(key, data), delete(key). Keys are at most 15 characters (ESP-IDF NVS limit).
    Protected at rest only with flash and NVS encryption on (boards/esp32/NOTES.md)."""

    def __init__(self, namespace):
        self._nvs = esp32.NVS(namespace)

    def get(self, key):
        buf = bytearray(_BLOB_MAX)
        try:
            n = self._nvs.get_blob(key, buf)
        except OSError as e:
            if _not_found(e):
                return None
            raise
        return bytes(buf[:n])

    def put(self, key, data):
        self._nvs.set_blob(key, data)
        self._nvs.commit()  # docs: esp32.NVS, changes are lost at the next reset without commit()

    def delete(self, key):
        try:
            self._nvs.erase_key(key)
        except OSError as e:
            if not _not_found(e):
                raise
            return
        self._nvs.commit()


def _not_found(e):
    code = e.args[0] if e.args else 0
    return isinstance(code, int) and (code + _NVS_NOT_FOUND) & 0xFFFFFFFF == 0
