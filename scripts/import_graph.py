#!/usr/bin/env python3
"""The import graph of src/, from the code's own `use` lines and `crate::`/`super::` paths.

Prints the graph of top-level modules (who imports whom, with how many file-to-file imports),
then checks two rules and exits non-zero when one is broken:
  1. no upward edge: a module imports only modules listed below it in LAYERS;
  2. no cycle between files (a `mod.rs` that re-exports its children is fine, as long as the
     children do not import it back).

  python3 scripts/import_graph.py            # the graph and the verdict
  python3 scripts/import_graph.py --mermaid  # the top-level graph as a Mermaid flowchart
"""
import pathlib
import re
import sys
from collections import defaultdict

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"
# Top to bottom: a module may import only modules after it (main is the binary's root).
LAYERS = ["main", "cli", "demo", "bench", "app", "http", "auth", "actors", "metrics", "store",
          "client", "publisher", "retention", "query", "event", "telemetry"]


def module_path(file):
    parts = list(file.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "mod":
        parts = parts[:-1]
    if parts == ["lib"]:
        return ()
    return tuple(parts)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def expand_use(tree):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]."""
    tree = re.sub(r"\s+", "", tree)
    depth, start = 0, None
    for i, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                prefix, inner = tree[:start], tree[start + 1:i]
                items, level, last = [], 0, 0
                for j, c in enumerate(inner + ","):
                    if c in "{":
                        level += 1
                    elif c == "}":
                        level -= 1
                    elif c == "," and level == 0:
                        if inner[last:j]:
                            items.append(inner[last:j])
                        last = j + 1
                return [p for item in items for p in expand_use(prefix + item)]
    return [re.sub(r"\bas\b.*", "", tree)]


def main():
    files = sorted(SRC.rglob("*.rs"))
    modules = {module_path(f): f for f in files}
    children = defaultdict(set)
    for f in files:
        for child in re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", f.read_text(), re.M):
            children[module_path(f)].add(child)

    def resolve(current, path):
        segments = [s for s in path.split("::") if s and s != "*"]
        if not segments:
            return None
        head = segments[0]
        if head == "crate":
            base, rest = (), segments[1:]
        elif head == "self":
            base, rest = current, segments[1:]
        elif head == "super":
            base, rest = current, segments
            while rest and rest[0] == "super":
                base, rest = base[:-1], rest[1:]
        elif head in children[current]:
            base, rest = current, segments
        else:
            return None  # an external crate or a local name
        target = base
        for segment in rest:
            if target + (segment,) in modules:
                target = target + (segment,)
            else:
                break
        # The crate root (lib.rs) only declares modules: naming it is not an import.
        return target if target in modules and target != () else None

    edges = defaultdict(set)
    for f in files:
        current = module_path(f)
        if f.name == "tests.rs":
            continue  # a unit-test child imports its parent by design; it is not a layer
        text = strip_comments(f.read_text())
        # An inline unit-test module (at the end of a file, by convention) is not a layer either.
        text = re.split(r"#\[cfg\(test\)\]\s*mod\s+tests\s*\{", text)[0]
        paths = []
        for tree in re.findall(r"\buse\s+([^;]+);", text):
            paths += expand_use(tree)
        paths += re.findall(r"\b((?:crate|super|self)(?:::\w+)+)", text)
        for path in paths:
            target = resolve(current, path)
            if target is not None and target != current:
                edges[current].add(target)

    top = lambda m: m[0] if m else "main"
    top_edges = defaultdict(int)
    for src, dsts in edges.items():
        for dst in dsts:
            if top(src) != top(dst):
                top_edges[(top(src), top(dst))] += 1

    broken = []
    for (a, b), n in sorted(top_edges.items()):
        if a not in LAYERS or b not in LAYERS:
            broken.append(f"module not in LAYERS: {a if a not in LAYERS else b}")
        elif LAYERS.index(a) >= LAYERS.index(b):
            broken.append(f"upward edge: {a} -> {b} ({n} imports)")

    # Tarjan's strongly connected components over files.
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop(); on_stack.discard(w); component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(component)
    sys.setrecursionlimit(10_000)
    for v in list(modules):
        if v not in index:
            visit(v)
    for component in cycles:
        names = ", ".join(str(modules[m].relative_to(SRC.parent)) for m in component)
        broken.append(f"cycle of {len(component)} files: {names}")

    if "--mermaid" in sys.argv:
        print("flowchart TD")
        for (a, b), n in sorted(top_edges.items(), key=lambda e: (LAYERS.index(e[0][0]) if e[0][0] in LAYERS else 99, e[0][1])):
            print(f"    {a} -->|{n}| {b}")
    else:
        print("top-level modules, top to bottom, with the modules each imports (file imports):")
        for layer in LAYERS:
            outgoing = sorted((b, n) for (a, b), n in top_edges.items() if a == layer)
            if outgoing or any(b == layer for (_, b) in top_edges):
                print(f"  {layer:<10} -> " + (", ".join(f"{b} ({n})" for b, n in outgoing) or "(nothing)"))
        print(f"{len(files)} files, {sum(len(d) for d in edges.values())} file imports")
    for problem in broken:
        print(f"BROKEN: {problem}", file=sys.stderr)
    if not broken:
        print("no upward edge, no cycle", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
