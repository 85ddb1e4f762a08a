"""Checks an Autobahn|Testsuite report (index.json) against the expected deviations.

Usage: check.py INDEX_JSON AGENT DEVIATIONS_FILE RUN
Prints one summary line per section and every unexpected case; exits 1 if there is any.
OK and INFORMATIONAL pass; NON-STRICT, FAILED, UNIMPLEMENTED and the rest fail unless listed.
"""
import collections
import json
import sys


def main():
    index_path, agent, deviations_path, run = sys.argv[1:5]
    with open(index_path) as handle:
        results = json.load(handle)[agent]
    expected = {}
    with open(deviations_path) as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#"):
                case, runs, reason = line.split(None, 2)
                if runs == "all" or run in runs.split(","):
                    expected[case] = reason

    def order(case):
        return [int(part) for part in case.split(".")]

    sections = collections.defaultdict(collections.Counter)
    unexpected = []
    for case in sorted(results, key=order):
        behavior = results[case]["behavior"]
        sections[case.split(".")[0]][behavior] += 1
        if behavior not in ("OK", "INFORMATIONAL") and case not in expected:
            unexpected.append((case, behavior, results[case].get("behaviorClose")))
    print(f"autobahn {run}: {len(results)} cases")
    for section in sorted(sections, key=int):
        counts = ", ".join(f"{count} {behavior}" for behavior, count in sorted(sections[section].items()))
        print(f"  section {section}: {counts}")
    for case, behavior, close in unexpected:
        print(f"  UNEXPECTED {case}: {behavior} (close: {close})")
    listed = [case for case in expected if case in results and results[case]["behavior"] not in ("OK", "INFORMATIONAL")]
    if listed:
        print(f"  expected deviations seen: {', '.join(listed)}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
