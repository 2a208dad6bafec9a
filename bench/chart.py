"""Draws bench/results/bench.png from bench.json: req/s per contender and concurrency (median, min-max whiskers),
server CPU per request at the highest concurrency (a shim's own share and its adapters' stacked), cold start, and
the payload phase's MB/s per size.

Usage: bench/.venv/bin/python bench/chart.py bench/results/bench.json bench/results/bench.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SHIM_COLOR, PEER_COLOR, FLOOR_COLOR = "#1f77b4", "#999999", "#2ca02c"
COLOR = {"shim": SHIM_COLOR, "peer": PEER_COLOR, "floor": FLOOR_COLOR}


def main(src, dst):
    res = json.load(open(src))
    load, cfg = res["load"], res["config"]
    names = list(load)
    conc = cfg["concurrencies"]
    payload = res.get("payload") or {}
    fig, grid = plt.subplots(2, 2, figsize=(17, 11), gridspec_kw={"width_ratios": [2.2, 1.3]})
    axes = [grid[0][0], grid[0][1], grid[1][1], grid[1][0]]

    # 1. Throughput.
    ax = axes[0]
    width = 0.8 / len(conc)
    shades = ["#c6dbef", "#6baed6", "#08519c"]
    for i, c in enumerate(conc):
        med = [load[n]["by_c"][str(c)]["rps"]["median"] for n in names]
        lo = [m - load[n]["by_c"][str(c)]["rps"]["min"] for m, n in zip(med, names)]
        hi = [load[n]["by_c"][str(c)]["rps"]["max"] - m for m, n in zip(med, names)]
        xs = [k + (i - (len(conc) - 1) / 2) * width for k in range(len(names))]
        ax.bar(xs, med, width, yerr=[lo, hi], capsize=2, color=shades[i % len(shades)], label=f"c={c}",
               edgecolor="black", linewidth=0.4)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=25, ha="right")
    for label, n in zip(ax.get_xticklabels(), names):
        label.set_fontweight("bold" if load[n]["kind"] == "shim" else "normal")
    ax.set_ylabel("requests/s (median, min–max)")
    ax.set_title(f"Seed function, POST /, keep-alive, W={cfg['workers']}, server on 1 CPU")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)

    # 2. CPU per request at the top concurrency.
    ax = axes[1]
    top = str(max(conc))
    own = [load[n]["by_c"][top]["main_cpu_us_per_req"]["median"] if load[n]["kind"] == "shim"
           else load[n]["by_c"][top]["cpu_us_per_req"]["median"] for n in names]
    rest = [load[n]["by_c"][top]["cpu_us_per_req"]["median"] - o if load[n]["kind"] == "shim" else 0
            for n, o in zip(names, own)]
    colors = [COLOR.get(load[n]["kind"], PEER_COLOR) for n in names]
    ax.barh(names, own, color=colors, edgecolor="black", linewidth=0.4, label="shim / whole server")
    ax.barh(names, rest, left=own, color="#ff7f0e", edgecolor="black", linewidth=0.4, label="adapters")
    # Linear, so that the stacked parts read true; the slow peers run off the axis with their value written.
    totals = [o + r for o, r in zip(own, rest)]
    limit = 2.2 * max([t for t, n in zip(totals, names) if load[n]["kind"] == "shim"] or totals)
    ax.set_xlim(0, limit)
    for y, t in enumerate(totals):
        ax.text(min(t, limit * 0.82), y, f" {t:.0f} µs" + (" →" if t > limit else ""), va="center", fontsize=8,
                color="white" if t > limit else "black", fontweight="bold" if t > limit else "normal")
    ax.invert_yaxis()
    ax.set_xlabel(f"server CPU µs per request at c={top}")
    ax.set_title("CPU cost per request")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)

    # 3. Cold start.
    ax = axes[2]
    cold = {k: v for k, v in res.get("cold_start", {}).items() if not v.get("derived")}
    labels = list(cold)
    values = [cold[k]["median"] for k in labels]
    colors = [SHIM_COLOR if (cold[k]["contender"] or "").startswith("shim") else
              ("#dddddd" if cold[k]["contender"] is None else
               FLOOR_COLOR if cold[k]["contender"] == "floor" else PEER_COLOR) for k in labels]
    if not labels:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "cold start not run", ha="center", va="center", transform=ax.transAxes)
    ax.barh([k.replace(": exec -> ", ": ").replace(", exec -> exit", "") for k in labels], values, color=colors,
            edgecolor="black", linewidth=0.4)
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.1f}", va="center", fontsize=7)
    ax.invert_yaxis()
    if labels:
        ax.set_xscale("log")
    ax.set_xlabel("ms, exec → first 200 OK (median, log)")
    ax.set_title("Cold start")
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="x", alpha=0.3, which="both")

    # 4. Payload: MB/s (payload bytes both ways) per size, log scale.
    ax = axes[3]
    if payload:
        pc = cfg.get("payload", {})
        sizes = pc.get("sizes") or sorted({int(n) for r in payload.values() for n in r["by_size"]})
        pnames = list(payload)
        width = 0.8 / len(pnames)
        for i, n in enumerate(pnames):
            med = [payload[n]["by_size"].get(str(s), {}).get("mbps", {}).get("median", 0) for s in sizes]
            xs = [k + (i - (len(pnames) - 1) / 2) * width for k in range(len(sizes))]
            kind = payload[n]["kind"]
            ax.bar(xs, med, width, label=n, color=["#1f77b4", "#6baed6", "#2ca02c", "#999999", "#ff7f0e"][i % 5]
                   if kind != "floor" else FLOOR_COLOR, edgecolor="black", linewidth=0.4,
                   hatch="//" if kind == "peer" else None)
            for x, v in zip(xs, med):
                ax.text(x, v, f"{v:.0f}" if v else "failed", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(sizes)))
        ax.set_xticklabels([f"{s >> 20} MiB" if s >= 1 << 20 else f"{s >> 10} KiB" for s in sizes])
        ax.set_yscale("log")
        ax.set_ylabel("MB/s of payload, request + reply (median, log)")
        ax.set_title(f"Payload: N bytes in, the same N back, c={pc.get('concurrency', '?')}")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3, which="both")
    else:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "payload phase not run", ha="center", va="center", transform=ax.transAxes)

    m = res["machine"]
    fig.suptitle(f"runtime-shim benchmark {res['date'][:10]} — {m['cpu']}, {m['cpus']} CPUs (servers on CPU "
                 f"{cfg['server_cpus']}, wrk on CPU {cfg['loadgen_cpus']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
