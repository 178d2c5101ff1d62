#!/usr/bin/env python3
"""The import graph of src/, from the code's own `use` lines and `crate::`/`super::` paths.

Prints the graph of top-level modules (who imports whom, with how many file-to-file imports),
then checks what DESIGN.md ("Code layout and layering") states, and exits non-zero when one
rule is broken:
  1. the layers: LAYERS below names every top-level module of src/ (every `pub mod` of
     lib.rs, every file and folder of src/), and DESIGN.md's layer table and lib.rs's `//!`
     module list name them in the same order;
  2. no upward edge: a module imports only modules listed below it in LAYERS;
  3. no cycle between files;
  4. parents and children: no file imports its `mod.rs` parent (a `mod.rs` only declares and
     re-exports; what siblings share lives in a file of its own), and a file that imports its
     `name.rs` parent takes from it only items that `name.rs` itself defines (the type its
     children extend, such as `PostgresStore`), never what it re-exports.
Unit-test children (`#[cfg(test)] mod tests;` or `mod proptests;`, and an inline
`#[cfg(test)] mod tests { .. }`) import their parent by design and are not layers: they are left
out. A test-only helper that is not a unit test (the in-memory store) is checked like any file.

  python3 scripts/import_graph.py            # the graph and the verdict
  python3 scripts/import_graph.py --mermaid  # the top-level graph as a Mermaid flowchart
"""
import pathlib
import re
import sys
from collections import defaultdict

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
DESIGN = ROOT / "DESIGN.md"
# Top to bottom: a module may import only modules after it (main is the binary's root).
LAYERS = ["main", "cli", "demo", "bench", "app", "http", "auth", "actors", "metrics", "store",
          "client", "retention", "query", "event", "telemetry"]
DEFINITION = r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:struct|enum|fn|trait|type|const|static|union|macro_rules!)\s+{}\b"


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
    tree = re.sub(r"\s+as\s+\w+", "", tree)  # `volume as volume_sql` names `volume`
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
    return [tree]


def check_layers():
    """Rule 1: LAYERS, src/, lib.rs and DESIGN.md's layer table name the same modules, in order."""
    broken = []
    below_main = LAYERS[1:]
    lib = (SRC / "lib.rs").read_text()
    declared = re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", lib, re.M)
    on_disk = {p.stem for p in SRC.iterdir() if p.is_dir() or p.suffix == ".rs"} - {"lib", "main"}
    for name, found in (("lib.rs's `mod` lines", set(declared)), ("src/", on_disk)):
        for missing in sorted(found - set(below_main)):
            broken.append(f"{missing} is a module in {name} but not in LAYERS")
        for extra in sorted(set(below_main) - found):
            broken.append(f"{extra} is in LAYERS but not a module in {name}")
    # lib.rs's `//!` list: "//! - [`cli`]: ..." lines, top to bottom.
    listed = re.findall(r"^//! - \[`(\w+)`\]", lib, re.M)
    if listed != below_main:
        broken.append(f"lib.rs's module list {listed} is not LAYERS {below_main}")
    # DESIGN.md: the table under "## Code layout and layering" whose header is "| layer | module |".
    text = DESIGN.read_text()
    section = text.split("## Code layout and layering", 1)[-1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    if not rows or not rows[0].replace(" ", "").startswith("|layer|module|"):
        broken.append("DESIGN.md has no `| layer | module |` table under \"Code layout and layering\"")
    else:
        table = []
        for row in rows[2:]:
            cells = row.split("|")
            table += [m for m in re.findall(r"`(\w+)(?:\.rs|/)`", cells[2])]
        if table != below_main:
            broken.append(f"DESIGN.md's layer table lists {table}, not LAYERS {below_main}")
    return broken


def main():
    files = sorted(SRC.rglob("*.rs"))
    modules = {module_path(f): f for f in files}
    children = defaultdict(set)
    test_only = set()  # unit-test children: `#[cfg(test)] mod tests;`, `mod proptests;`
    for f in files:
        declarations = re.findall(r"((?:#\[cfg\(test\)\]\s*)?)^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;",
                                  f.read_text(), re.M)
        for attribute, child in declarations:
            children[module_path(f)].add(child)
            if attribute and child.endswith("tests"):
                test_only.add(module_path(f) + (child,))

    def resolve(current, path):
        """The module a path names, and the item it then names in that module (or None)."""
        segments = [s for s in path.split("::") if s]
        if not segments:
            return None, None
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
            return None, None  # an external crate or a local name
        target, item = base, None
        for segment in rest:
            if target + (segment,) in modules:
                target = target + (segment,)
            else:
                item = segment
                break
        # The crate root (lib.rs) only declares modules: naming it is not an import.
        if target not in modules or target == ():
            return None, None
        return target, item

    edges = defaultdict(set)
    parent_items = defaultdict(set)  # (child, ancestor) -> items the child takes from it
    for f in files:
        current = module_path(f)
        if f.name == "tests.rs" or any(current[:i] in test_only for i in range(1, len(current) + 1)):
            continue  # a unit-test child imports its parent by design; it is not a layer
        text = strip_comments(f.read_text())
        # An inline unit-test module (at the end of a file, by convention) is not a layer either.
        text = re.split(r"#\[cfg\(test\)\]\s*mod\s+tests\s*\{", text)[0]
        paths = []
        for tree in re.findall(r"\buse\s+([^;]+);", text):
            paths += expand_use(tree)
        paths += re.findall(r"\b((?:crate|super|self)(?:::\w+)+)", text)
        for path in paths:
            target, item = resolve(current, path)
            if target is None or target == current:
                continue
            edges[current].add(target)
            if len(target) < len(current) and current[:len(target)] == target:
                parent_items[(current, target)].add(item or "*")

    top = lambda m: m[0] if m else "main"
    top_edges = defaultdict(int)
    for src, dsts in edges.items():
        for dst in dsts:
            if top(src) != top(dst):
                top_edges[(top(src), top(dst))] += 1

    broken = check_layers()
    for (a, b), n in sorted(top_edges.items()):
        if a not in LAYERS or b not in LAYERS:
            broken.append(f"module not in LAYERS: {a if a not in LAYERS else b}")
        elif LAYERS.index(a) >= LAYERS.index(b):
            broken.append(f"upward edge: {a} -> {b} ({n} imports)")

    # Rule 4: parents and children.
    relative = lambda m: str(modules[m].relative_to(SRC.parent))
    for (child, parent), items in sorted(parent_items.items()):
        parent_file = modules[parent]
        if parent_file.name == "mod.rs":
            broken.append(f"{relative(child)} imports its mod.rs parent {relative(parent)}")
            continue
        parent_text = strip_comments(parent_file.read_text())
        for item in sorted(items):
            if item == "*" or item in ("self", "super") or not re.search(DEFINITION.format(re.escape(item)), parent_text, re.M):
                broken.append(f"{relative(child)} takes `{item}` from its parent {relative(parent)}, "
                              "which does not define it there")

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
        names = ", ".join(relative(m) for m in component)
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
        print("files that import their parent (the items they take from it):")
        for (child, parent), items in sorted(parent_items.items()):
            print(f"  {relative(child)} -> {relative(parent)}: {', '.join(sorted(items))}")
        print(f"{len(files)} files, {sum(len(d) for d in edges.values())} file imports")
    for problem in broken:
        print(f"BROKEN: {problem}", file=sys.stderr)
    if not broken:
        print("layers as DESIGN.md and lib.rs list them; no upward edge, no cycle; "
              "children take from a parent only what it defines", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
