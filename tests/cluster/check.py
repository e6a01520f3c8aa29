#!/usr/bin/env python3
"""check.py DIR RECOVERY_MS [NAME]: the cluster test's checks and figures.

Reads DIR/runs (one `NAME KIND NODE` line per run of the driver), each
run's results (DIR/NAME.res: `ID OUTCOME NODE IDEMPOTENT CALLBACKS
DONE_MS`), its figures (DIR/NAME.out, `key value` lines after `figures`)
and the three nodes' logs (DIR/nI/data/jobs.log, one id per job that ran).
For every run:
  - every id the driver issued has exactly one outcome (one callback);
  - no id is in the logs twice, except an idempotent job resent after its
    node was lost: at most twice, once in the faulted node's log;
  - every fulfilled id is in exactly one log, the log of the node its
    value names (an idempotent one resent: that node's and the faulted's);
  - ENODELOST only for jobs of the faulted node (in its log or in none),
    and none at all when the fault was SIGTERM (a drain answers, or
    refuses with shutting_down, which the client sends elsewhere); no
    other outcome than ok and ENODELOST;
  - after a fault, throughput back to >= 80% of the pre-fault mean within
    RECOVERY_MS of it, and the faulted node taken out (not up, as
    iso_client_nodes says) and back in before the load ended (the script
    restarted it, sent SIGCONT or set its link up). A node taken out that
    was not faulted, or before the fault, is a note (on 2 shared cores a
    healthy node may miss two pings).
Then the table of figures. Exit 1 if a check failed (each failure says
run, check and up to 10 ids), 2 if only the throughput check did, else 0.
With NAME, only that run, and no table (the script's retry: a run whose
throughput check alone failed is run once more, and its name listed in
DIR/retried, whose throughput failures are then notes, not failures: the
machine's other load moves a 50 ms bucket more than a fault does).
"""
import os
import sys

d, recovery_ms = sys.argv[1], int(sys.argv[2])
only = sys.argv[3] if len(sys.argv) > 3 else None
retried = set()
if os.path.exists(os.path.join(d, "retried")):
    retried = set(open(os.path.join(d, "retried")).read().split())
failures = []
timing = []  # the throughput check's failures
notes = []


def fail(run, check, ids=()):
    ids = sorted(ids)
    more = f" (+{len(ids) - 10} more)" if len(ids) > 10 else ""
    failures.append(f"{run}: {check}" +
                    (f": {' '.join(ids[:10])}{more}" if ids else ""))


logs = {}  # id -> {node: count}
for n in (1, 2, 3):
    p = os.path.join(d, f"n{n}", "data", "jobs.log")
    if os.path.exists(p):
        with open(p) as f:
            for line in f:
                i = line.strip()
                if i:
                    logs.setdefault(i, {}).setdefault(n, 0)
                    logs[i][n] += 1


def figures(name):
    fig, on = {}, False
    extra = os.path.join(d, f"{name}.extra")
    lines = open(os.path.join(d, f"{name}.out")).read().splitlines()
    if os.path.exists(extra):
        lines += ["figures"] + open(extra).read().splitlines()
    for line in lines:
        if line == "figures":
            on = True
        elif on and " " in line:
            k, v = line.split(" ", 1)
            fig[k] = v
    return fig


rows = []
for line in open(os.path.join(d, "runs")):
    name, kind, node = line.split()
    node = int(node)
    if only is not None and name != only:
        continue
    fig = figures(name)
    res = {}
    for r in open(os.path.join(d, f"{name}.res")):
        i, out, vnode, idem, cbs, _ = r.split()
        res[i] = (out, vnode, idem == "1", int(cbs))
    prefix = name + "-"
    ran = {i: c for i, c in logs.items() if i.startswith(prefix)}
    if fig.get("driver_exit") != "0":
        fail(name, f"the driver exited {fig.get('driver_exit')}")
    if int(fig.get("double_callbacks", "0")):
        fail(name, f"{fig['double_callbacks']} second callbacks")
    fail_ids = {}

    def bad(check, i):
        fail_ids.setdefault(check, []).append(i)

    lost = lost_ran = twice = 0
    other = {}
    for i, (out, vnode, idem, cbs) in res.items():
        where = ran.get(i, {})
        total = sum(where.values())
        if cbs != 1:
            bad(f"{cbs} outcomes (callbacks), not 1", i)
        if total > 1:
            if (idem and total == 2 and where.get(node, 0) >= 1
                    and kind != "none"):
                twice += 1
            else:
                bad("ran twice", i)
        if out == "ok":
            if total == 0:
                bad("fulfilled but in no node's log", i)
            elif vnode == "-" or where.get(int(vnode), 0) == 0:
                bad("fulfilled but not in the log of the node that "
                    "answered", i)
            elif total > 1 and not idem:
                bad("fulfilled and in more than one log", i)
        elif out == "ENODELOST":
            lost += 1
            lost_ran += 1 if total else 0
            if kind in ("none", "term"):
                bad(f"node_lost with fault {kind}", i)
            elif any(n != node for n in where) and not idem:
                bad(f"node_lost but ran on a node other than node {node}", i)
        else:
            other[out] = other.get(out, 0) + 1
            bad(f"outcome {out}", i)
    for i in ran:
        if i not in res:
            bad("in a log but never issued", i)
    for check, ids in fail_ids.items():
        fail(name, check, ids)
    rec = int(fig.get("recover_ms", "-1"))
    if kind != "none" and not 0 <= rec <= recovery_ms:
        msg = (f"{name}: throughput not back to 80% within {recovery_ms} "
               f"ms of the fault (recover_ms {rec}; "
               f"{fig.get('timeline', '')})")
        if name in retried:
            notes.append(f"run again: {msg}")
        else:
            timing.append(msg)
    if fig.get("term_exit_ms") == "-1":
        fail(name, f"node {node} did not exit within 10 s of SIGTERM")
    out_ms = int(fig.get(f"out_ms_{node}", "-1"))
    in_ms = int(fig.get(f"in_ms_{node}", "-1"))
    if kind != "none" and out_ms < 0:
        fail(name, f"node {node} never taken out after the fault")
    if kind != "none" and in_ms < 0:
        fail(name, f"node {node} not taken back in before the load ended")
    for n in (1, 2, 3):
        if n != node and int(fig.get(f"out_ms_{n}", "-1")) >= 0:
            notes.append(f"{name}: node {n}, not faulted, was taken out "
                         f"{fig[f'out_ms_{n}']} ms after the fault")
        if int(fig.get(f"outs_before_fault_{n}", "0")):
            notes.append(f"{name}: node {n} was taken out "
                         f"{fig[f'outs_before_fault_{n}']} times before "
                         "the fault")
    rows.append((name, kind, node, len(res), fig.get("rate", "?"),
                 fig.get("pre_rate", "-"), fig.get("dip_rate", "-"),
                 fig.get("recover_ms", "-"),
                 out_ms if kind != "none" else "-",
                 in_ms if kind != "none" else "-",
                 fig.get("first_lost_ms", "-"), lost, lost_ran, twice,
                 sum(other.values())))

head = ("run", "fault", "node", "jobs", "jobs/s", "pre/s", "dip/s",
        "recover_ms", "out_ms", "in_ms", "1st_lost_ms", "lost", "lost_ran",
        "run_twice", "other")
if only is None:
    print()
    print(" | ".join(head))
    for r in rows:
        print(" | ".join(str(x) for x in r))
    print()
for n in notes:
    print("cluster_test: note:", n)
for f in failures:
    print("cluster_test: FAIL:", f)
for t in timing:
    print("cluster_test: FAIL:", t)
if failures:
    sys.exit(1)
if timing:
    sys.exit(2)
if only is None:
    print("cluster_test: all checks passed")
