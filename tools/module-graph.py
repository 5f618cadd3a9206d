#!/usr/bin/env python3
"""The import graph of server/src between its top-level modules (an area, a rule, or a piece of
infrastructure: `credentials`, `flows`, `hot`, `store`, ...), read from every `crate::<module>`
path in the code, tests included. Prints each module with the modules it uses, then every cycle
(a group of modules that reach each other); exits 1 if there is one.

    python3 tools/module-graph.py [server/src]
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "server/src")
uses: dict[str, set[str]] = {}
for path in sorted(root.rglob("*.rs")):
    rel = path.relative_to(root)
    module = rel.parts[0].removesuffix(".rs")
    if module in ("lib", "main"):
        continue
    text = path.read_text()
    # Comments name modules without using them.
    code = "\n".join(line.split("//")[0] for line in text.splitlines())
    targets = set(re.findall(r"\bcrate::([a-z_]+)", code))
    # `use super::…` from a file's own module stays inside it; nested `crate::` paths are read above.
    uses.setdefault(module, set()).update(t for t in targets if t != module)

modules = sorted(uses)
for m in modules:
    print(f"{m:12} -> {', '.join(sorted(uses[m])) or '(nothing of the crate)'}")

# Tarjan's strongly connected components: a component of more than one module is a cycle.
index: dict[str, int] = {}
low: dict[str, int] = {}
stack: list[str] = []
on_stack: set[str] = set()
cycles: list[list[str]] = []


def visit(v: str) -> None:
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in uses.get(v, ()):
        if w not in uses:
            continue
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        component = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            component.append(w)
            if w == v:
                break
        if len(component) > 1:
            cycles.append(sorted(component))


sys.setrecursionlimit(10_000)
for m in modules:
    if m not in index:
        visit(m)

print()
if cycles:
    for c in cycles:
        print("cycle:", " <-> ".join(c))
    sys.exit(1)
print(f"no cycle between the {len(modules)} modules of {root}")
