"""Independent reference for dv's drift statistics: SciPy and NumPy.

Reads a JSON list of cases (argv[1]) that train/drift's test wrote, computes
each with SciPy/NumPy, and writes the results as JSON to stdout. Written
from SciPy's documented API, not from dv's code.
"""
import json
import sys

import numpy as np
from scipy import special, stats
from scipy.spatial import distance


def sturges(ref, cur):
    return np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")


def fill(p):
    p = p.copy()
    nz = p[p != 0]
    m = nz.min()
    p[p == 0] = m / 10**6 if m <= 0.0001 else 0.0001
    return p


def shares(ref, cur, kind):
    if kind == "bins":
        edges = sturges(ref, cur)
        return (np.histogram(ref, edges)[0] / len(ref),
                np.histogram(cur, edges)[0] / len(cur))
    keys = sorted(set(ref) | set(cur))
    r = np.array([sum(1 for v in ref if v == k) for k in keys]) / len(ref)
    c = np.array([sum(1 for v in cur if v == k) for k in keys]) / len(cur)
    return r, c


def run(c):
    op = c["op"]
    a = np.array(c.get("a", []), dtype=float)
    b = np.array(c.get("b", []), dtype=float)
    if op == "ks2":
        r = stats.ks_2samp(a, b)
        return [float(r.statistic), float(r.pvalue)]
    if op == "kstwo":
        return [float(stats.kstwo.sf(c["x"], c["n"]))]
    if op == "smirnov":
        return [float(special.smirnov(c["n"], c["x"]))]
    if op == "kolmogorov":
        return [float(special.kolmogorov(c["x"]))]
    if op == "gammaq":
        return [float(special.gammaincc(c["a_"], c["x"]))]
    if op == "chi2sf":
        return [float(stats.chi2.sf(c["x"], c["df"]))]
    if op == "normsf":
        return [float(stats.norm.sf(c["x"]))]
    if op == "chisquare":
        ref_keys = {}
        # a, b are category codes: expected = reference shares * n_cur
        keys = sorted(set(a) | set(b))
        obs = np.array([np.sum(b == k) for k in keys], dtype=float)
        exp = np.array([np.sum(a == k) for k in keys], dtype=float) * (len(b) / len(a))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = stats.chisquare(obs, exp)
        return [float(r.statistic), float(r.pvalue)]
    if op == "ztest":
        x1, n1, x2, n2 = c["x1"], c["n1"], c["x2"], c["n2"]
        p1, p2 = x1 / n1, x2 / n2
        p = (p1 * n1 + p2 * n2) / (n1 + n2)
        z = (p1 - p2) / np.sqrt(p * (1 - p) * (1.0 / n1 + 1.0 / n2))
        return [float(z), float(2 * stats.norm.sf(abs(z)))]
    if op == "wasserstein":
        return [float(stats.wasserstein_distance(a, b) / max(np.std(a), 0.001))]
    if op == "js":
        r, q = shares(a, b, c["kind"])
        return [float(distance.jensenshannon(r, q))]
    if op == "psi":
        r, q = shares(a, b, c["kind"])
        r, q = fill(r), fill(q)
        return [float(np.sum((r - q) * np.log(r / q)))]
    if op == "sturges":
        return [float(v) for v in sturges(a, b)]
    raise ValueError(op)


def enc(v):
    if v != v:
        return "nan"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    return v


cases = json.load(open(sys.argv[1]))
json.dump([[enc(v) for v in run(c)] for c in cases], sys.stdout)
