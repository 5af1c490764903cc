#!/usr/bin/python3
"""One line per CTest test from its JUnit file (ctest --output-junit), for tools/test.sh:

    STATUS<TAB>NAME<TAB>REASON    STATUS: passed, failed or skipped

A test is skipped only when CTest skipped it on its own say (SKIP_RETURN_CODE,
SKIP_REGULAR_EXPRESSION); its reason is the first line of its output that says
"skip" (each skipping test prints one), else CTest's. Any other test that did
not run (a fixture's setup failed, a required file is missing) counts as failed.
"""
import re
import sys
import xml.etree.ElementTree as ET


def main():
    for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
        name, status = case.get("name"), case.get("status")
        out = case.findtext("system-out") or ""
        note = case.find("skipped")
        message = note.get("message", "") if note is not None else ""
        if status == "run":
            print(f"passed\t{name}\t")
        elif status == "notrun" and message.startswith("SKIP_"):
            reason = next((line.strip() for line in out.splitlines()
                           if re.search(r"\bskip(ped)?:", line, re.I)), message)
            print(f"skipped\t{name}\t{reason[:300]}")
        else:
            print(f"failed\t{name}\t{'not run: ' + message if status == 'notrun' else ''}")


if __name__ == "__main__":
    main()
