"""`python -m bench`: run every phase several times, then write the report.

    python -m bench                      # 3 runs of 50,000 messages (the `make bench` default)
    python -m bench --quick              # smoke check: small N, 1 run, docs left alone
    python -m bench --runs 5 --messages 100000 --cases billing
    python -m bench --profile            # py-spy each consumer: where its time goes
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone

from bench import report
from bench.consumers import CASES, run_baseline, run_switchboard
from bench.env import BenchEnv, bench_env, machine
from bench.latency import bench_latency
from bench.notifications import bench_channel, bench_scheduled_memory
from bench.archive import bench_archive
from bench.gateway import bench_gateway
from bench.plans import bench_plans
from bench.producer import bench_producer
from switchboard.logs import configure_logging

_T0 = time.monotonic()


def progress(text: str) -> None:
    print(f"[bench {time.monotonic() - _T0:6.1f}s] {text}", flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of every phase; figures are medians (3)")
    parser.add_argument("--messages", type=int, default=50_000, help="messages per throughput phase (50000)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"consumers to bench ({','.join(CASES)})")
    parser.add_argument("--no-scaling", action="store_true", help="skip the 2-process runs")
    parser.add_argument("--rate", type=float, default=1000.0, help="latency phase: records/s (1000)")
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="latency phase length (20)")
    parser.add_argument("--notifications", type=int, default=5_000,
                        help="notification requests per channel in the sms/email phases (5000; 0 skips them)")
    parser.add_argument("--scheduled", type=int, default=100_000,
                        help="sends scheduled for later in the memory phase (100000; 0 skips it)")
    parser.add_argument("--no-archive", action="store_true",
                        help="skip the archive phase (producer with and without the archive, replay vs raw reader)")
    parser.add_argument("--plans", type=int, default=100_000,
                        help="plans in the provider document of the ingest phase (100000; 0 skips the feed phases)")
    parser.add_argument("--plan-rows", type=int, default=1_000_000, help="stored plans the search runs over (1000000)")
    parser.add_argument("--gateway-seconds", type=float, default=15.0,
                        help="length of each HTTP gateway load (15; 0 skips the gateway phase)")
    parser.add_argument("--gateway-rate", type=float, default=1000.0, help="POST /events requests/s, paced (1000)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke check: 2,000 messages, 1 run, 5 s of latency; writes bench/results/quick.json only")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--profile", action="store_true",
                        help="instead of measuring: sample each consumer with py-spy and print where its time goes")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.messages, args.latency_seconds, args.no_docs = 1, 2_000, 5.0, True
        args.notifications, args.scheduled = min(args.notifications, 500), min(args.scheduled, 5_000)
        args.plans, args.plan_rows = min(args.plans, 2_000), min(args.plan_rows, 20_000)
        args.gateway_seconds = min(args.gateway_seconds, 3.0)
    unknown = set(args.cases.split(",")) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {', '.join(sorted(unknown))}; known: {', '.join(CASES)}")
    return args


def one_run(env: BenchEnv, args: argparse.Namespace, log_dir) -> dict:
    n = args.messages
    producer = bench_producer(env, n)
    progress(f"  producer: switchboard {producer['switchboard']['msgs_per_s']:,.0f} msg/s, "
             f"raw {producer['raw']['msgs_per_s']:,.0f} msg/s, ratio {producer['ratio']:.2f} "
             f"(raw with the envelope {producer['raw_envelope']['msgs_per_s']:,.0f} msg/s)")
    consumers = {name: bench_consumer(env, name, n, log_dir, not args.no_scaling) for name in args.cases.split(",")}
    latency = bench_latency(env, log_dir, rate=args.rate, seconds=args.latency_seconds,
                            warmup_s=min(2.0, args.latency_seconds / 5))
    progress(f"  latency at {latency['rate_achieved']:,.0f} records/s: p50 {latency['p50_ms']:.0f} ms, "
             f"p95 {latency['p95_ms']:.0f} ms, p99 {latency['p99_ms']:.0f} ms")
    deliveries = {}
    for channel in ("sms", "email") if args.notifications else ():
        deliveries[channel] = bench_channel(env, channel, args.notifications, log_dir)
        result = deliveries[channel]
        progress(f"  {channel}: switchboard {result['switchboard']['msgs_per_s']:,.0f} msg/s, "
                 f"raw {result['raw']['msgs_per_s']:,.0f} msg/s, ratio {result['ratio']:.2f}")
    return {"producer": producer, "consumers": consumers, "latency": latency, "deliveries": deliveries}


def bench_consumer(env: BenchEnv, name: str, n: int, log_dir, scaling: bool) -> dict:
    case = CASES[name]
    raw = run_baseline(env, case, n, log_dir)
    ours = run_switchboard(env, case, n, log_dir)
    result = {"raw": raw, "switchboard": ours, "ratio": round(ours["msgs_per_s"] / raw["msgs_per_s"], 3)}
    line = (f"  {name}: switchboard {ours['msgs_per_s']:,.0f} msg/s, raw {raw['msgs_per_s']:,.0f} msg/s, "
            f"ratio {result['ratio']:.2f}, peak RSS {ours['peak_rss_mb']:.0f} MB")
    if scaling:
        two = run_switchboard(env, case, n, log_dir, processes=2)
        result["two_processes"] = two
        result["scaling"] = round(two["msgs_per_s"] / ours["msgs_per_s"], 3)
        line += f"; 2 processes {two['msgs_per_s']:,.0f} msg/s ({result['scaling']:.2f}x)"
    progress(line)
    for phase in (raw, ours, result.get("two_processes")):
        if phase and (phase["left_in_queue"] or phase["dead_lettered"]):
            progress(f"  warning: {name}: {phase['left_in_queue']} left in queue, "
                     f"{phase['dead_lettered']} dead-lettered")
    return result


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    configure_logging("WARNING", "console")  # the bench's own publishers: problems only
    started = datetime.now(timezone.utc)
    log_dir = report.RESULTS / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    if args.profile:
        return profile(args)
    progress(f"{args.runs} run(s) of {args.messages:,} messages; consumers: {args.cases}; logs in {log_dir}")
    with bench_env() as env:
        progress(f"vhost {env.vhost}, database {env.database_url.rsplit('/', 1)[-1]}")
        host = machine(env)
        runs = []
        for number in range(1, args.runs + 1):
            progress(f"run {number}/{args.runs}")
            runs.append(one_run(env, args, log_dir))
        scheduled = None
        if args.scheduled:
            scheduled = bench_scheduled_memory(env, args.scheduled, log_dir)
            progress(f"  {args.scheduled:,} sends scheduled: peak RSS consumer {scheduled['consumer_peak_rss_mb']:.0f} MB, "
                     f"dispatcher {scheduled['dispatcher_peak_rss_mb']:.0f} MB")
        plans = bench_plans(env, args.plans, args.plan_rows, log_dir) if args.plans else None
        if plans:
            progress(f"  provider feed: {plans['ingest']['plans_per_s']:,.0f} plans/s end to end "
                     f"({plans['ingest']['ratio']:.3f}x raw parse), poller peak RSS "
                     f"{plans['ingest']['poller_peak_rss_mb']:.0f} MB; search p99 {plans['search']['p99_ms']:.2f} ms")
        gateway = None
        if args.gateway_seconds:  # after the plans: its search runs over the plans stored there
            gateway = bench_gateway(env, log_dir, rate=args.gateway_rate, seconds=args.gateway_seconds)
            progress(f"  gateway: single events p99 {gateway['single']['p99_ms']:.0f} ms at "
                     f"{gateway['single']['rate_achieved']:,.0f} req/s; batches {gateway['batches']['events_per_s']:,.0f} "
                     f"events/s; search {gateway['search']['requests_per_s']:,.0f} req/s, p99 "
                     f"{gateway['search']['p99_ms']:.0f} ms")
        archive = None if args.no_archive else bench_archive(env, args.messages)
        if archive:
            progress(f"  archive: producer with/without {archive['producer']['switchboard_ratio']:.2f} "
                     f"(raw {archive['producer']['raw_ratio']:.2f}); replay dry run "
                     f"{archive['replay']['dry_run_ratio']:.2f}x raw reader, to a queue "
                     f"{archive['replay']['to_queue_ratio']:.2f}x raw copy")
    results = {
        "date": started.strftime("%Y-%m-%d"),
        "started_at": started.isoformat(timespec="seconds"),
        "machine": host,
        "scheduled_memory": scheduled,
        "archive": archive,
        "plans": plans,
        "gateway": gateway,
        "settings": {"runs": args.runs, "messages": args.messages, "rate": args.rate,
                     "notifications": args.notifications, "scheduled": args.scheduled, "plans": args.plans,
                     "plan_rows": args.plan_rows,
                     "latency_seconds": args.latency_seconds, "cases": args.cases.split(","),
                     "quick": args.quick},
        "runs": runs,
    }
    results["summary"] = report.summarize(runs, scheduled, archive, plans, gateway)
    path = report.write_json(results, "quick.json" if args.quick else "latest.json")
    progress(f"wrote {path.relative_to(report.ROOT)}")
    if not args.no_docs:
        progress(f"wrote {report.write_doc(results).relative_to(report.ROOT)}")
    print(report.markdown(results))
    return 0  # a benchmark: missed targets are reported, not failed


def profile(args: argparse.Namespace) -> int:
    from bench.profile import profile_case

    out_dir = report.RESULTS / "profiles"
    with bench_env() as env:
        for name in args.cases.split(","):
            progress(f"profiling {name} over {args.messages:,} messages (py-spy)")
            print(profile_case(env, name, args.messages, out_dir), flush=True)
    progress(f"raw samples in {out_dir.relative_to(report.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
