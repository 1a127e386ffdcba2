#!/usr/bin/env python3
"""Draws infra/dashboard.png: a MOCK-UP of the CloudWatch dashboard the template creates (resource `Dashboard`).

Same widget grid, titles and metrics as the template. The import widgets are fed with the EMF lines of a local
import run (sample-emf.jsonl: one line per run, as the import function writes them), replayed every 15 minutes over
one day for each integration in the sample (as 12 integrations, values jittered), plus a made-up incident: one integration's credentials are rejected
from 09:00 to 11:30 (failed runs, FailingFor and DataLag climb, both alarms fire, then it recovers). API traffic,
DLQ depth and throttles are made up (deterministic). Nothing here was read from a deployed stack.

    python infra/dashboard/render.py [sample-emf.jsonl] [out.png]     (needs matplotlib)
"""
import json
import math
import os
import random
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
sample_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "sample-emf.jsonl")
out_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "dashboard.png")

runs = [json.loads(line) for line in open(sample_path) if line.strip().startswith("{")]
steady = {}  # integration -> its steady-state run (the last succeeded one in the sample)
for run in runs:
    assert "_aws" in run and run["_aws"]["CloudWatchMetrics"], "not an EMF line"
    if run["Outcome"] == "succeeded":
        steady[run["integration_id"]] = run
assert steady, "the sample has no succeeded run"
# The sample's integration(s), each replayed as COPIES integrations (a small tenant base), values jittered +-20 %.
COPIES = 12
integrations = [(i, c) for i in sorted(steady) for c in range(COPIES)]
rng = random.Random(13)

slots = list(range(0, 24 * 4))  # 15-minute periods of one day
hours = [s / 4 for s in slots]
broken = integrations[0]
incident = range(9 * 4, 11 * 4 + 2)  # 09:00 .. 11:30

outcome = {"succeeded": [0] * len(slots), "partial": [0] * len(slots), "failed": [0] * len(slots)}
failures = {}
duration = {}
calls = {}
items = {}
lag = [0] * len(slots)
failing_for = [None] * len(slots)
for s in slots:
    for integration in integrations:
        run = steady[integration[0]]
        kind = run["IntegrationType"]
        if integration == broken and s in incident:
            outcome["failed"][s] += 1
            key = f"{kind} / credentials_rejected"
            failures.setdefault(key, [0] * len(slots))[s] += 1
            failing_for[s] = max(failing_for[s] or 0, (s - incident.start + 1) * 900)
            lag[s] = max(lag[s], (s - incident.start + 1) * 900 + 1500)
            calls.setdefault(kind, [0] * len(slots))[s] += 1
            continue
        outcome["succeeded"][s] += 1
        jitter = 0.8 + 0.4 * rng.random()
        duration.setdefault(kind, [[] for _ in slots])[s].append(run["RunDuration"] * jitter)
        calls.setdefault(kind, [0] * len(slots))[s] += run["VendorCalls"]
        items.setdefault(kind, [0] * len(slots))[s] += int(run["ItemsWritten"] * jitter)
        lag[s] = max(lag[s], run.get("DataLag", 1200) * jitter)
p95 = {k: [max(v) if v else None for v in series] for k, series in duration.items()}

fig = plt.figure(figsize=(18, 13), dpi=80)
fig.patch.set_facecolor("#f2f3f3")
fig.suptitle(
    "acd-integrations-prod  —  MOCK-UP of the CloudWatch dashboard (infra/template.yaml `Dashboard`); "
    "import widgets fed by EMF lines of a local run, incident and API traffic made up",
    fontsize=12, x=0.01, ha="left", color="#16191f")
grid = fig.add_gridspec(4, 3, height_ratios=[1, 1, 1, 0.35], hspace=0.45, wspace=0.18,
                        left=0.04, right=0.985, top=0.93, bottom=0.03)


def panel(row, col, title):
    ax = fig.add_subplot(grid[row, col])
    ax.set_facecolor("white")
    ax.set_title(title, loc="left", fontsize=11, color="#16191f")
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 3))
    ax.set_xticklabels([f"{h:02d}:00" for h in range(0, 25, 3)], fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(True, color="#e9ebed")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


ax = panel(0, 0, "Import runs by outcome")
ax.stackplot(hours, outcome["succeeded"], outcome["partial"], outcome["failed"],
             labels=["succeeded", "partial", "failed"], colors=["#1f77b4", "#ff7f0e", "#d62728"])
ax.legend(fontsize=8, loc="lower left")

ax = panel(0, 1, "Failed runs by type and reason")
for key, series in failures.items():
    ax.bar(hours, series, width=0.25, color="#d62728", label=key)
ax.set_ylim(0, 2)
ax.legend(fontsize=8)

ax = panel(0, 2, "Data lag and time failing (max over integrations, s)")
ax.plot(hours, lag, label="DataLag", color="#1f77b4")
ax.plot(hours, [f if f is not None else math.nan for f in failing_for], label="FailingFor", color="#d62728",
        marker="o", markersize=3)
ax.axhline(7200, color="#1f77b4", linestyle="--", linewidth=1, label="lag alarm (2 h)")
ax.axhline(3600, color="#d62728", linestyle="--", linewidth=1, label="failing alarm (1 h)")
ax.legend(fontsize=8)

ax = panel(1, 0, "Run duration by type (p95, ms)")
for kind, series in p95.items():
    ax.plot(hours, [v if v is not None else math.nan for v in series], label=kind)
ax.legend(fontsize=8)

ax = panel(1, 1, "Vendor calls and items written by type")
for kind, series in calls.items():
    ax.plot(hours, series, label=f"VendorCalls {kind}")
right = ax.twinx()
for kind, series in items.items():
    right.plot(hours, series, linestyle=":", label=f"ItemsWritten {kind}")
right.tick_params(axis="y", labelsize=8)
right.set_ylim(bottom=0)
ax.legend(fontsize=8, loc="upper left")
right.legend(fontsize=8, loc="upper right")

ax = panel(1, 2, "Schedule dead-letter queue depth")
ax.plot(hours, [0] * len(slots), color="#1f77b4")
ax.set_ylim(0, 5)

api = [max(0, int(60 + 40 * math.sin((h - 6) / 24 * 2 * math.pi) + rng.gauss(0, 5))) for h in hours]
ax = panel(2, 0, "API 4xx / 5xx")
ax.plot(hours, [max(0, int(a * 0.03 + rng.gauss(0, 1))) for a in api], label="4xx")
ax.plot(hours, [0] * len(slots), color="#d62728", label="5xx")
ax.legend(fontsize=8)

ax = panel(2, 1, "API latency (ms)")
ax.plot(hours, [38 + rng.gauss(0, 3) for _ in hours], label="p50")
ax.plot(hours, [120 + rng.gauss(0, 15) for _ in hours], label="p95")
ax.legend(fontsize=8)

ax = panel(2, 2, "Throttles and import errors")
for name in ("Throttles import", "Throttles integrations-api", "Throttles queues-query"):
    ax.plot(hours, [0] * len(slots), label=name)
ax.plot(hours, [0] * len(slots), color="#d62728", label="Errors import")
ax.set_ylim(0, 5)
ax.legend(fontsize=8)

ax = fig.add_subplot(grid[3, :])
ax.axis("off")
ax.set_title("Alarms (state at 10:30)", loc="left", fontsize=11, color="#16191f")
alarms = [("integration-failing", True), ("data-lag", False), ("schedule-dlq", False), ("api-5xx", False),
          ("import-throttles", False), ("import-errors", False)]
for i, (name, firing) in enumerate(alarms):
    color = "#d13212" if firing else "#1d8102"
    ax.text(0.005 + i * 0.166, 0.35, ("ALARM  " if firing else "OK  ") + "…-" + name,
            color="white", fontsize=9, bbox={"facecolor": color, "edgecolor": color, "boxstyle": "round,pad=0.4"},
            transform=ax.transAxes)

fig.savefig(out_path, facecolor=fig.get_facecolor())
print(f"wrote {out_path} from {len(runs)} EMF lines of {len(steady)} integration(s), each replayed {COPIES} times")
