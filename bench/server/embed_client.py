#!/usr/bin/env python3
"""Posts every body of BODIES (one JSON request per line) once to
/v1/embeddings over C concurrent keep-alive connections and prints the
documents embedded per second (wall). Fixed work, so the server's CPU time
over the run compares with `densearch embed` on the same documents.

usage: embed_client.py PORT BODIES CONNECTIONS
"""
import http.client
import json
import sys
import threading
import time

port, path, conns = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
bodies = open(path).read().splitlines()
lock = threading.Lock()
state = {"next": 0, "docs": 0, "bad": 0}


def worker():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    while True:
        with lock:
            i = state["next"]
            state["next"] += 1
        if i >= len(bodies):
            break
        c.request("POST", "/v1/embeddings", bodies[i], {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        with lock:
            if r.status == 200:
                state["docs"] += len(json.loads(data)["data"])
            else:
                state["bad"] += 1
    c.close()


t0 = time.time()
ts = [threading.Thread(target=worker) for _ in range(conns)]
for t in ts:
    t.start()
for t in ts:
    t.join()
el = time.time() - t0
print("%d documents in %d requests over %d connections in %.2f s: %.1f docs/s (%d non-200)"
      % (state["docs"], len(bodies), conns, el, state["docs"] / el, state["bad"]))
