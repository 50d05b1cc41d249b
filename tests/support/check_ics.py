#!/usr/bin/env python3
"""Checks calendar files with a real calendar library (icalendar) and the
rules of RFC 5545 (and RFC 5546 for METHOD) that make calendar apps update an
event instead of adding a second one.

    check_ics.py FILE.ics...

For every file: it parses; lines end in CRLF and are at most 75 octets;
VERSION 2.0, a PRODID and a METHOD (PUBLISH, REQUEST or CANCEL; a mailed
REQUEST has one UID, an ORGANIZER and an ATTENDEE, and a CANCEL and a
PUBLISH an ORGANIZER, RFC 5546); a VTIMEZONE for
every TZID used, Asia/Taipei at +08:00. For every VEVENT: a UID, a DTSTAMP
in UTC, a SEQUENCE >= 0, DTSTART and DTEND with TZID=Asia/Taipei that the
library places at +08:00, the end after the start, a SUMMARY, a DESCRIPTION
ending with the summons notice, and STATUS:CANCELLED under METHOD:CANCEL.

Prints one JSON line per event (file, method, uid, sequence, status, start
as ISO 8601 with its offset) for the caller to compare with what it meant
to write; problems go to stderr and make the exit code 1.
"""

import datetime
import json
import sys

import icalendar

NOTICE = "庭期以法院傳票或通知書為準。"
TAIPEI = datetime.timedelta(hours=8)


def check(path, problems):
    raw = open(path, "rb").read()
    where = lambda what: problems.append(f"{path}: {what}")
    if b"\n" in raw.replace(b"\r\n", b""):
        where("a line ends without CR")
    for n, line in enumerate(raw.split(b"\r\n"), 1):
        if len(line) > 75:
            where(f"line {n} is {len(line)} octets (more than 75)")
    cal = icalendar.Calendar.from_ical(raw)
    if str(cal.get("VERSION")) != "2.0":
        where("VERSION is not 2.0")
    if not cal.get("PRODID"):
        where("no PRODID")
    method = str(cal.get("METHOD", ""))
    if method not in ("PUBLISH", "REQUEST", "CANCEL"):
        where(f"METHOD `{method}`")
    if method == "REQUEST":
        uids = {str(ev.get("UID", "")) for ev in cal.walk("VEVENT")}
        if len(uids) != 1:
            where(f"METHOD:REQUEST with {len(uids)} UIDs (RFC 5546: one)")
        for ev in cal.walk("VEVENT"):
            if not ev.get("ORGANIZER") or not ev.get("ATTENDEE"):
                where("METHOD:REQUEST without ORGANIZER and ATTENDEE (RFC 5546 3.2.2)")
    if method == "CANCEL":
        for ev in cal.walk("VEVENT"):
            if not ev.get("ORGANIZER"):
                where("METHOD:CANCEL without ORGANIZER (RFC 5546 3.2.5)")
    if method == "PUBLISH":
        for ev in cal.walk("VEVENT"):
            if not ev.get("ORGANIZER"):
                where("METHOD:PUBLISH without ORGANIZER (RFC 5546 3.2.1)")
    zones = {}
    for tz in cal.walk("VTIMEZONE"):
        offsets = {o.get("TZOFFSETTO").td for o in tz.walk() if o.get("TZOFFSETTO")}
        zones[str(tz["TZID"])] = offsets
    if zones.get("Asia/Taipei") != {TAIPEI}:
        where(f"no VTIMEZONE Asia/Taipei at +08:00 only: {zones}")
    events = []
    for ev in cal.walk("VEVENT"):
        uid = str(ev.get("UID", ""))
        if not uid:
            where("an event without UID")
        stamp = ev.get("DTSTAMP")
        if stamp is None or stamp.dt.utcoffset() != datetime.timedelta(0):
            where(f"{uid}: DTSTAMP missing or not UTC")
        seq = ev.get("SEQUENCE")
        if seq is None or int(seq) < 0:
            where(f"{uid}: SEQUENCE missing or negative")
        times = {}
        for name in ("DTSTART", "DTEND"):
            prop = ev.get(name)
            if prop is None:
                where(f"{uid}: no {name}")
                continue
            tzid = prop.params.get("TZID")
            if tzid != "Asia/Taipei" or tzid not in zones:
                where(f"{uid}: {name} TZID `{tzid}` (zones: {sorted(zones)})")
            when = prop.dt
            if not isinstance(when, datetime.datetime) or when.utcoffset() != TAIPEI:
                where(f"{uid}: {name} {when!r} is not placed at +08:00")
            times[name] = when
        if len(times) == 2 and not times["DTEND"] > times["DTSTART"]:
            where(f"{uid}: DTEND not after DTSTART")
        if not str(ev.get("SUMMARY", "")):
            where(f"{uid}: no SUMMARY")
        if not str(ev.get("DESCRIPTION", "")).endswith(NOTICE):
            where(f"{uid}: DESCRIPTION does not end with the summons notice")
        status = str(ev.get("STATUS", ""))
        if method == "CANCEL" and status != "CANCELLED":
            where(f"{uid}: METHOD:CANCEL with STATUS `{status}`")
        events.append({
            "file": str(path),
            "method": method,
            "uid": uid,
            "sequence": int(seq) if seq is not None else None,
            "status": status,
            "start": times["DTSTART"].isoformat() if "DTSTART" in times else None,
        })
    if not events:
        where("no VEVENT")
    return events


def main():
    problems = []
    for path in sys.argv[1:]:
        try:
            for ev in check(path, problems):
                print(json.dumps(ev, ensure_ascii=False))
        except Exception as e:  # a file the library cannot read at all
            problems.append(f"{path}: {type(e).__name__}: {e}")
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems or len(sys.argv) < 2 else 0


if __name__ == "__main__":
    raise SystemExit(main())
