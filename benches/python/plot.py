"""Plots per-query time ratios against single-node DataFusion from the
benchmark's results.json: one panel per workload, one bar per engine.

  plot.py benches/results/results.json benches/results/ratios.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    results = json.load(open(sys.argv[1]))
    workloads = [w for w in results["workloads"] if w["queries"]]
    if not workloads:
        return
    fig, axes = plt.subplots(len(workloads), 1, figsize=(14, 3.6 * len(workloads)), squeeze=False)
    for ax, w in zip(axes[:, 0], workloads):
        engines = [e for e in w["engines"] if e != "datafusion"]
        names = [q["query"] for q in w["queries"]]
        width = 0.8 / max(1, len(engines))
        for i, engine in enumerate(engines):
            ratios = []
            for q in w["queries"]:
                df = q["engines"].get("datafusion", {}).get("median_s")
                mine = q["engines"].get(engine, {}).get("median_s")
                ratios.append(mine / df if df and mine else 0)
            xs = [x + (i - (len(engines) - 1) / 2) * width for x in range(len(names))]
            ax.bar(xs, ratios, width, label=engine)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=45 if len(names) > 22 or len(max(names, key=len)) > 4 else 0,
                           ha="right" if len(max(names, key=len)) > 4 else "center", fontsize=8)
        ax.set_ylabel("time / DataFusion")
        ax.set_title(w["workload"])
        ax.legend(fontsize=8, ncol=len(engines))
    fig.suptitle(f"Hayate vs single-node DataFusion ({results['date']}, commit {results['commit']}, "
                 f"{results['cores']} cores; below 1 is faster)")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
