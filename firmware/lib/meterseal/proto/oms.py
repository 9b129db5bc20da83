# OMS transport and security above the wireless M-Bus link layer (EN 13757-4 ELL, EN 13757-7
# AFL/TPL security, OMS Vol. 2): parse a link frame down to its application data and seal one.
#
#   DLL | [ELL CI 8C: CC ACC | 8D: CC ACC SN(4) {payload CRC (LE) ...AES-CTR}]
#       | [AFL CI 90: AFL.L FC(2) [MCL] [KI(2)] [MCR(4)] [MAC] [ML(2)]]
#       | TPL CI 7A: ACC STS CF(2) | 72: ID(4) M(2) VER TYPE ACC STS CF(2) | 78: none
#       | [CF-ext (mode 7)] | encrypted N x 16 bytes | plain tail
#
# Security mode 5: AES-128-CBC, IV = M A ACC x 8 (TPL address under CI 72), plaintext begins
# 2F 2F (the key check; there is no MAC). Mode 7: Kenc/Kmac = CMAC(K, 00/01 || MCR || ID || 07 x 7)
# (EN 13757-7 9.5, KDF selection 1), AES-128-CBC with a zero IV, and the AFL MAC = CMAC(Kmac,
# MCL || [KI] || MCR || [ML] || TPL CI .. end) truncated. Facts and vectors: protocols-reference
# 2.4-2.10.
#
# What is authenticated: only mode 7 (the AFL MAC). Mode 5 and the ELL's AES-CTR encrypt, and
# their 2F 2F / payload CRC checks tell a wrong key, but neither stops an attacker who alters
# ciphertext (CBC garbles a block, CTR flips chosen bits and the CRC can be patched): open_apl
# says which in t.authenticated. A message counter counts only under a MAC: an AFL outside mode
# 7 is refused, so nothing unauthenticated can move the receiver's counters.
#
# parse() needs no key (the receiver looks the key up by the meter it names); open_apl() checks
# and decrypts. Format errors raise wmbus.FrameError(reason); a wrong key or MAC raises
# InvalidTag("key" / "mac"), after the MAC check and before any plaintext is used.
from meterseal.compat import const
from meterseal.crypto import aes, cmac
from meterseal.crypto.errors import InvalidTag
from meterseal.proto import wmbus
from meterseal.proto.crc import crc16_en13757
from meterseal.proto.wmbus import FrameError

CI_TPL_LONG = const(0x72)
CI_TPL_SHORT = const(0x7A)
CI_TPL_NONE = const(0x78)
CI_ELL_I = const(0x8C)
CI_ELL_II = const(0x8D)
CI_AFL = const(0x90)

MODE_NONE = const(0)
MODE_CBC_IV = const(5)
MODE_CBC_KDF = const(7)

_FC_MCL = const(0x2000)  # AFL FC bits (EN 13757-7 6.3.2)
_FC_ML = const(0x1000)
_FC_MCR = const(0x0800)
_FC_MAC = const(0x0400)
_FC_KI = const(0x0200)
_FC_MORE = const(0x4000)
_FC_FID = const(0x00FF)
_MCL_AT = const(0x0F)  # authentication type; its MAC length comes from _MAC_LEN
_MAC_LEN = {3: 2, 4: 4, 5: 8, 6: 12, 7: 16}
_AT_CMAC8 = const(5)  # OMS mode 7: CMAC-AES-128 truncated to 8 bytes
_ELL_SEC_CTR = const(1)  # ELL SN bits 31-29: 1 = AES-128-CTR
_ELL_CC_MASK = const(0xED)  # the IV takes CC without H (0x10) and R (0x02)
_KDF_CMAC = const(1)  # CF-ext bits 5-4
_FILL = const(0x2F)
_KDF_ENC = const(0x00)  # derivation constants, meter to collector
_KDF_MAC = const(0x01)


class Telegram:
    """What a link frame says about itself before any key is used; offsets index `buf`, the
    frame (or, behind an encrypting ELL, the decrypted rest: see open_apl)."""

    def __init__(self):
        self.c = self.manufacturer = self.version = self.device_type = 0
        self.ident = ""
        self.ell_cc = self.ell_acc = self.ell_sn = None
        self.counter = self.mac = None
        self._mac_in = None  # MCL || MCR || [ML]: what the MAC covers before the TPL
        self.ci = None  # the TPL's CI (72, 7A or 78)
        self.acc = self.status = self.cf = self.cf_ext = 0
        self.mode = MODE_NONE
        self.blocks = 0
        self.tpl = 0  # offset of the TPL CI
        self.data = 0  # offset of the (encrypted) application data
        self.addr = b""  # M(2) A(6) of the meter the TPL speaks for: IV and key derivation
        self.ell_rest = 0  # offset of the CTR-encrypted part when the ELL encrypts
        self.authenticated = False  # set by open_apl: a mode 7 MAC checked out
        self.plain_tail = 0  # mode 5: bytes after the encrypted blocks (dropped, unprotected)

    def meter(self):
        """'APA88888888': manufacturer letters and ID of the meter (the TPL's under CI 72)."""
        a = self.addr
        return wmbus.meter_key_name(a[0] | a[1] << 8, wmbus.id_str(a, 2))


def _need(buf, pos, n, end):
    if pos + n > end:
        raise FrameError("short")


def parse(buf, start=0, end=None):
    """Parse the link frame buf[start:end] (no CRCs) into a Telegram; no key needed."""
    if end is None:
        end = len(buf)
    t = Telegram()
    t.c, t.manufacturer, t.ident, t.version, t.device_type = wmbus.decode_header(buf, start, end)
    t.addr = bytes(buf[start + 2:start + wmbus.HEADER_LEN])
    pos = start + wmbus.HEADER_LEN
    ci = buf[pos]
    if ci == CI_ELL_I or ci == CI_ELL_II:
        _need(buf, pos, 3, end)
        t.ell_cc = buf[pos + 1]
        t.ell_acc = buf[pos + 2]
        if ci == CI_ELL_I:
            pos += 3
        else:
            _need(buf, pos, 9 + 1, end)  # SN, payload CRC and at least a CI
            t.ell_sn = buf[pos + 3] | buf[pos + 4] << 8 | buf[pos + 5] << 16 | buf[pos + 6] << 24
            sec = t.ell_sn >> 29
            if sec == _ELL_SEC_CTR:
                t.ell_rest = pos + 7  # payload CRC and everything after it are encrypted
                return t
            if sec != 0:
                raise FrameError("ell security")
            pos += 9  # unencrypted: skip the payload CRC (checked by the link CRCs)
    _upper(t, buf, pos, end)
    return t


def _upper(t, buf, pos, end):
    # AFL and TPL, in the frame or in the decrypted ELL payload.
    _need(buf, pos, 1, end)
    if buf[pos] == CI_AFL:
        pos = _afl(t, buf, pos, end)
        _need(buf, pos, 1, end)
    ci = buf[pos]
    t.ci = ci
    t.tpl = pos
    if ci == CI_TPL_NONE:
        t.data = pos + 1
        if t.ell_acc is not None:
            t.acc = t.ell_acc  # no TPL: the ELL's access number is the telegram's
        if t._mac_in is not None or t.counter is not None:
            raise FrameError("afl")  # AFL authentication without a TPL mode 7 to bind it to
        return
    if ci == CI_TPL_LONG:
        _need(buf, pos, 13, end)
        # The long header names the meter (converters, repeaters): its ID, M, VER, TYPE order.
        a = buf[pos + 1:pos + 9]
        t.addr = bytes((a[4], a[5], a[0], a[1], a[2], a[3], a[6], a[7]))
        pos += 8
    elif ci == CI_TPL_SHORT:
        _need(buf, pos, 5, end)
    else:
        raise FrameError("ci")
    t.acc = buf[pos + 1]
    t.status = buf[pos + 2]
    t.cf = buf[pos + 3] | buf[pos + 4] << 8
    pos += 5
    t.mode = (t.cf >> 8) & 0x1F
    t.blocks = (t.cf >> 4) & 0x0F
    if t.mode == MODE_CBC_KDF:
        _need(buf, pos, 1, end)
        t.cf_ext = buf[pos]
        pos += 1
    elif t.mode != MODE_NONE and t.mode != MODE_CBC_IV:
        raise FrameError("security mode")
    if t._mac_in is not None or t.counter is not None:
        if t.mode != MODE_CBC_KDF:
            raise FrameError("afl")  # AFL authentication belongs to mode 7 (OMS Vol. 2)
    if t.mode != MODE_NONE and pos + 16 * t.blocks > end:
        raise FrameError("short")
    t.data = pos


def _afl(t, buf, pos, end):
    _need(buf, pos, 4, end)
    n = buf[pos + 1]
    stop = pos + 2 + n
    if stop > end:
        raise FrameError("short")
    fc = buf[pos + 2] | buf[pos + 3] << 8
    if fc & _FC_MORE or fc & _FC_FID:
        raise FrameError("fragment")  # fragmented messages are not reassembled
    p = pos + 4
    mcl_at = p
    if fc & _FC_MCL:
        p += 1
    if fc & _FC_KI:
        p += 2
    if fc & _FC_MCR:
        _need(buf, p, 4, stop)
        t.counter = buf[p] | buf[p + 1] << 8 | buf[p + 2] << 16 | buf[p + 3] << 24
        p += 4
    mac_at = p
    if fc & _FC_MAC:
        if not fc & _FC_MCL:
            raise FrameError("afl")
        mlen = _MAC_LEN.get(buf[mcl_at] & _MCL_AT)
        if mlen is None:
            raise FrameError("afl auth type")
        _need(buf, p, mlen, stop)
        t.mac = bytes(buf[p:p + mlen])
        p += mlen
    ml = b""
    if fc & _FC_ML:  # after the MAC on the air, before the TPL in what the MAC covers
        _need(buf, p, 2, stop)
        ml = bytes(buf[p:p + 2])
        p += 2
    if t.mac is not None:
        # EN 13757-7 / OMS: the MAC covers MCL, KI, MCR and ML as sent, then the TPL onwards.
        t._mac_in = bytes(buf[mcl_at:mac_at]) + ml
    if p != stop:
        raise FrameError("afl length")
    return stop


def _kdf(key, dc, t):
    # EN 13757-7 9.5.3 (KDF selection 1): CMAC(K, DC || MCR (LE) || ID (as sent) || 07 x 7).
    c = t.counter
    m = bytes((dc, c & 0xFF, (c >> 8) & 0xFF, (c >> 16) & 0xFF, c >> 24)) + t.addr[2:6] \
        + b"\x07\x07\x07\x07\x07\x07\x07"
    return cmac.cmac(key, m)


def _iv5(t):
    # Mode 5 IV: M(2) A(6) ACC x 8 (EN 13757-7 9.4.3).
    return t.addr + bytes((t.acc,)) * 8


def _ell_ctr(t, buf, key):
    # ELL AES-128-CTR (EN 13757-4 13.2.12): IV = M A CC(without H, R) SN FN=0000 BC=00.
    sn = t.ell_sn
    iv = t.addr + bytes((t.ell_cc & _ELL_CC_MASK, sn & 0xFF, (sn >> 8) & 0xFF, (sn >> 16) & 0xFF,
                         sn >> 24, 0, 0, 0))
    plain = aes.ctr_crypt(key, iv, memoryview(buf)[t.ell_rest:])
    crc = crc16_en13757(plain, 2)
    if plain[0] != crc & 0xFF or plain[1] != crc >> 8:  # the payload CRC is little-endian
        raise InvalidTag("key")
    return plain


def open_apl(t, buf, key, end=None):
    """The application data of telegram t (parsed from buf) with key K (16 bytes, or None for
    an unencrypted telegram): decrypted blocks, then the plain tail. Mode 5/7 plaintext keeps
    its leading 2F 2F (record decoders skip 2F fill). Raises InvalidTag("mac") before
    decrypting when a mode 7 MAC fails, InvalidTag("key") when the 2F 2F check or the ELL
    payload CRC fails, FrameError for a frame that lacks what its mode needs."""
    if end is None:
        end = len(buf)
    if t.ell_rest:
        if key is None:
            raise FrameError("encrypted")
        buf = _ell_ctr(t, buf, key)
        end = len(buf)
        _upper(t, buf, 2, end)
    if t.mode == MODE_NONE:
        return bytes(buf[t.data:end])
    if key is None:
        raise FrameError("encrypted")
    n = 16 * t.blocks
    if t.mode == MODE_CBC_IV:
        k = key
        iv = _iv5(t)
        t.plain_tail = end - t.data - n
        end = t.data + n  # unencrypted records behind mode 5 blocks carry no protection at all
    else:
        if t.counter is None or t.mac is None:
            raise FrameError("afl")
        if (t.cf_ext >> 4) & 3 != _KDF_CMAC:
            raise FrameError("kdf")
        kmac = _kdf(key, _KDF_MAC, t)
        cmac.verify_cmac(kmac, t._mac_in + bytes(memoryview(buf)[t.tpl:end]), t.mac)
        t.authenticated = True
        k = _kdf(key, _KDF_ENC, t)
        iv = bytes(16)
    plain = aes.cbc_decrypt(k, iv, memoryview(buf)[t.data:t.data + n]) if n else b""
    if n < 2 or plain[0] != _FILL or plain[1] != _FILL:
        raise InvalidTag("key")
    return plain + bytes(memoryview(buf)[t.data + n:end])


def _pad(apl):
    # 2F 2F first (the key check), 2F fill up to whole blocks (EN 13757-7 9.4.2).
    body = b"\x2f\x2f" + apl
    return body + b"\x2f" * (-len(body) % 16)


def seal_mode5(key, c, manufacturer, ident, version, device_type, acc, status, apl):
    """A link frame SND_NR-style with a short TPL in security mode 5 carrying records `apl`."""
    body = _pad(apl)
    nb = len(body) // 16
    if nb > 15:
        raise ValueError("application data too long")
    cf = MODE_CBC_IV << 8 | nb << 4
    m = wmbus.encode(c, manufacturer, ident, version, device_type, b"")
    iv = m[2:10] + bytes((acc,)) * 8
    tpl = bytes((CI_TPL_SHORT, acc, status, cf & 0xFF, cf >> 8))
    return wmbus.encode(c, manufacturer, ident, version, device_type,
                        tpl + aes.cbc_encrypt(key, iv, body))


def seal_mode7(key, c, manufacturer, ident, version, device_type, acc, status, counter, apl):
    """A link frame with AFL (MCL, counter, 8-byte CMAC) and a short TPL in security mode 7."""
    body = _pad(apl)
    nb = len(body) // 16
    if nb > 15:
        raise ValueError("application data too long")
    if not 0 <= counter <= 0xFFFFFFFF:
        raise ValueError("message counter out of range")
    cf = MODE_CBC_KDF << 8 | nb << 4
    t = Telegram()
    t.counter = counter
    t.addr = wmbus.encode(c, manufacturer, ident, version, device_type, b"")[2:10]
    enc = aes.cbc_encrypt(_kdf(key, _KDF_ENC, t), bytes(16), body)
    tpl = bytes((CI_TPL_SHORT, acc, status, cf & 0xFF, cf >> 8, _KDF_CMAC << 4)) + enc
    mcl = _AT_CMAC8 | 0x20  # 0x20: a message counter follows
    mac_in = bytes((mcl, counter & 0xFF, (counter >> 8) & 0xFF, (counter >> 16) & 0xFF,
                    counter >> 24))
    mac = cmac.cmac(_kdf(key, _KDF_MAC, t), mac_in + tpl)[:8]
    fc = _FC_MCL | _FC_MCR | _FC_MAC
    afl = bytes((CI_AFL, 2 + len(mac_in) + 8, fc & 0xFF, fc >> 8)) + mac_in + mac
    return wmbus.encode(c, manufacturer, ident, version, device_type, afl + tpl)

