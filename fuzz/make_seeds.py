#!/usr/bin/env python3
"""make_seeds.py: writes the seed corpora in fuzz/corpus/<target>/.

Each seed is a small valid message or an edge case a decoder must refuse
cleanly; libFuzzer mutates from them. Run it again after editing (the files
are committed; names are stable so a diff shows what changed):

    python3 fuzz/make_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


class Raw(bytes):
    """Bytes written as they are (a hand-made msgpack value)."""


class F32(float):
    """A float written as msgpack float32."""


class Ext:
    def __init__(self, typ, data):
        self.typ, self.data = typ, data


def mp(v):
    """A minimal msgpack encoder (smallest forms, like msgpack-c's)."""
    if isinstance(v, Raw):
        return bytes(v)
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v <= 0x7F:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack("b", v)
        if 0 <= v <= 0xFF:
            return b"\xcc" + struct.pack(">B", v)
        if 0 <= v <= 0xFFFF:
            return b"\xcd" + struct.pack(">H", v)
        if 0 <= v <= 0xFFFFFFFF:
            return b"\xce" + struct.pack(">I", v)
        if 0 <= v:
            return b"\xcf" + struct.pack(">Q", v)
        if v >= -128:
            return b"\xd0" + struct.pack(">b", v)
        if v >= -32768:
            return b"\xd1" + struct.pack(">h", v)
        if v >= -(2**31):
            return b"\xd2" + struct.pack(">i", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, F32):
        return b"\xca" + struct.pack(">f", v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        return mp_str(v.encode("utf-8", "surrogatepass"))
    if isinstance(v, bytes):
        n = len(v)
        if n <= 0xFF:
            return b"\xc4" + bytes([n]) + v
        return b"\xc5" + struct.pack(">H", n) + v
    if isinstance(v, Ext):
        n = len(v.data)
        fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
        t = struct.pack("b", v.typ)
        if n in fixed:
            return bytes([fixed[n]]) + t + v.data
        return b"\xc7" + bytes([n]) + t + v.data
    if isinstance(v, (list, tuple)):
        return hdr(len(v), 0x90, 0xDC) + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        return hdr(len(v), 0x80, 0xDE) + b"".join(
            mp(k) + mp(x) for k, x in v.items())
    raise TypeError(type(v))


def mp_str(b):
    n = len(b)
    if n <= 31:
        return bytes([0xA0 | n]) + b
    if n <= 0xFF:
        return b"\xd9" + bytes([n]) + b
    return b"\xda" + struct.pack(">H", n) + b


def hdr(n, fix, big):
    if n <= 15:
        return bytes([fix | n])
    return bytes([big]) + struct.pack(">H", n)


def pairs(*kv):
    """A map with pairs in order (duplicates and non-string keys allowed)."""
    return Raw(hdr(len(kv), 0x80, 0xDE) + b"".join(mp(k) + mp(v) for k, v in kv))


def nest(depth, inner=None):
    v = inner
    for _ in range(depth):
        v = [v]
    return v


def key_bomb(levels):
    """levels maps, each the key of the next: the JSON doubling (item 17)."""
    b = mp_str(b'"' * 20)
    return Raw(b"\x81" * levels + b + b"\xc0" * levels)


def link(chan, *records, head=True):
    """A fuzz_link_decode input: the mode byte (channel 1..6, and 8 when
    the harness is to put the link header in front), then the records."""
    return Raw(bytes([(chan - 1) | (8 if head else 0)]) +
               b"".join(mp(r) for r in records))


# the link's channels (ipc/iso_link.h, iso_link_chan)
FRONT_JOBS, WORKER_JOBS, WORKER_OPS, FRONT_OPS = 1, 2, 3, 4
FRONT_CTL, GROUP_CTL = 5, 6
def open_map(d):
    """A reply as a worker sends it on the link: the map open for its last
    entry, the stats the front adds (a fixmap counting one more)."""
    b = bytearray(mp(d))
    assert 0x80 <= b[0] < 0x8f
    b[0] += 1
    return bytes(b)


WORKER_REPLY = open_map({"status": "fulfilled", "value": [1, "x"]})


CALL = {"v": 1, "id": 7, "kind": "call", "module": "lib/math.js",
        "export": "add", "args": [2, 3], "timeout_ms": 1000}
CALL_CPU = dict(CALL, cpu_ms=50)

SEEDS = {
    "proto_decode": {
        "eval_source": {"v": 1, "kind": "eval", "source": "export default 1"},
        "eval_module_args": {"v": 1, "id": "job-1", "kind": "eval",
                             "module": "jobs/a.js", "args": [1, "a", None]},
        "call_full": dict(CALL, permissions={"read": ["data"], "write": False,
                                             "env": True}),
        "batch": {"v": 1, "batch": [
            {"kind": "eval", "source": "1"},
            {"id": [1, 2], "kind": "jump"},
            dict(CALL, v=1)]},
        "id_any": {"v": 1, "id": pairs((1, 2), ("k", [b"\x00", 1.5])),
                   "kind": "eval", "source": "1"},
        "args_deep_ok": {"v": 1, "kind": "call", "module": "m",
                         "args": nest(62)},
        "args_too_deep": {"v": 1, "kind": "call", "module": "m",
                          "args": nest(63)},
        "missing_v": {"kind": "eval", "source": "1"},
        "duplicate_field": pairs(("v", 1), ("kind", "eval"),
                                 ("kind", "call"), ("module", "m")),
        "module_not_utf8": {"v": 1, "kind": "call",
                            "module": Raw(mp_str(b"a\xed\xa0\x80"))},
        "id_not_utf8": {"v": 1, "id": Raw(mp_str(b"\xff")), "kind": "eval",
                        "source": "1"},
        "permissions_bad": dict(CALL, permissions={"sys": True}),
        "cpu_ms": CALL_CPU,
        "cpu_ms_negative": dict(CALL, cpu_ms=-1),
        "truncated": Raw(mp({"v": 1, "kind": "eval", "source": "abc"})[:-2]),
        "absurd_count": Raw(b"\x83\xa1v\x01\xa4args\xdd\xff\xff\xff\xff"),
        "byte_c1": Raw(b"\x81\xa1v\xc1"),
        "trailing": Raw(mp({"v": 1, "kind": "eval", "source": "1"}) + b"\xc0"),
        "ping": {"v": 1, "id": 9, "kind": "ping"},
        "ping_extra": {"v": 1, "kind": "ping", "timeout_ms": 5},
        "ping_in_batch": {"v": 1, "batch": [
            {"kind": "ping", "id": 1}, {"kind": "eval", "source": "1"}]},
    },
    # the first byte picks the batch size (1 + b % 4) the harness also tries
    "reply_decode": {
        "fulfilled": Raw(b"\x00" + mp({
            "v": 1, "id": 7, "status": "fulfilled", "value": [1, 2],
            "logs": [["log", "hi"], ["warn", "w"]],
            "stats": {"worker": 2, "queue_us": 10, "run_us": 20,
                      "cpu_us": 15, "wall_us": 45, "heap_bytes": 928,
                      "ops": 3}})),
        "cpu_limit": Raw(b"\x00" + mp({
            "v": 1, "id": 8, "status": "error",
            "error": {"code": "cpu_limit",
                      "message": "CPU time limit exceeded: 50 ms"},
            "logs": [],
            "stats": {"worker": 0, "queue_us": 94, "run_us": 102030,
                      "cpu_us": 50433, "wall_us": 102125, "heap_bytes": 928,
                      "ops": 0, "limit": "cpu"}})),
        "limit_unknown": Raw(b"\x00" + mp({
            "v": 1, "status": "error",
            "error": {"code": "memory_limit", "message": "heap"},
            "stats": {"worker": 0, "limit": "gpu"}})),
        "rejected": Raw(b"\x00" + mp({
            "v": 1, "id": "x", "status": "rejected",
            "error": {"name": "TypeError", "message": "x is not a function",
                      "stack": "TypeError: x\n    at f"},
            "logs": [], "stats": {"worker": 0, "queue_us": 1, "run_us": 2}})),
        "error": Raw(b"\x00" + mp({
            "v": 1, "id": None, "status": "error",
            "error": {"code": "bad_request", "message": "missing 'kind'"},
            "logs": [], "stats": {"worker": -1, "queue_us": 0, "run_us": 0}})),
        "unknown_code_and_fields": Raw(b"\x00" + mp({
            "status": "error", "v": 1, "extra": {"a": [1]},
            "error": {"code": "overheated", "message": "m", "more": 1}})),
        "minimal": Raw(b"\x00" + mp({"v": 1, "status": "fulfilled"})),
        "not_utf8": Raw(b"\x00" + mp({
            "v": 1, "status": "rejected",
            "error": {"name": Raw(mp_str(b"E\xff")),
                      "message": Raw(mp_str(b"\xed\xa0\x80")), "stack": ""},
            "logs": [["error", Raw(mp_str(b"\xc0\xaf"))]]})),
        "batch_2": Raw(b"\x01" + mp({"v": 1, "batch": [
            {"v": 1, "id": 1, "status": "fulfilled", "value": "a"},
            {"v": 1, "id": 2, "status": "error",
             "error": {"code": "busy", "message": "later"}}]})),
        "batch_refused": Raw(b"\x02" + mp({
            "v": 1, "status": "error",
            "error": {"code": "too_large", "message": "over 16 MiB"}})),
        "truncated": Raw(b"\x00" + mp({"v": 1, "status": "fulfilled",
                                        "value": "abc"})[:-1]),
    },
    "admin_decode": {
        "status": {"v": 1, "cmd": "status"},
        "status_token": {"v": 1, "cmd": "status", "token": "s3cret"},
        "cancel": {"v": 1, "cmd": "cancel", "job": 12},
        "resize_float": {"v": 1, "cmd": "resize", "workers": 4.0},
        "recycle_all": {"v": 1, "cmd": "recycle", "all": True},
        "recycle_worker": {"v": 1, "cmd": "recycle", "worker": 1},
        "reload_module": {"v": 1, "cmd": "reload", "module": "lib/x.js"},
        "shutdown_grace": {"v": 1, "cmd": "shutdown", "grace_ms": 500},
        "unknown_key": {"v": 1, "cmd": "drain", "later": [1, {"a": 2}]},
        "workers_nan": {"v": 1, "cmd": "resize", "workers": float("nan")},
        "job_huge": {"v": 1, "cmd": "cancel", "job": 1e300},
        "cmd_twice": pairs(("v", 1), ("cmd", "status"), ("cmd", "drain")),
        "missing_v": {"cmd": "status"},
        "token_not_utf8": {"v": 1, "cmd": "status",
                           "token": Raw(mp_str(b"\xc3\x28"))},
    },
    # the first byte picks the command: its ISO_ADMIN_* value - 1
    "admin_reply": {
        "status": Raw(b"\x00" + mp({
            "ok": True, "version": "0.1.0", "uptime_ms": 7384000,
            "listen": ["tcp://127.0.0.1:7447"], "admin": "ipc:///a.sock",
            "metrics": None, "state": "running",
            "workers": {"configured": 2, "alive": 2}, "queue": 3,
            "inflight": 5,
            "totals": {"accepted": 9, "fulfilled": 5, "rejected": 1,
                       "errors": {"timeout": 3}},
            "rate": {"1s": 12.5, "10s": 10, "60s": 9.8}})),
        "workers": Raw(b"\x01" + mp({"ok": True, "workers": [
            {"id": 0, "state": "running", "inflight": 1, "done": 1234,
             "heap_used": 12939264, "heap_limit": 268435456,
             "warm_modules": 3, "last_error": None}, 7]})),
        "jobs": Raw(b"\x02" + mp({"ok": True, "jobs": [
            {"id": 12, "client_id": [7, "x"], "kind": "call",
             "module": "a.js", "worker": 0, "age_ms": 4500},
            {"id": 13, "client_id": None, "kind": "eval", "module": None,
             "worker": -1, "age_ms": 120}], "truncated": True})),
        "cancel": Raw(b"\x03" + mp({"ok": True, "job": 12})),
        "stats": Raw(b"\x04" + mp({"ok": True, "kinds": {"all": {
            "queue": {}, "run": {"count": 1},
            "total": {"count": 4, "sum": 400, "p50": 90.5, "p90": 120,
                      "p99": 130, "p999": 130, "max": 130,
                      "buckets": [[100, 2], [1.25, 1], [1e6, 1],
                                  [None, 0]]}}}})),
        "resize": Raw(b"\x05" + mp({"ok": True,
                                     "workers": {"configured": 4,
                                                 "alive": 2}})),
        "recycle": Raw(b"\x06" + mp({"ok": True, "workers": [0, 1]})),
        "reload": Raw(b"\x07" + mp({"ok": True, "realms": 3})),
        "drain": Raw(b"\x08" + mp({"ok": True, "state": "draining"})),
        "refused": Raw(b"\x09" + mp({"ok": False, "code": "conflict",
                                      "message": "a resize is under way"})),
        "unknown_code": Raw(b"\x00" + mp({"ok": False, "code": "later",
                                           "message": None})),
        "job_reply": Raw(b"\x00" + mp({"v": 1, "status": "error"})),
        "duplicates": Raw(b"\x00" + mp(pairs(
            ("ok", True), ("version", "a"), ("version", 1),
            (1, 2), ("queue", "three")))),
        "not_utf8": Raw(b"\x01" + mp({"ok": True, "workers": [
            {"last_error": Raw(mp_str(b"E\xff"))}]})),
    },
    "json_to_msgpack": {
        "object": b'{"a":[1,2.5e3,"x\\u00e9\\n",true,null,{"b":[]}],"c":-7}',
        "numbers": b"[0,-0,1e400,-1e400,18446744073709551615,"
                   b"-9223372036854775808,-9223372036854775809,0.1,5e-324]",
        "strings": b'["\\ud83d\\ude00","\\ud800","\\"\\\\\\/\\b\\f\\n\\r\\t",'
                   b'"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",""]',
        "whitespace": b' \t\r\n{ "k" :\n[ ] }\n',
        "deep_64": b"[" * 64 + b"null" + b"]" * 64,
        "deep_65": b"[" * 65 + b"null" + b"]" * 65,
        "duplicate_keys": b'{"a":1,"a":2}',
        "bad_escape": b'"\\x"',
        "trailing_comma": b"[1,]",
        "bom": b"\xef\xbb\xbf1",
        "not_utf8": b'"\xff"',
    },
    # the link's records: what the front reads from a pool process (and a
    # pool process from the front), the header put in front by the harness
    "link_decode": {
        "tasks": link(FRONT_JOBS,
                      [1, 7, 3, 2, "lib/math.js", "add", None, [2, 3],
                       123456789, 99, 4, [["data", "x/y"], False, True],
                       "job-7", 123000000, 30000, 50],
                      [1, 8, 0, 1, None, None, "export default 1", [], 1, 2,
                       3, None, None, 1, 0, 0],
                      [1, 9, 1, 1, "a.js", None, "", [None], 1, 2, 3, None,
                       {"n": [1]}, 1, 5, 86400000]),
        "controls": link(FRONT_JOBS, [2, 7, 3], [3, "a.js"], [3, ""], [4],
                         [5, 5000]),
        "done": link(WORKER_JOBS,
                     [16, 7, 3, 1, 0, 10, 20, WORKER_REPLY, None, 15, 928, 2,
                      0],
                     [16, 8, 1, 3, 3, 5, 5, open_map({"status": "error",
                                                      "code": "timeout"}),
                      "Error: timed out", 5000, 1024, 0, 2],
                     [16, 9, 2, 0, 0, 0, 7, None, None, 0, 0, 0, 0],
                     [16, 10, 1, 3, 8, 5, 9, open_map({"status": "error",
                                                       "code": "cpu_limit"}),
                      "cpu_limit: CPU time limit exceeded: 50 ms", 50433,
                      928, 0, 1]),
        "worker_events": link(WORKER_JOBS, [17, 1048576, 536870912, 3],
                              [17, 1, 2, 0], [18, 2], [19, 1], [20, 0, None],
                              [20, 12, "worker 3: busy"]),
        "ops": link(WORKER_OPS, [32, 12, 4096, 2, 5, 4, ["hits", 1]],
                    [32, 0, 1, 1, 0, 0, []]),
        "op_results": link(FRONT_OPS, [48, 4096, 2, 5, 0, mp({"bytes": 5})],
                           [48, 1, 1, 1, 2, b"no such file"],
                           [48, 1, 1, 1, 0, mp(None)], [48, 1, 1, 1, 0, b""]),
        "wrong_channel": link(WORKER_JOBS, [1, 7, 3, 2, "m", "e", None, [],
                                            1, 2, 3, None, None, 0, 0]),
        "deep_args": link(WORKER_OPS, [32, 0, 0, 0, 0, 0, nest(127, 1)]),
        "bad_reply": link(WORKER_JOBS,
                          [16, 7, 3, 1, 0, 10, 20,
                           Raw(b"\xc4\x04\x82\xa1\xff\xc0"), None]),
        "halts": link(FRONT_CTL, [64, 3, 123456789], [64, 0, 0]),
        "group_news": link(GROUP_CTL, [81], [80, 3], [81], [80, 2**32 - 1]),
        "wedged_on_front": link(FRONT_CTL, [80, 1]),
        "codes": link(GROUP_CTL, [83, b"m" + bytes(36), b"\xc0\xde" * 50],
                      [81]),
        "code_puts": link(FRONT_CTL, [65, b"m" + bytes(36), bytes(300)],
                          [64, 1, 0]),
        "code_short_key": link(GROUP_CTL, [83, b"m", b"x"]),
        "truncated": Raw(bytes([1 | 8]) + b"\x9f\x01\x07"),
        "no_header": link(FRONT_JOBS, [4], head=False),
        "other_header": link(FRONT_JOBS, ["isopool-link", 2, 0], [4],
                             head=False),
    },
    "msgpack_to_json": {
        "scalars": [None, True, False, 0, -1, 127, -32, 255, 65536, 2**63,
                    -(2**63), 1.5, F32(0.1), float("inf"), float("nan"),
                    -0.0],
        "strings": ["", "a\"b\\c\n\x01", Raw(mp_str(b"\xff\xed\xa0\x80ok")),
                    "\u00e9\u20ac\U0001f600"],
        "bin_ext": [b"", b"\xff", b"Man", Ext(5, b"\xab"), Ext(-128, b""),
                    Ext(-1, struct.pack(">I", 1704164645)),
                    Ext(-1, bytes.fromhex("a1dcd7c865937d25")),
                    Ext(-1, bytes.fromhex("00000000ffffffffffffffff"))],
        "keys": pairs((1, 2), (None, 1), ([1, 2], 3), ({"a": 1}, 2),
                      (b"\xff", 1), ("\"", 1)),
        "key_depth_3": key_bomb(4),
        "key_bomb_62": key_bomb(63),
        "deep_100": nest(100),
        "deep_129": nest(129),
        # an ext prints as an object: one JSON level more than in msgpack
        "ext_at_depth_64": nest(64, Ext(5, b"x")),
        "truncated": Raw(b"\x92\x01"),
        "absurd_count": Raw(b"\xdd\xff\xff\xff\xff"),
    },
    # the arguments of `(...a) => a` in a live runtime: one msgpack array
    "v8_values": {
        "scalars": [None, True, False, 0, -1, 2**53, 2**63, -(2**63), 1.5,
                    1.0, F32(0.5), float("nan"), -0.0, float("inf")],
        "strings": ["", "h\u00e9", Raw(mp_str(b"\xff\xed\xa0\x80")),
                    "\U0001f600"],
        "bin_empty": [b"", b"\x00\x01"],
        "dates": [Ext(-1, struct.pack(">I", 0)),
                  Ext(-1, bytes.fromhex("a1dcd7c865937d25")),
                  Ext(-1, bytes.fromhex("00000000ffffffffffffffff"))],
        "ext_other": [Ext(5, b"\xab")],
        "objects": [{"a": 1, "b": [True]}, pairs(("2", 1), ("1", 2)),
                    pairs(("a", 1), ("a", 2)), pairs((1, "x"), ([1], 2)),
                    {"__proto__": {"x": 1}}],
        "deep": [nest(60)],
    },
}


def main():
    for target, seeds in SEEDS.items():
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for name, v in seeds.items():
            data = v if (target == "json_to_msgpack" or
                         isinstance(v, Raw)) else mp(v)
            with open(os.path.join(d, name), "wb") as f:
                f.write(bytes(data))


if __name__ == "__main__":
    main()
