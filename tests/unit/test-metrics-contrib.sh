#!/bin/bash
# contrib/monitoring: the Prometheus rules and the Grafana dashboard are
# well formed and use only series kukeond writes (agent/metrics.c). When
# promtool is installed the rules go through `promtool check rules` too;
# without it (Debian's prometheus package is not installed on the build
# hosts) the structure is checked here: groups, rules with alert, expr,
# severity and summary, durations, balanced PromQL brackets, unique names
# and panel ids, and every kukeon_* name a family the agent renders.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$KUKEON_SRC/tests/lib/kktest.sh"
MON=$KUKEON_SRC/contrib/monitoring
PY=$(command -v python3)

# The families agent/metrics.c declares (a histogram's series add suffixes).
FAMILIES=$(sed -n 's/.*header(out, "\(kukeon_[a-z_]*\)".*/\1/p' "$KUKEON_SRC/agent/metrics.c" | sort -u)

kt_case families_found
kt_check "no families parsed from agent/metrics.c" test "$(wc -w <<<"$FAMILIES")" -ge 10

kt_case rules_are_well_formed
out=$(FAMILIES="$FAMILIES" "$PY" - "$MON/alerts.yaml" <<'PY' 2>&1
import os, re, sys, yaml
fams = set(os.environ["FAMILIES"].split())
def known(name):
    if name in fams:
        return True
    return any(name == f + s for f in fams for s in ("_bucket", "_sum", "_count"))
def balanced(e):
    depth = {"(": 0, "[": 0, "{": 0}
    pairs = {")": "(", "]": "[", "}": "{"}
    inq = False
    for ch in e:
        if ch == '"':
            inq = not inq
        elif inq:
            continue
        elif ch in depth:
            depth[ch] += 1
        elif ch in pairs:
            depth[pairs[ch]] -= 1
            if depth[pairs[ch]] < 0:
                return False
    return not inq and all(v == 0 for v in depth.values())
doc = yaml.safe_load(open(sys.argv[1]))
errs, names = [], set()
assert isinstance(doc, dict) and set(doc) == {"groups"}, "top level: only groups"
for g in doc["groups"]:
    assert set(g) <= {"name", "interval", "rules"} and g.get("name"), g
    for r in g["rules"]:
        a = r.get("alert")
        if not a or a in names:
            errs.append(f"missing or duplicate alert name: {r}")
        names.add(a)
        if set(r) - {"alert", "expr", "for", "labels", "annotations"}:
            errs.append(f"{a}: unknown keys {set(r)}")
        e = r.get("expr")
        if not isinstance(e, str) or not balanced(e):
            errs.append(f"{a}: expr missing or unbalanced: {e!r}")
        if "for" in r and not re.fullmatch(r"\d+[smhd]", str(r["for"])):
            errs.append(f"{a}: bad for: {r['for']}")
        if r.get("labels", {}).get("severity") not in ("warning", "critical"):
            errs.append(f"{a}: severity must be warning or critical")
        if not r.get("annotations", {}).get("summary"):
            errs.append(f"{a}: no summary")
        for m in re.findall(r"\bkukeon_[a-z_]+", e or ""):
            if not known(m):
                errs.append(f"{a}: {m} is not a series kukeond writes")
print("\n".join(errs) if errs else f"{len(names)} rules")
sys.exit(1 if errs else 0)
PY
)
kt_check "$out" test $? -eq 0

kt_case dashboard_is_well_formed
out=$(FAMILIES="$FAMILIES" "$PY" - "$MON/grafana-dashboard.json" <<'PY' 2>&1
import json, os, re, sys
fams = set(os.environ["FAMILIES"].split())
def known(name):
    return name in fams or any(name == f + s for f in fams for s in ("_bucket", "_sum", "_count"))
d = json.load(open(sys.argv[1]))
errs, ids, n = [], set(), 0
for k in ("title", "uid", "panels", "templating", "schemaVersion"):
    if k not in d:
        errs.append(f"no {k}")
for p in d.get("panels", []):
    if p["id"] in ids:
        errs.append(f"duplicate panel id {p['id']}")
    ids.add(p["id"])
    g = p.get("gridPos", {})
    if not all(k in g for k in "xywh") or g["x"] + g["w"] > 24:
        errs.append(f"panel {p['id']}: bad gridPos {g}")
    if p["type"] == "row":
        continue
    if not p.get("targets"):
        errs.append(f"panel {p['id']} ({p.get('title')}): no targets")
    for t in p.get("targets", []):
        n += 1
        for m in re.findall(r"\bkukeon_[a-z_]+", t.get("expr", "")):
            if not known(m):
                errs.append(f"panel {p['id']}: {m} is not a series kukeond writes")
print("\n".join(errs) if errs else f"{len(ids)} panels, {n} queries")
sys.exit(1 if errs else 0)
PY
)
kt_check "$out" test $? -eq 0

kt_case promtool_checks_rules_when_installed
if command -v promtool >/dev/null 2>&1; then
    out=$(promtool check rules "$MON/alerts.yaml" 2>&1)
    kt_check "$out" test $? -eq 0
else
    echo "# promtool not installed: structure checked by rules_are_well_formed only" >&2
    kt_pass
fi

exit $KT_FAILED
