#!/usr/bin/env python3
"""tools/stack-depth.py - the deepest stack of every public function of the core.

Reads the call-graph files that gcc writes with -fstack-usage -fcallgraph-info=su (one
.ci per core file: every function's frame size and every call it makes), and computes
for each public function (one with external linkage) the largest sum of frames down any
call chain inside the core. Prints a table, worst first, with the chain that reaches the
figure, and fails when a function goes past the bound.

What the figure leaves out, by design (docs/porting.md gives the allowance):
  - the port's functions (port.h) and memset/memcpy/memmove/memcmp: the kernel's own
    code, counted as leaves of 0 bytes;
  - calls through function pointers (pt_walk's callback, vmem's page source, print
    functions): counted as leaves of 0 bytes; the caller's callback runs on top.
The table marks each function whose chain reaches a port or indirect call, with the
stack depth at that call, so a kernel can add its own code's use.

Recursion: a function that calls itself must have a bound in the recursion file
("function depth [group]": at most depth frames of the group's functions on any chain,
e.g. 5 for the page-table walkers, one frame per level); any other cycle fails.
Frames that gcc cannot size statically (VLAs, alloca: "dynamic") fail.

Known offenders (one public function name a line, '#' comments): reported, but they
do not fail the check; one that now fits is reported so its entry can be removed.

usage: stack-depth.py --bound N --recursion FILE --offenders FILE CI...
"""
import argparse
import re
import sys

NODE = re.compile(r'node: \{ title: "([^"]*)" label: "([^"]*)"')
EDGE = re.compile(r'edge: \{ sourcename: "([^"]*)" targetname: "([^"]*)"')
SIZE = re.compile(r'\\n(\d+) bytes \(([a-z, ]+)\)')
INDIRECT = '__indirect_call'


def short(title):
    """core/pt.c:walk_level -> pt.c:walk_level; a global keeps its bare name."""
    return title.rsplit('/', 1)[-1]


def read_list(path, want_pairs):
    """Lines of "name" (or "name depth [group]"), with '#' comments."""
    out = {}
    if path is None:
        return out
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].split()
            if not line:
                continue
            if want_pairs:
                out[line[0]] = (int(line[1]), line[2] if len(line) > 2 else None)
            else:
                out[line[0]] = True
    return out


def squeeze(chain):
    """walk_level > walk_level > walk_level -> walk_level x3"""
    out = []
    for name in chain:
        if out and out[-1][0] == name:
            out[-1][1] += 1
        else:
            out.append([name, 1])
    return ' > '.join(n if k == 1 else '%s x%d' % (n, k) for n, k in out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bound', type=int, default=1024)
    ap.add_argument('--recursion')
    ap.add_argument('--offenders')
    ap.add_argument('--top', type=int, default=0, help='print only the N worst rows')
    ap.add_argument('ci', nargs='+')
    args = ap.parse_args()

    frame = {}      # title -> bytes, for functions defined in the core
    qual = {}       # title -> gcc's qualifier (static, dynamic, bounded)
    calls = {}      # title -> set of titles
    for path in args.ci:
        with open(path) as f:
            for line in f:
                m = NODE.search(line)
                if m:
                    s = SIZE.search(m.group(2))
                    if s:
                        frame[m.group(1)] = int(s.group(1))
                        qual[m.group(1)] = s.group(2)
                    continue
                m = EDGE.search(line)
                if m:
                    calls.setdefault(m.group(1), set()).add(m.group(2))

    recursion = read_list(args.recursion, True)
    offenders = read_list(args.offenders, False)
    errors = []
    for t, q in qual.items():
        if 'dynamic' in q:
            errors.append('%s: frame of unbounded size (%s)' % (short(t), q))

    # A bounded function may use at most its own depth of frames on any chain, and
    # belongs to a group (its own name unless given) whose members together use at
    # most the group's limit ("group:NAME limit" lines; the largest member depth when
    # absent): mutually nested walkers (unmap_apply calling free_subtree, one
    # page-table level each) share the levels.
    bounds, group_limit = {}, {}
    for name, (n, group) in recursion.items():
        if name.startswith('group:'):
            group_limit[name[6:]] = n
    for name, (n, group) in recursion.items():
        if not name.startswith('group:'):
            g = group or name
            bounds[name] = (n, g)
            group_limit[g] = group_limit.get(g, n) if group else n

    memo = {}       # (title, budgets) -> (depth, chain, depth at an outside call)
    onstack = set()

    def depth(t, budgets=()):
        key = (t, budgets)
        if key in memo:
            return memo[key]
        if t not in frame:
            # Outside the core: a port function, a memory function, an indirect call.
            res = (0, [short(t)], 0)
            memo[key] = res
            return res
        name = short(t)
        inner = budgets
        if name in bounds:
            n, group = bounds[name]
            used = dict(budgets)
            own, grp = used.get('fn:' + name, 0), used.get('group:' + group, 0)
            if own >= n or grp >= group_limit[group]:
                return None     # deeper than the bound allows: not a real chain
            used['fn:' + name], used['group:' + group] = own + 1, grp + 1
            inner = tuple(sorted(used.items()))
        elif any(c == t for c in calls.get(t, ())):
            errors.append('%s calls itself: give its depth in the recursion file' % name)
        onstack.add(t)
        best, chain, outside = 0, [], None
        for c in sorted(calls.get(t, ())):
            if c in onstack and short(c) not in bounds:
                if c != t:
                    errors.append('recursion through %s and %s: no bound known'
                                  % (name, short(c)))
                continue
            r = depth(c, inner)
            if r is None:
                continue
            d, ch, o = r
            if d > best or not chain:
                best, chain = d, ch
            if o is not None and (outside is None or o > outside):
                outside = o
        onstack.discard(t)
        own = frame[t]
        res = (own + best, [name] + chain, None if outside is None else own + outside)
        memo[key] = res
        return res

    public = sorted(t for t in frame if '/' not in t and ':' not in t)
    rows = sorted(((depth(t), t) for t in public), key=lambda r: (-r[0][0], r[1]))
    print('%-26s %6s %8s  %s' % ('function', 'stack', 'at-call', 'deepest chain'))
    failed, fixed = [], []
    for n, ((d, chain, outside), t) in enumerate(rows):
        mark = ''
        if d > args.bound:
            mark = ' KNOWN OFFENDER' if t in offenders else ' OVER THE BOUND'
            if t not in offenders:
                failed.append(t)
        elif t in offenders:
            fixed.append(t)
        if args.top == 0 or n < args.top or mark:
            print('%-26s %6d %8s  %s%s' % (t, d, '-' if outside is None else outside,
                                           squeeze(chain), mark))
    worst_ok = max([r[0][0] for r in rows if r[1] not in offenders] or [0])
    print('stack: %d public functions; deepest outside the known offenders: %d bytes '
          '(bound %d)' % (len(rows), worst_ok, args.bound))
    for t in fixed:
        print('stack: %s now fits: remove it from %s' % (t, args.offenders))
    for t in sorted(offenders):
        if t not in frame:
            print('stack: known offender %s is no longer a public function' % t)
    for e in sorted(set(errors)):
        print('stack: ' + e, file=sys.stderr)
    if failed:
        print('stack: over %d bytes: %s' % (args.bound, ' '.join(failed)), file=sys.stderr)
    return 1 if failed or errors else 0


if __name__ == '__main__':
    sys.exit(main())
