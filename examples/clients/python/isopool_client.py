#!/usr/bin/python3
"""isopool_client.py: an isopool client in Python, on NNG through ctypes.

Sends one call job (double.js with 21) and one eval job (a module's text)
to an isopool service and prints each value as JSON, one a line:

    /usr/bin/python3 isopool_client.py [URL [TIMEOUT_MS]]

URL defaults to tcp://127.0.0.1:7447, TIMEOUT_MS (each job's deadline) to
10000.

The wire protocol is docs/protocol.md: a msgpack map over an NNG REQ0
socket, one request and one reply per message. The usual binding is pynng
(`pynng.Req0(dial=url, resend_time=-1, recv_timeout=ms)`); this file calls
Debian's libnng (libnng1, a dependency of isopool) through ctypes instead,
so that it needs only Debian packages: python3 and python3-msgpack.

Resend is turned off before anything is sent: a REQ socket sends a request
again when it has had no reply for 60 s (and after a reconnect), and an
isopool job is not idempotent: it would run twice.
"""

import ctypes
import ctypes.util
import json
import sys

import msgpack

_NNG_FLAG_ALLOC = 1
_NNG_DURATION_INFINITE = -1
_MAX_REPLY = 16 << 20  # the service's default --max-message
# How much longer than a job's deadline to wait for its reply: the service
# answers a job past its deadline with the error `timeout`, and that answer
# should be the one the caller sees, not NNG's.
_REPLY_MARGIN_MS = 1000


class _Socket(ctypes.Structure):
    # nng_socket: one uint32, passed by value
    _fields_ = [("id", ctypes.c_uint32)]


def _load_nng():
    name = ctypes.util.find_library("nng") or "libnng.so.1"
    lib = ctypes.CDLL(name)
    lib.nng_req0_open.argtypes = [ctypes.POINTER(_Socket)]
    lib.nng_socket_set_ms.argtypes = [_Socket, ctypes.c_char_p, ctypes.c_int32]
    lib.nng_socket_set_size.argtypes = [_Socket, ctypes.c_char_p, ctypes.c_size_t]
    lib.nng_dial.argtypes = [_Socket, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
    lib.nng_send.argtypes = [_Socket, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    lib.nng_recv.argtypes = [_Socket, ctypes.c_void_p,
                             ctypes.POINTER(ctypes.c_size_t), ctypes.c_int]
    lib.nng_free.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.nng_free.restype = None
    lib.nng_close.argtypes = [_Socket]
    lib.nng_strerror.argtypes = [ctypes.c_int]
    lib.nng_strerror.restype = ctypes.c_char_p
    return lib


_nng = _load_nng()


class NngError(OSError):
    """A call into NNG failed (no connection, no reply in time, ...)."""


class JobRejected(Exception):
    """The job's JavaScript threw: name, message and stack are what it threw."""

    def __init__(self, error):
        self.name = error.get("name", "Error")
        self.stack = error.get("stack", "")
        super().__init__(f"{self.name}: {error.get('message', '')}")


class JobError(Exception):
    """The service did not run the job to its end: code is why (docs/protocol.md)."""

    def __init__(self, error):
        self.code = error.get("code", "")
        super().__init__(f"{self.code}: {error.get('message', '')}")


def _check(rv, what):
    if rv != 0:
        raise NngError(rv, f"{what}: {_nng.nng_strerror(rv).decode()}")


class Client:
    """One REQ socket dialed to URL; one job at a time (use one Client per
    thread, or NNG contexts, for several in flight)."""

    def __init__(self, url="tcp://127.0.0.1:7447", timeout_ms=10000):
        self.timeout_ms = timeout_ms
        self._sock = _Socket()
        _check(_nng.nng_req0_open(ctypes.byref(self._sock)), "nng_req0_open")
        try:
            _check(_nng.nng_socket_set_ms(self._sock, b"req:resend-time",
                                          _NNG_DURATION_INFINITE),
                   "req:resend-time")
            _check(_nng.nng_socket_set_ms(self._sock, b"recv-timeout",
                                          timeout_ms + _REPLY_MARGIN_MS),
                   "recv-timeout")
            _check(_nng.nng_socket_set_size(self._sock, b"recv-size-max", _MAX_REPLY),
                   "recv-size-max")
            # flags 0: a synchronous dial, so a wrong URL fails here
            _check(_nng.nng_dial(self._sock, url.encode(), None, 0), f"dial {url}")
        except Exception:
            _nng.nng_close(self._sock)
            raise
        self._next_id = 1

    def close(self):
        _nng.nng_close(self._sock)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _job(self, request):
        request = dict(request, v=1, id=self._next_id, timeout_ms=self.timeout_ms)
        self._next_id += 1
        body = msgpack.packb(request)
        _check(_nng.nng_send(self._sock, body, len(body), 0), "nng_send")
        buf = ctypes.c_void_p()
        size = ctypes.c_size_t()
        _check(_nng.nng_recv(self._sock, ctypes.byref(buf), ctypes.byref(size),
                             _NNG_FLAG_ALLOC), "nng_recv")
        try:
            reply = msgpack.unpackb(ctypes.string_at(buf, size.value))
        finally:
            _nng.nng_free(buf, size)
        status = reply.get("status")
        if status == "fulfilled":
            return reply.get("value")
        if status == "rejected":
            raise JobRejected(reply.get("error", {}))
        raise JobError(reply.get("error", {}))

    def call(self, module, *args, export="default"):
        """Call EXPORT of MODULE (a file under the service's --modules) with ARGS."""
        return self._job({"kind": "call", "module": module, "export": export,
                          "args": list(args)})

    def eval(self, source, *args):
        """Evaluate SOURCE (a module's text); its default export, called with ARGS."""
        return self._job({"kind": "eval", "source": source, "args": list(args)})


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:7447"
    timeout_ms = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    try:
        with Client(url, timeout_ms) as client:
            print(json.dumps(client.call("double.js", 21), separators=(",", ":")))
            print(json.dumps(client.eval("export default (a, b) => a + b;", 2, 3)))
    except (NngError, JobRejected, JobError) as e:
        print(f"isopool_client: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
