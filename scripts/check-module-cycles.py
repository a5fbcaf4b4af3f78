#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Fails when the modules of a directory depend on each other in a cycle.

A module is a .c/.h pair; module A depends on B when A.c or A.h includes "B.h" and B.h is in
the same directory. With -o OBJDIR the graph is taken from the built objects instead: A
depends on B when A.o references a symbol B.o defines (nm), which also sees calls through a
declaration in a shared header. Prints every cycle (a strongly connected component of more
than one module) and exits 1 if there is one. With -v, prints the graph. Usage:
    scripts/check-module-cycles.py [-v] [DIR...]      (default: daemon)
    scripts/check-module-cycles.py [-v] -o OBJDIR     (e.g. build/daemon)
"""
import glob
import os
import re
import subprocess
import sys


def graph(d):
    g = {}
    for f in sorted(os.listdir(d)):
        if not f.endswith(('.c', '.h')):
            continue
        m = f[:-2]
        deps = g.setdefault(m, set())
        with open(os.path.join(d, f), encoding='utf-8') as fh:
            for line in fh:
                inc = re.match(r'\s*#\s*include\s+"([^"/]+)\.h"', line)
                if inc and inc.group(1) != m and os.path.exists(os.path.join(d, inc.group(1) + '.h')):
                    deps.add(inc.group(1))
    return g


def symbol_graph(objdir):
    defs, undef = {}, {}
    for o in sorted(glob.glob(os.path.join(objdir, '*.o'))):
        m = os.path.basename(o)[:-2]
        undef[m] = set()
        out = subprocess.run(['nm', o], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            f = line.split()
            if len(f) == 3 and f[1] in 'TDBRC':
                defs[f[2]] = m
            elif len(f) == 2 and f[0] == 'U':
                undef[m].add(f[1])
    return {m: {defs[s] for s in u if s in defs and defs[s] != m} for m, u in undef.items()}


def cycles(g):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                out.append(sorted(scc))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def main(argv):
    verbose = '-v' in argv
    args = [a for a in argv if a != '-v']
    if args[:1] == ['-o']:
        if len(args) != 2:
            print('usage: check-module-cycles.py [-v] -o OBJDIR', file=sys.stderr)
            return 2
        graphs = [(args[1], symbol_graph(args[1]))]
    else:
        graphs = [(d, graph(d)) for d in (args or ['daemon'])]
    bad = 0
    for d, g in graphs:
        if verbose:
            for m in sorted(g):
                print(f'{d}/{m} -> {" ".join(sorted(g[m]))}')
        for c in cycles(g):
            print(f'{d}: dependency cycle: {" ".join(c)}')
            bad = 1
    return bad


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
