"""Plots the scale model from the benchmark's results.json: speedup
T(1)/T(N) against the node count N, one line per workload, beside the
ideal (speedup = N) and the efficiency target (0.8 N).

  scale_plot.py benches/results/results.json benches/results/scale.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    results = json.load(open(sys.argv[1]))
    summaries = results.get("scale") or []
    if not summaries:
        return
    fig, ax = plt.subplots(figsize=(7, 5))
    largest = max(p["nodes"] for s in summaries for p in s["points"])
    ns = list(range(1, largest + 1))
    ax.plot(ns, ns, color="black", linewidth=0.8, linestyle="--", label="ideal")
    ax.plot(ns, [0.8 * n for n in ns], color="grey", linewidth=0.8, linestyle=":", label="efficiency 0.8")
    for s in summaries:
        points = sorted(s["points"], key=lambda p: p["nodes"])
        ax.plot([p["nodes"] for p in points], [p["speedup"] for p in points], marker="o", label=s["workload"])
    ax.set_xlabel("model nodes")
    ax.set_ylabel("speedup over 1 node")
    cores = summaries[0]["cores_per_node"]
    ax.set_title(f"Hayate scale model: nodes of {cores} cores ({results['date']}, commit {results['commit']})\n"
                 "a model on one machine, not a cluster", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
