# Combines the per-run lines (stderr) of one or more `Bench -- mmoe-synthetic` runs: per p, the mean ± sample sd over
# the seeds of each model's mean test MSE (from the 4-decimal per-task values) and the paired shared-bottom − MMoE gap (and its median).
# python3 Bench/results/mmoe-synthetic/combine.py Bench/results/mmoe-synthetic/seeds1-5.txt Bench/results/mmoe-synthetic/seeds6-10.txt
import re,sys,statistics as st
runs={}
for f in sys.argv[1:]:
    for line in open(f):
        m=re.match(r"p (\S+) seed (\d+) (\S+): test MSE ([\d.]+), ([\d.]+)",line)
        if m: runs[(float(m[1]),int(m[2]),m[3])]=(float(m[4])+float(m[5]))/2
ps=sorted({k[0] for k in runs})
def ms(v): return f"{st.mean(v):.4f} ± {st.stdev(v):.4f}" if len(v)>1 else f"{v[0]:.4f}"
print("| p | seeds | shared-bottom | OMoE | MMoE | shared-bottom − MMoE (paired) | its median | MMoE better in |")
print("|---|---|---|---|---|---|---|---|")
for p in ps:
    seeds=sorted({k[1] for k in runs if k[0]==p and all((p,k[1],m) in runs for m in ("shared-bottom","OMoE","MMoE"))})
    col={m:[runs[(p,s,m)] for s in seeds] for m in ("shared-bottom","OMoE","MMoE")}
    gap=[a-b for a,b in zip(col["shared-bottom"],col["MMoE"])]
    print(f"| {p} | {len(seeds)} | {ms(col['shared-bottom'])} | {ms(col['OMoE'])} | {ms(col['MMoE'])} | {ms(gap)} | {st.median(gap):.4f} | {sum(g>0 for g in gap)} of {len(gap)} |")
