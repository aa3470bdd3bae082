"""What the stream decided, as files replay's can be compared with.

python -m bench.audit.stream_export crm --db sqlite:////tmp/s39-audit/crm.db --out s-a.csv
    the CRM's owner of every interaction (streams.crm.event_assignments_from_crm; an unowned one empty)
python -m bench.audit.stream_export links --topic irl-s39aud1-links --out links-order.jsonl
    the events of the links log in the order the ordered stage applied them, as contract JSON lines
    (irl replay of this file mints the stream's customer ids)
"""

from __future__ import annotations

import argparse
import json

from confluent_kafka import Consumer, TopicPartition


def crm(db: str, out: str) -> None:
    from streams.crm import event_assignments_from_crm

    owners = event_assignments_from_crm(db)
    with open(out, "w", encoding="utf-8") as f:
        f.write("event_id,customer_id\n")
        for eid, cid in sorted(owners.items()):
            f.write(f"{eid},{cid or ''}\n")
    print(f"{len(owners)} interactions, {sum(1 for c in owners.values() if c is None)} without an owner")


def links(topic: str, out: str, bootstrap: str) -> None:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "s39-audit-peek", "enable.auto.commit": False})
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.assign([TopicPartition(topic, 0, lo)])
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        while hi > lo:
            m = c.poll(5)
            if m is None:
                break
            if m.error():
                continue
            kind = dict(m.headers() or []).get("irl.kind")
            if kind == b"batch":
                for r in json.loads(m.value() or b"[]"):
                    ev = {
                        "event_id": r[0],
                        "touchpoint": r[1],
                        "occurred_at": r[2],
                        "source_id": r[3],
                        "interaction": r[4],
                    }
                    for k, x in zip(("phone", "email", "name"), r[5:8], strict=True):
                        if x is not None:
                            ev[k] = x
                    ev["attributes"] = r[8]
                    f.write(json.dumps(ev, ensure_ascii=False) + "\n")
                    n += 1
            if (m.offset() or 0) >= hi - 1:
                break
    c.close()
    print(f"{n} events from {topic} [{lo}, {hi})")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("crm")
    a.add_argument("--db", required=True)
    a.add_argument("--out", required=True)
    b = sub.add_parser("links")
    b.add_argument("--topic", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--bootstrap", default="127.0.0.1:9092")
    args = ap.parse_args()
    if args.cmd == "crm":
        crm(args.db, args.out)
    else:
        links(args.topic, args.out, args.bootstrap)


if __name__ == "__main__":
    main()
