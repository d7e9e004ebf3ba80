#!/usr/bin/env python3
"""Draws docs/benchmarks.svg from docs/benchmarks.json: one bar per row, ours against the
baseline (the baseline is 1.0), with the target marked and, where a row has "low" and "high",
a whisker over the middle half of the rounds. No dependencies beyond Python."""
import json, pathlib

HERE = pathlib.Path(__file__).resolve().parent
rows = json.loads((HERE / "benchmarks.json").read_text())["rows"]

W, LEFT, BAR, GAP, TOP = 760, 300, 22, 14, 40
scale_max = max(max(r["ratio"], r["target"]) for r in rows) * 1.15
x = lambda v: LEFT + (W - LEFT - 30) * v / scale_max
H = TOP + len(rows) * (BAR + GAP) + 40
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       '<rect width="100%" height="100%" fill="white"/>',
       f'<text x="10" y="20" font-size="14" font-weight="bold">Ours relative to the bare baseline (1.0); | = target; whisker = middle half of the rounds</text>']
for i, r in enumerate(rows):
    y = TOP + i * (BAR + GAP)
    # Time ratios pass below the target, throughput ratios above it.
    ok = r["ratio"] <= r["target"] if r["kind"] == "time" else r["ratio"] >= r["target"]
    colour = "#3a7d44" if ok else "#c0392b"
    out.append(f'<text x="{LEFT - 8}" y="{y + 15}" text-anchor="end">{r["name"]}</text>')
    out.append(f'<rect x="{LEFT}" y="{y}" width="{x(r["ratio"]) - LEFT:.1f}" height="{BAR}" fill="{colour}"/>')
    label_x = x(max(r["ratio"], r.get("high", 0))) + 4
    if "low" in r and "high" in r:
        mid = y + BAR / 2
        out.append(f'<line x1="{x(r["low"]):.1f}" x2="{x(r["high"]):.1f}" y1="{mid}" y2="{mid}" stroke="#222" stroke-width="1.5"/>')
        for end in (r["low"], r["high"]):
            out.append(f'<line x1="{x(end):.1f}" x2="{x(end):.1f}" y1="{mid - 5}" y2="{mid + 5}" stroke="#222" stroke-width="1.5"/>')
    out.append(f'<text x="{label_x:.1f}" y="{y + 15}">{r["ratio"]:.2f}x ({r["kind"]})</text>')
    out.append(f'<line x1="{x(r["target"]):.1f}" x2="{x(r["target"]):.1f}" y1="{y - 3}" y2="{y + BAR + 3}" stroke="black" stroke-width="2"/>')
base = x(1.0)
out.append(f'<line x1="{base:.1f}" x2="{base:.1f}" y1="{TOP - 6}" y2="{H - 30}" stroke="#888" stroke-dasharray="4 3"/>')
out.append(f'<text x="{base:.1f}" y="{H - 14}" text-anchor="middle" fill="#555">baseline 1.0</text>')
out.append("</svg>")
(HERE / "benchmarks.svg").write_text("\n".join(out) + "\n")
print(f"wrote {HERE / 'benchmarks.svg'} ({len(rows)} rows)")
