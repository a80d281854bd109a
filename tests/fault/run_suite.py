"""run_suite.py - run one end-to-end suite (tests/test_*.py) with named
tests left out or picked, for tests/fault/test_fault.sh.

    python3 run_suite.py TESTS_DIR/test_chat.py [--exclude ID]... [ID...]

An ID is the end of a test's id, e.g. ChatServerTest.test_long_lines or
just test_long_lines.  With IDs only those tests run; --exclude leaves
tests out (each one is printed, with the reason the caller gave).
Exit status 0 if every test run passed, 1 otherwise, 2 on bad usage or
if an ID matches no test.
"""

import importlib.util
import os
import sys
import unittest


def flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flatten(t)
        else:
            yield t


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = os.path.abspath(argv[1])
    excluded, picked = [], []
    args = argv[2:]
    while args:
        a = args.pop(0)
        if a == '--exclude' and args:
            excluded.append(args.pop(0))
        else:
            picked.append(a)
    sys.path.insert(0, os.path.dirname(path))
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    tests = list(flatten(unittest.defaultTestLoader.loadTestsFromModule(module)))

    def matches(test, ident):
        tid = test.id()
        return tid == ident or tid.endswith('.' + ident)

    for ident in excluded + picked:
        if not any(matches(t, ident) for t in tests):
            print('run_suite: no test %s in %s' % (ident, path), file=sys.stderr)
            return 2
    if picked:
        tests = [t for t in tests if any(matches(t, i) for i in picked)]
    kept = []
    for t in tests:
        if any(matches(t, i) for i in excluded):
            print('excluded: %s' % t.id())
        else:
            kept.append(t)
    result = unittest.TextTestRunner(verbosity=2).run(unittest.TestSuite(kept))
    return 0 if result.wasSuccessful() else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
