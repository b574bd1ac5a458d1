"""P12 reference: the drift tests of dv drift's default algorithm done with
pandas + SciPy on the same two CSV files (usage: drift_ref.py REF CUR).
Prints one JSON object: read_seconds (pandas' C parser reading both files
on one core, the "one core reads the CSV" reference) and columns (column ->
[method, statistic])."""
import json
import sys
import time

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

start = time.perf_counter()
ref = pd.read_csv(sys.argv[1])
cur = pd.read_csv(sys.argv[2])
read_seconds = time.perf_counter() - start
out = {}
for col in ref.columns:
    r = ref[col].dropna()
    c = cur[col].dropna()
    numeric = pd.api.types.is_numeric_dtype(r)
    k = len(pd.concat([r, c]).unique())
    if len(r) <= 1000:
        if numeric and k > 5:
            out[col] = ["ks", float(stats.ks_2samp(r, c).pvalue)]
        else:
            keys = sorted(set(r.unique()) | set(c.unique()))
            rc, cc = r.value_counts(), c.value_counts()
            obs = [cc.get(key, 0) for key in keys]
            exp = [rc.get(key, 0) * len(c) / len(r) for key in keys]
            out[col] = ["chisquare", float(stats.chisquare(obs, exp).pvalue)]
    elif numeric and k > 5:
        out[col] = ["wasserstein", float(stats.wasserstein_distance(r, c) / max(np.std(r), 0.001))]
    else:
        keys = sorted(set(r.unique()) | set(c.unique()))
        rs, cs = r.value_counts(normalize=True), c.value_counts(normalize=True)
        out[col] = ["jensenshannon", float(distance.jensenshannon([rs.get(x, 0) for x in keys], [cs.get(x, 0) for x in keys]))]
json.dump({"read_seconds": read_seconds, "columns": out}, sys.stdout)
