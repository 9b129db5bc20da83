# The per-meter wireless M-Bus keys (KEY_M-Bus, K5): one AES-128 key per meter, named
# "<manufacturer><ID>" as the telegram names the meter ("APA88888888"), kept in the board's
# keystore as the secret "wmbus.<name>" (encrypted and authenticated there; never returned by
# any command). `meterseal provision install --key wmbus.APA88888888=HEX` installs one wrapped
# for the board; the plain console command below works only on an unsealed (factory) board.
from meterseal.security import keystore

_PREFIX = "wmbus."


def get_key(board, meter):
    """The 16-byte key of meter "APA88888888", or None when the board has none for it."""
    try:
        return keystore.open(board).get_secret(_PREFIX + meter)
    except (KeyError, keystore.KeystoreError):
        return None


def meter_name(meter):
    """'APA88888888' as telegrams name meters: three letters A-Z and the 8-digit ID (hex digits,
    as some IDs carry them), upper case. ValueError otherwise."""
    if not isinstance(meter, str) or len(meter) != 11:
        raise ValueError("meter must be manufacturer letters and 8 ID digits, e.g. APA88888888")
    m = meter.upper()
    if not all("A" <= ch <= "Z" for ch in m[:3]) or \
            not all(ch in "0123456789ABCDEF" for ch in m[3:]):
        raise ValueError("meter must be manufacturer letters and 8 ID digits, e.g. APA88888888")
    return m


def put_key(board, meter, key):
    """Store (or replace) the key of a meter; atomic in the keystore."""
    meter = meter_name(meter)
    if len(key) != 16:
        raise ValueError("KEY_M-Bus must be 16 bytes (AES-128)")
    keystore.open(board).put_secret(_PREFIX + meter, bytes(key))


def meters(board):
    """The names of the meters the board holds keys for (never the keys)."""
    return sorted(n[len(_PREFIX):] for n in keystore.open(board).names() if n.startswith(_PREFIX))


def key_command(board, only=None):
    """Console "wmbus_key": on a factory bench, install a meter's KEY_M-Bus ({"meter":
    "APA88888888", "key": hex}); on a meter `only` is its own name. Refused once the board is
    sealed: then keys arrive only wrapped, in the manufacturer-signed install command."""

    def cmd(args):
        import binascii

        from meterseal.proto import console as cp
        from meterseal.roles.console import CommandError
        from meterseal.security.lifecycle import Lifecycle

        if Lifecycle(board.storage).sealed:
            raise CommandError(cp.E_REJECTED, "the board is sealed: keys arrive only in a signed "
                               "install command")
        meter = args.get("meter")
        try:
            key = binascii.unhexlify(args.get("key", ""))
            meter = meter_name(meter)
            if only is not None and meter != only:
                raise ValueError("this meter is " + only)
            put_key(board, meter, key)
        except ValueError as e:
            raise CommandError(cp.E_BAD_REQUEST, str(e))
        return {"meter": meter, "meters": meters(board)}

    return cmd
