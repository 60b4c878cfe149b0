"""The archive part of the bench report: the producer with and without the archive, and replay
against a raw stream reader (measured once per bench, after the runs)."""

from __future__ import annotations

from bench.targets import at_least

REPLAY_TARGET = 0.5


def targets(archive: dict | None) -> list[dict]:
    if not archive:
        return []
    replay = archive["replay"]
    return [at_least(name, replay[key], REPLAY_TARGET) for name, key in (("replay --dry-run vs raw stream reader", "dry_run_ratio"),
                              ("replay --to-queue vs raw read + republish", "to_queue_ratio"))]


def table(archive: dict | None) -> list[str]:
    if not archive:
        return []
    producer, replay = archive["producer"], archive["replay"]
    rows = [f"### Archive: {archive['messages']:,} call records per producer phase", "",
            "| producer | without archive (msg/s) | with archive (msg/s) | with / without |", "|---|--:|--:|--:|"]
    for who, label in (("switchboard", "Switchboard Publisher"), ("raw", "raw pika, pipelined confirms")):
        rows.append(f"| {label} | {producer['without'][who]['msgs_per_s']:,.0f} "
                    f"| {producer['with'][who]['msgs_per_s']:,.0f} | {producer[f'{who}_ratio']:.2f} |")
    rows += ["", f"Replay of the {replay['archived']:,} archived messages:", "",
             "| path | Switchboard (msg/s) | raw baseline (msg/s) | ratio | target |", "|---|--:|--:|--:|--:|",
             f"| read and match (`replay --dry-run` vs bare stream consumer) "
             f"| {replay['replay_dry_run']['msgs_per_s']:,.0f} | {replay['raw_read']['msgs_per_s']:,.0f} "
             f"| {replay['dry_run_ratio']:.2f} | ≥ {REPLAY_TARGET} |",
             f"| read and republish with confirms (`replay --to-queue` vs bare read, then pipelined publish) "
             f"| {replay['replay_to_queue']['msgs_per_s']:,.0f} | {replay['raw_copy']['msgs_per_s']:,.0f} "
             f"| {replay['to_queue_ratio']:.2f} | ≥ {REPLAY_TARGET} |"]
    return [*rows, ""]
