"""The console of a simulated board over pyserial: identity, errors, garbage (P2, P3)."""
import os
import random
import socket
import subprocess
import sys
import time

import cbor2
import pytest
import serial

from host_tools.console import BoardConsole
from host_tools.errors import BoardError, NoAnswer, PortError
from meterseal.proto import console as cp


def test_info_under_micropython_reports_board_heap(mp_board):
    with BoardConsole(mp_board.url()) as con:
        ident = con.request("info")
    assert ident["interpreter"].startswith("micropython 1.")
    assert ident["board"] == "esp32" and ident["role"] == "meter"
    # -X heapsize=131072: the total the GC manages is the board's heap less its own tables.
    assert 120 * 1024 < ident["heap_total"] <= 131072
    assert 0 < ident["heap_free"] < ident["heap_total"]
    assert ident["storage_total"] == 2 * 1024 * 1024  # the DevKitC's littlefs partition
    assert len(ident["unique_id"]) == 8


def test_info_under_cpython(make_board):
    b = make_board("cpy", interpreter="cpython", board="rp2040")
    with BoardConsole(b.url()) as con:
        ident = con.request("info")
    assert ident["interpreter"].startswith("cpython 3.")
    assert ident["board"] == "rp2040" and ident["heap_total"] is None


def test_cli_info_prints_identity(mp_board):
    out = subprocess.run([sys.executable, "-m", "host_tools.cli", "info", "--port", mp_board.url()],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "micropython 1." in out.stdout and "esp32" in out.stdout


def test_unknown_command_and_bad_request_get_error_replies(mp_board):
    with BoardConsole(mp_board.url()) as con:
        with pytest.raises(BoardError) as e:
            con.request("no-such-command")
        assert e.value.code == cp.E_UNKNOWN_COMMAND
        # a request that is CBOR but not [command, {args}]
        con._ser.write(cp.encode_frame(cp.T_REQUEST, 77, cbor2.dumps({"x": 1})))
        ftype, body = con._wait(77)
        assert ftype == cp.T_ERROR and cbor2.loads(body)[0] == cp.E_BAD_REQUEST
        # non-canonical CBOR (indefinite-length array) is refused, not guessed at
        con._ser.write(cp.encode_frame(cp.T_REQUEST, 78, b"\x9f\x64info\xa0\xff"))
        ftype, body = con._wait(78)
        assert ftype == cp.T_ERROR and cbor2.loads(body)[0] == cp.E_BAD_REQUEST
        assert con.request("info")["board"] == "esp32"


def test_garbage_and_truncated_frames_leave_board_answering(mp_board):
    rng = random.Random(1234)
    good = cp.encode_frame(cp.T_REQUEST, 1, cbor2.dumps(["info", {}]))
    ser = serial.serial_for_url(mp_board.url(), timeout=0.1)
    try:
        for i in range(1000):
            ser.write(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
            if i % 10 == 0:
                ser.read(4096)  # keep the board's replies from filling the socket
        for _ in range(100):
            ser.write(good[: rng.randrange(1, len(good))])
        ser.read(65536)
    finally:
        ser.close()
    with BoardConsole(mp_board.url(), timeout=3) as con:
        assert con.request("info")["interpreter"].startswith("micropython")


def test_a_garbled_retry_does_not_replace_the_cached_answer(mp_board):
    # The host resends a request whose answer it lost; one resend arrives garbled (payload
    # CRC), the next clean: it must get the first run's answer, not the garbled frame's error.
    good = cp.encode_frame(cp.T_REQUEST, 77, cbor2.dumps(["info", {}]))
    bad = bytearray(good)
    bad[-4] ^= 0x01  # a payload byte: the header (and request id) stay readable
    reader = cp.FrameReader()

    def answer(ser):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            reader.feed(ser.read(512))
            f = reader.next_frame()
            if f is not None:
                return f
        raise AssertionError("no answer")

    ser = serial.serial_for_url(mp_board.url(), timeout=0.1)
    try:
        ser.write(good)
        first = answer(ser)
        ser.write(bytes(bad))
        assert answer(ser)[0] == cp.T_ERROR
        ser.write(good)
        again = answer(ser)
    finally:
        ser.close()
    assert first[0] == cp.T_RESPONSE and again == first


def test_slow_partial_frame_is_dropped_then_board_answers(mp_board):
    good = cp.encode_frame(cp.T_REQUEST, 9, cbor2.dumps(["info", {}]))
    with BoardConsole(mp_board.url()) as con:
        con._ser.write(good[:5])  # a sender that stops in the middle of a header
        time.sleep(1.5)  # longer than the board's 1 s inter-byte limit
        assert con.request("info")["board"] == "esp32"


def test_no_answer_is_a_clear_error():
    with socket.socket() as s:  # a port that accepts but never answers
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        url = "socket://127.0.0.1:%d" % s.getsockname()[1]
        with BoardConsole(url, timeout=0.3, retries=1) as con:
            with pytest.raises(NoAnswer, match="no answer from socket://"):
                con.request("info")


def test_unreachable_port_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PortError, match="cannot open"):
        BoardConsole("socket://127.0.0.1:%d" % port)


def test_cli_exit_code_and_message_when_nothing_listens():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = subprocess.run([sys.executable, "-m", "host_tools.cli", "info", "--port",
                          "socket://127.0.0.1:%d" % port], capture_output=True, text=True,
                         env=dict(os.environ, METERSEAL_PORT=""), timeout=60)
    assert out.returncode == 2
    assert out.stderr.startswith("meterseal: info: cannot open socket://127.0.0.1:%d" % port)


def _busy_peer(busy_answers):
    """A console peer on a socket that answers 'busy' `busy_answers` times, then {"ok": n}."""
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    seen = []

    def serve():
        conn, _ = srv.accept()
        reader = cp.FrameReader()
        with conn:
            while True:
                data = conn.recv(512)
                if not data:
                    return
                reader.feed(data)
                frame = reader.next_frame()
                while frame is not None:
                    _, req_id, _payload = frame
                    seen.append(req_id)
                    if len(seen) <= busy_answers:
                        out = cp.encode_frame(cp.T_ERROR, req_id, cbor2.dumps(
                            [cp.E_BUSY, "out of memory; try again"]))
                    else:
                        out = cp.encode_frame(cp.T_RESPONSE, req_id, cbor2.dumps({"ok": len(seen)}))
                    conn.sendall(out)
                    frame = reader.next_frame()

    threading.Thread(target=serve, daemon=True).start()
    return srv, seen


def test_busy_board_is_asked_again_with_the_same_request():
    srv, seen = _busy_peer(3)
    with srv, BoardConsole("socket://127.0.0.1:%d" % srv.getsockname()[1], timeout=2) as con:
        assert con.request("info") == {"ok": 4}
    assert len(set(seen)) == 1  # the same request id each time: the board may answer from cache


def test_board_busy_for_good_is_a_clear_error():
    srv, seen = _busy_peer(100)
    with srv, BoardConsole("socket://127.0.0.1:%d" % srv.getsockname()[1], timeout=2) as con:
        with pytest.raises(BoardError, match="busy"):
            con.request("info")
    assert len(seen) == 5  # the request and four retries, not forever
