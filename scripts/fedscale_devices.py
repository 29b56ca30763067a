#!/usr/bin/env python3
"""Converts FedScale's device-capacity file into Flotilla's devices.file.

FedScale (Lai et al., ICML 2022) ships a map {client_id: {"computation": ms, "communication": kbps}}
(as a pickle, `client_device_capacity`, or as JSON). Flotilla's devices.file is a JSON list, one
entry per client: {"ms_per_sample": ms, "kbps": kbps}. FedScale's ids are sorted and taken in
order; with --clients N the first N are used, cycling when there are fewer (as FedScale assigns
capacities to more clients than it has profiles).

    scripts/fedscale_devices.py client_device_capacity devices.json --clients 1000
    build/flotilla run clock=virtual devices.file=devices.json ...

The pickle is read with an unpickler that builds only dicts, lists, numbers and strings: a
hostile file cannot run code.
"""
import argparse
import json
import math
import pickle
import sys


class _DataOnly(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"{module}.{name}: the file holds more than plain data")


def read_capacities(path):
    with open(path, "rb") as f:
        head = f.read(1)
        f.seek(0)
        if head in (b"{", b"[", b" ", b"\n"):
            return json.load(f)
        return _DataOnly(f).load()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("capacity", help="FedScale's device-capacity file (pickle or JSON)")
    p.add_argument("out", help="devices.file to write (JSON)")
    p.add_argument("--clients", type=int, default=0, help="entries to write (0: one per FedScale profile)")
    a = p.parse_args()
    caps = read_capacities(a.capacity)
    if not isinstance(caps, dict) or not caps:
        sys.exit(f"{a.capacity}: expected a non-empty map client_id -> {{computation, communication}}")

    def key(k):
        return (0, int(k)) if str(k).lstrip("-").isdigit() else (1, str(k))

    profiles = []
    for k in sorted(caps, key=key):
        v = caps[k]
        try:
            ms, kbps = float(v["computation"]), float(v["communication"])
        except (TypeError, KeyError, ValueError) as e:
            sys.exit(f"{a.capacity}: client {k}: needs numeric 'computation' and 'communication' ({e})")
        if not (math.isfinite(ms) and math.isfinite(kbps) and ms > 0 and kbps > 0):
            sys.exit(f"{a.capacity}: client {k}: computation {ms} and communication {kbps} must be above 0")
        profiles.append({"ms_per_sample": ms, "kbps": kbps})
    n = a.clients if a.clients > 0 else len(profiles)
    out = [profiles[i % len(profiles)] for i in range(n)]
    with open(a.out, "w") as f:
        json.dump(out, f)
    print(f"{a.out}: {n} devices from {len(profiles)} FedScale profiles")


if __name__ == "__main__":
    main()
