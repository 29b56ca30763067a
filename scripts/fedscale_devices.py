#!/usr/bin/env python3
"""Converts FedScale's device-capacity file (and behaviour trace) into Flotilla's devices.file.

FedScale (Lai et al., ICML 2022) ships a map {client_id: {"computation": ms, "communication": kbps}}
(as a pickle, `client_device_capacity`, or as JSON). Flotilla's devices.file is a JSON list, one
entry per client: {"ms_per_sample": ms, "kbps": kbps}. FedScale's ids are sorted (numerically,
then other keys as text) and taken in order onto Flotilla's ids 0, 1, ...; with --clients N the
first N are used, cycling when there are fewer (as FedScale assigns capacities to more clients
than it has profiles).

--trace adds FedScale's availability trace (`client_behave_trace`, pickle or JSON:
{client_id: {"active": [s, ...], "inactive": [s, ...], "finish_time": s, ...}}): entry i gets
the i-th trace in the same sorted order, cycling when there are fewer traces than entries. A
client is online from active[i] until inactive[i] (seconds), repeating every finish_time.
Intervals of length 0 (active[i] == inactive[i]) are dropped; any other disorder is refused.
Other keys of a trace ("duration", "model") are not copied.

    scripts/fedscale_devices.py client_device_capacity devices.json --clients 1000
    scripts/fedscale_devices.py client_device_capacity devices.json --clients 1000 --trace client_behave_trace
    build/flotilla run clock=virtual devices.file=devices.json ...

Pickles are read with an unpickler that builds only dicts, lists, numbers and strings: a
hostile file cannot run code.
"""
import argparse
import json
import math
import pickle
import sys

MAX_TRACE_TIMES = 100000  # fl::max_trace_times: the most times in "active" or "inactive"


class _DataOnly(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"{module}.{name}: the file holds more than plain data")


def read_map(path):
    """A pickle (read data-only) or a JSON file."""
    with open(path, "rb") as f:
        head = f.read(1)
        f.seek(0)
        if head in (b"{", b"[", b" ", b"\n"):
            return json.load(f)
        return _DataOnly(f).load()


def sort_key(k):
    """FedScale's ids in order: numbers by value, then other keys as text."""
    return (0, int(k)) if str(k).lstrip("-").isdigit() else (1, str(k))


def _times(v, key, where):
    if not isinstance(v, (list, tuple)):
        raise ValueError(f"{where}: '{key}' is {type(v).__name__}, not a list of times")
    if len(v) > MAX_TRACE_TIMES:
        raise ValueError(f"{where}: '{key}' has {len(v)} times; at most {MAX_TRACE_TIMES}")
    out = []
    for i, x in enumerate(v):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x < 0:
            raise ValueError(f"{where}: '{key}'[{i}] is {x!r}; a time is a finite number, at least 0")
        out.append(x)
    return out


def convert_trace(v, where):
    """FedScale's trace checked as Flotilla's parse_devices checks it; returns (entry keys, dropped)."""
    if not isinstance(v, dict):
        raise ValueError(f"{where}: the trace is {type(v).__name__}, not a map")
    for key in ("active", "inactive", "finish_time"):
        if key not in v:
            raise ValueError(f"{where}: no '{key}'")
    active, inactive = _times(v["active"], "active", where), _times(v["inactive"], "inactive", where)
    finish = v["finish_time"]
    if isinstance(finish, bool) or not isinstance(finish, (int, float)) or not math.isfinite(finish):
        raise ValueError(f"{where}: 'finish_time' is {finish!r}, not a finite number")
    if len(inactive) not in (len(active), len(active) - 1):
        raise ValueError(f"{where}: {len(inactive)} 'inactive' times for {len(active)} 'active' ones")
    a_out, i_out, dropped = [], [], 0
    for i, start in enumerate(active):
        end = inactive[i] if i < len(inactive) else None
        if end is not None and end == start:
            dropped += 1
            continue
        if end is not None and end < start:
            raise ValueError(f"{where}: inactive[{i}] = {end} is before active[{i}] = {start}")
        if i_out and start < i_out[-1]:
            raise ValueError(f"{where}: active[{i}] = {start} is before the previous inactive time {i_out[-1]}")
        a_out.append(start)
        if end is not None:
            i_out.append(end)
    if not a_out:
        raise ValueError(f"{where}: no online interval (of length above 0)")
    if not (finish > a_out[-1] and (not i_out or finish >= i_out[-1])):
        raise ValueError(f"{where}: finish_time {finish} must be after the last active time and at least the "
                         "last inactive time")
    return {"active": a_out, "inactive": i_out, "finish_time": finish}, dropped


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("capacity", help="FedScale's device-capacity file (pickle or JSON)")
    p.add_argument("out", help="devices.file to write (JSON)")
    p.add_argument("--clients", type=int, default=0, help="entries to write (0: one per FedScale profile)")
    p.add_argument("--trace", metavar="FILE", help="FedScale's behaviour trace (client_behave_trace; pickle or JSON) "
                   "to merge: each entry gets an availability trace")
    a = p.parse_args()
    caps = read_map(a.capacity)
    if not isinstance(caps, dict) or not caps:
        sys.exit(f"{a.capacity}: expected a non-empty map client_id -> {{computation, communication}}")

    profiles = []
    for k in sorted(caps, key=sort_key):
        v = caps[k]
        try:
            ms, kbps = float(v["computation"]), float(v["communication"])
        except (TypeError, KeyError, ValueError) as e:
            sys.exit(f"{a.capacity}: client {k}: needs numeric 'computation' and 'communication' ({e})")
        if not (math.isfinite(ms) and math.isfinite(kbps) and ms > 0 and kbps > 0):
            sys.exit(f"{a.capacity}: client {k}: computation {ms} and communication {kbps} must be above 0")
        profiles.append({"ms_per_sample": ms, "kbps": kbps})
    n = a.clients if a.clients > 0 else len(profiles)
    out = [dict(profiles[i % len(profiles)]) for i in range(n)]
    note = ""
    if a.trace:
        traces = read_map(a.trace)
        if not isinstance(traces, dict) or not traces:
            sys.exit(f"{a.trace}: expected a non-empty map client_id -> {{active, inactive, finish_time}}")
        keys = sorted(traces, key=sort_key)
        converted, dropped = {}, 0
        for i in range(min(n, len(keys))):  # only the traces used
            try:
                converted[i], d = convert_trace(traces[keys[i]], f"{a.trace}: client {keys[i]}")
            except ValueError as e:
                sys.exit(str(e))
            dropped += d
        for i, entry in enumerate(out):
            entry.update(converted[i % len(keys)])
        note = f", availability from {min(n, len(keys))} of {len(keys)} traces"
        if dropped:
            note += f" (dropped {dropped} online intervals of length 0)"
    with open(a.out, "w") as f:
        json.dump(out, f)
    print(f"{a.out}: {n} devices from {len(profiles)} FedScale profiles{note}")


if __name__ == "__main__":
    main()
