#!/usr/bin/env python3
"""Summarises bench/rectify_all.sh: for every density, the straightness of CFM, reflow
and OT-CFM, and their energy distance to the data after 1 and 2 Euler steps (and the
in-square fraction for the checkerboard), with how many times lower reflow's is than
CFM's. Writes OUT/summary.md and prints it."""
import json
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "outputs/rectify"
cmp_dir = os.path.join(out, "comparisons")
rows = []
for name in sorted(os.listdir(cmp_dir)):
    if name.startswith("few_step_") and name.endswith(".json"):
        with open(os.path.join(cmp_dir, name)) as f:
            rows.append(json.load(f))
order = ["checkerboard", "moons", "mixture", "8gaussians", "spirals", "circles", "pinwheel", "swissroll"]
rows.sort(key=lambda r: order.index(r["dataset"]) if r["dataset"] in order else 99)


def ed(model, steps):
    for row in model["few_step"]:
        if row["steps"] == steps:
            return row["energy_distance"]
    return float("nan")


lines = ["| density | straightness CFM / reflow / OT-CFM | ED 1 step CFM / reflow / OT-CFM | reflow better by | "
         "ED 2 steps CFM / reflow / OT-CFM | reflow better by | ED 20 steps CFM / reflow / OT-CFM | ED noise |",
         "|---|---|---|---|---|---|---|---|"]
beats = True
for r in rows:
    m = r["models"]
    names = [n for n in ("CFM", "Reflow", "OT-CFM") if n in m]
    s = " / ".join("%.3g" % m[n]["straightness"] for n in names)
    cells = [r["dataset"], s]
    for k in (1, 2, 20):
        cells.append(" / ".join("%.3g" % ed(m[n], k) for n in names))
        if k in (1, 2):
            # Below the noise level the ratio is only a lower bound.
            noise = r.get("energy_distance_noise", 0.0)
            cfm, reflow = ed(m["CFM"], k), ed(m["Reflow"], k)
            beats = beats and cfm > reflow
            ratio = cfm / max(reflow, noise)
            text = "%.0fx" % ratio if ratio >= 10 else "%.2gx" % ratio
            cells.append(("≥ " if reflow < noise else "") + text)
    cells.append("%.2g" % r["energy_distance_noise"] if "energy_distance_noise" in r else "")
    lines.append("| " + " | ".join(cells) + " |")
for r in rows:
    m = r["models"]
    if "in_square_fraction" in m["CFM"]["few_step"][0]:
        names = [n for n in ("CFM", "Reflow", "OT-CFM") if n in m]
        lines.append("")
        lines.append("%s, fraction of samples inside the squares (1, 2, 4, 8, 20 Euler steps):" % r["dataset"])
        lines.append("")
        lines.append("| model | " + " | ".join(str(x["steps"]) for x in m["CFM"]["few_step"]) + " |")
        lines.append("|---|" + "---|" * len(m["CFM"]["few_step"]))
        for n in names:
            lines.append("| %s | " % n + " | ".join("%.3f" % x["in_square_fraction"] for x in m[n]["few_step"]) + " |")
lines.append("")
lines.append("Reflow beats CFM at 1 and 2 steps on every density above: %s." % ("yes" if beats else "NO"))
text = "\n".join(lines) + "\n"
with open(os.path.join(out, "summary.md"), "w") as f:
    f.write(text)
print(text)
