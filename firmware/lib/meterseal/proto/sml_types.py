# SML 1.04 (BSI TR-03109-1 Anlage IV, sections 6-7): the message bodies as small classes, each
# with a FIELDS table (name, code) in the order of the standard's ASN.1 SEQUENCE, read by the one
# table-driven encoder and decoder in sml.py. Codes:
#   o octet string, optional      O octet string (mandatory; 01 decodes to b"")
#   B Unsigned8 (optional)        D Unsigned32            c Integer8 (scaler)
#   S SML_Status (Unsigned8..64; the TL byte is kept in <name>_tl)
#   t SML_Time (optional)         v SML_Value (TL byte kept in <name>_tl)
#   b Boolean (optional)          P SML_TreePath (list of octet strings)
#   l list of SML_ListEntry       p list of SML_PeriodEntry
#   g anything (SML_Tree, object lists): nested lists of int/bytes/bool/None, passed through
# Integer types matter to EDL40 signatures (security/sealed.py), so status and value keep the TL
# byte they arrived with (or are sent with: tl.U32, tl.I64, ...).
from meterseal.compat import const

OPEN_REQ = const(0x0100)
OPEN_RES = const(0x0101)
CLOSE_REQ = const(0x0200)
CLOSE_RES = const(0x0201)
GET_PROFILE_LIST_REQ = const(0x0400)
GET_PROFILE_LIST_RES = const(0x0401)
GET_LIST_REQ = const(0x0700)
GET_LIST_RES = const(0x0701)
ATTENTION_RES = const(0xFF01)

_TIME_SEC_INDEX = const(1)
_TIME_TIMESTAMP = const(2)
_TIME_LOCAL = const(3)


class Time:
    """SML_Time: kind 1 secIndex, 2 timestamp (UTC epoch s), 3 localTimestamp (UTC epoch s with
    localOffset and seasonTimeOffset in minutes)."""

    SEC_INDEX = _TIME_SEC_INDEX
    TIMESTAMP = _TIME_TIMESTAMP
    LOCAL = _TIME_LOCAL

    def __init__(self, kind, value, local_offset=0, season_offset=0):
        self.kind = kind
        self.value = value
        self.local_offset = local_offset
        self.season_offset = season_offset

    def __eq__(self, o):
        return isinstance(o, Time) and (self.kind, self.value, self.local_offset,
                                        self.season_offset) == (o.kind, o.value, o.local_offset,
                                                                o.season_offset)

    def __repr__(self):
        return "Time(%d, %d, %d, %d)" % (self.kind, self.value, self.local_offset,
                                         self.season_offset)


class ListValue:
    """An SML_ListType value other than smlTime: choice number and the raw nested value."""

    def __init__(self, choice, raw):
        self.choice = choice
        self.raw = raw

    def __eq__(self, o):
        return isinstance(o, ListValue) and self.choice == o.choice and self.raw == o.raw


class _Obj:
    FIELDS = ()

    def __init__(self, **kw):
        for name, code in self.FIELDS:
            setattr(self, name, None)
            if code in "Sv":
                setattr(self, name + "_tl", None)
        for k in kw:
            if not hasattr(self, k):
                raise TypeError("unknown field " + k)
            setattr(self, k, kw[k])

    def __eq__(self, o):
        if type(o) is not type(self):
            return False
        for name, code in self.FIELDS:
            a, b = getattr(self, name), getattr(o, name)
            if a != b and not (isinstance(a, (bytes, bytearray)) and bytes(a) == bytes(b)):
                return False
        return True


class ListEntry(_Obj):
    FIELDS = (("obj_name", "O"), ("status", "S"), ("val_time", "t"), ("unit", "B"),
              ("scaler", "c"), ("value", "v"), ("value_signature", "o"))


class PeriodEntry(_Obj):
    FIELDS = (("obj_name", "O"), ("unit", "B"), ("scaler", "c"), ("value", "v"),
              ("value_signature", "o"))


class OpenReq(_Obj):
    TAG = OPEN_REQ
    FIELDS = (("codepage", "o"), ("client_id", "O"), ("req_file_id", "O"), ("server_id", "o"),
              ("username", "o"), ("password", "o"), ("sml_version", "B"))


class OpenRes(_Obj):
    TAG = OPEN_RES
    FIELDS = (("codepage", "o"), ("client_id", "o"), ("req_file_id", "O"), ("server_id", "O"),
              ("ref_time", "t"), ("sml_version", "B"))


class CloseReq(_Obj):
    TAG = CLOSE_REQ
    FIELDS = (("global_signature", "o"),)


class CloseRes(_Obj):
    TAG = CLOSE_RES
    FIELDS = (("global_signature", "o"),)


class GetListReq(_Obj):
    TAG = GET_LIST_REQ
    FIELDS = (("client_id", "O"), ("server_id", "o"), ("username", "o"), ("password", "o"),
              ("list_name", "o"))


class GetListRes(_Obj):
    TAG = GET_LIST_RES
    FIELDS = (("client_id", "o"), ("server_id", "O"), ("list_name", "o"),
              ("act_sensor_time", "t"), ("val_list", "l"), ("list_signature", "o"),
              ("act_gateway_time", "t"))

    def entry(self, obis):
        """The first list entry named obis (6 bytes), or None."""
        for e in self.val_list or ():
            if e.obj_name == obis:
                return e
        return None


class GetProfileListReq(_Obj):
    TAG = GET_PROFILE_LIST_REQ
    FIELDS = (("server_id", "o"), ("username", "o"), ("password", "o"), ("with_rawdata", "b"),
              ("begin_time", "t"), ("end_time", "t"), ("tree_path", "P"), ("object_list", "g"),
              ("das_details", "g"))


class GetProfileListRes(_Obj):
    TAG = GET_PROFILE_LIST_RES
    FIELDS = (("server_id", "O"), ("act_time", "t"), ("reg_period", "D"), ("tree_path", "P"),
              ("val_time", "t"), ("status", "S"), ("period_list", "p"), ("rawdata", "o"),
              ("period_signature", "o"))


class AttentionRes(_Obj):
    TAG = ATTENTION_RES
    FIELDS = (("server_id", "O"), ("attention_no", "O"), ("attention_msg", "o"),
              ("attention_details", "g"))


class Unknown:
    """A message body this module does not model (GetProcParameter, ...), kept as a raw tree."""

    def __init__(self, tag, raw):
        self.TAG = tag
        self.raw = raw


BODIES = (OpenReq, OpenRes, CloseReq, CloseRes, GetListReq, GetListRes, GetProfileListReq,
          GetProfileListRes, AttentionRes)


class Message:
    def __init__(self, body, tx_id=b"\x01", group=0, abort=0):
        self.body = body
        self.tx_id = tx_id
        self.group = group
        self.abort = abort
        self.crc_ok = None

    @property
    def tag(self):
        return self.body.TAG
