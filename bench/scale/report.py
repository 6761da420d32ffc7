"""The scale run's tables (Markdown, printed and written beside the JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write(results: Path, size: str, data: dict[str, Any]) -> None:
    results.mkdir(parents=True, exist_ok=True)
    (results / f"scale-{size}.json").write_text(json.dumps(data, indent=2) + "\n")
    (results / f"scale-{size}.md").write_text(markdown(data) + "\n")


def markdown(data: dict[str, Any]) -> str:
    run = data["run"]
    lines = [f"Scale run ({run['size']}): {run['cpus']} cores, {run['hosts']}, "
             f"{run['seconds']} s; Redis through Sentinel, PostgreSQL with a synchronous "
             f"standby, fsync on; provider answers after {run['provider_latency_ms']:.0f} ms.",
             ""]
    lines += _intake(data["intake"])
    lines += _rising(data["rising"])
    lines += _standby(data["synchronous_standby"])
    lines += _footprint(data["intake"], data["stored"])
    lines += _workers(data["workers"])
    if "noop" in data:
        lines += _noop(data["noop"], data["workers"])
    return "\n".join(lines)


def _intake(intake: dict[str, Any]) -> list[str]:
    concurrency = intake["api_single"]["concurrency"]
    single, raw1 = intake["api_single"], intake["raw_single"]
    batch, raw100 = intake["api_batch"], intake["raw_batch"]
    alone = intake["raw_one_loop"]
    return [
        f"Intake at a concurrency of {concurrency} (closed loops, measured in turn, side by "
        "side):",
        "",
        "| path | bets/s | p50 | p99 | p99 / p50 | ratio | cores used |",
        "|---|---|---|---|---|---|---|",
        _row("`POST /bets`, one bet a request", single,
             f"{_x(single, alone)} one one-row loop; {_x(single, raw1)} {concurrency} of them"),
        *([_row(f"`POST /bets`, one bet a request, {intake['api_processes']} API processes "
                "(one a core)", intake["api_single_per_core"],
                f"{_x(intake['api_single_per_core'], alone)} one one-row loop; "
                f"{_x(intake['api_single_per_core'], raw1)} {concurrency} of them")]
          if "api_single_per_core" in intake else []),
        _row("raw INSERT, one row a transaction, one loop", alone, ""),
        _row(f"raw INSERT, one row a transaction, {concurrency} loops", raw1, ""),
        _row("`POST /bets`, 100 bets a request", batch,
             f"{_x(batch, raw100)} the 100-row loop"),
        _row("raw INSERT, 100 rows a transaction", raw100, ""),
        "",
    ]


def _rising(steps: list[dict[str, Any]]) -> list[str]:
    lines = ["Single bets at rising concurrency (each step beside the raw one-row loop):", "",
             "| concurrency | API bets/s | p50 | p99 | raw one-row bets/s | ratio "
             "| cores used during the API's run |",
             "|---|---|---|---|---|---|---|"]
    for step in steps:
        api, raw = step["api"], step["raw"]
        cores = _cores(api)
        lines.append(f"| {api['concurrency']} | {api['bets_per_second']:,.0f} | "
                     f"{api['p50_ms']:.1f} ms | {api['p99_ms']:.1f} ms | "
                     f"{raw['bets_per_second']:,.0f} | {_x(api, raw)} | {cores} |")
    return [*lines, ""]


def _standby(cost: dict[str, Any]) -> list[str]:
    lines = ["What the synchronous standby costs (the primary waiting for it at each commit, "
             "or not), at the fixed concurrency:", "",
             "| primary | raw one-row bets/s | p99 | API single bets/s | p99 |",
             "|---|---|---|---|---|"]
    for label in ("asynchronous", "synchronous"):
        raw, api = cost[label]["raw_single"], cost[label]["api_single"]
        lines.append(f"| {label} | {raw['bets_per_second']:,.0f} | {raw['p99_ms']:.1f} ms | "
                     f"{api['bets_per_second']:,.0f} | {api['p99_ms']:.1f} ms |")
    sync, not_sync = cost["synchronous"], cost["asynchronous"]
    lines.append(f"| synchronous vs not | {_x(sync['raw_single'], not_sync['raw_single'])} | | "
                 f"{_x(sync['api_single'], not_sync['api_single'])} | |")
    return [*lines, ""]


def _footprint(intake: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    single, batch = intake["api_single"], intake["api_batch"]
    return [
        "What a bet leaves behind (measured around the API's runs above; the tables at the "
        f"end, {stored['bets']:,} bets and {stored['events']:,} audit events):", "",
        "| | single bets | batches of 100 |", "|---|---|---|",
        f"| WAL written a bet placed | {single['wal_bytes_per_bet']:,} B "
        f"| {batch['wal_bytes_per_bet']:,} B |",
        f"| Redis memory a bet in flight (its share of a wake-up) "
        f"| {single['redis_bytes_per_bet']:,} B | {batch['redis_bytes_per_bet']:,} B |",
        f"| bets table with its indexes, a bet | {stored['bets_table_bytes_per_bet']:,} B | |",
        f"| audit events with their indexes, a bet "
        f"| {stored['events_table_bytes_per_bet']:,} B | |",
        ""]


def _workers(sets: list[dict[str, Any]]) -> list[str]:
    lines = ["Checks per second by worker hosts and processes (a host: a network namespace; "
             "every host shares the machine's cores):", "",
             "| hosts | processes a host | checks/s | vs 1 process | CPU a check | WAL a check "
             "| cores used |",
             "|---|---|---|---|---|---|---|"]
    base = sets[0]["checks_per_second"] if sets else 0
    for each in sets:
        cores = ", ".join(f"{name} {share:.2f}" for name, share in each["cores"]
                          if share >= 0.02)
        ratio = f"{each['checks_per_second'] / base:.2f}x" if base else "-"
        lines.append(f"| {each['hosts']} | {each['processes_per_host']} | "
                     f"{each['checks_per_second']:,.0f} | {ratio} | "
                     f"{cpu_ms_per_check(each):.2f} ms | "
                     f"{each.get('wal_bytes_per_check', 0):,} B | {cores} |")
    return [*lines, "", "CPU a check: the provider workers', PostgreSQL's and Redis' cores over "
                    "the checks a second (the main bench's figure; the simulator plays the "
                    "provider and is left out).", ""]


# What a check's CPU counts: betguard's side, as the main bench's "CPU per check".
CHECK_CPU = ("provider worker", "postgres", "redis")


def cpu_ms_per_check(each: dict[str, Any]) -> float:
    cores = sum(share for name, share in each["cores"] if name in CHECK_CPU)
    return 1000 * cores / each["checks_per_second"] if each["checks_per_second"] else 0.0


def _noop(noop: dict[str, Any], sets: list[dict[str, Any]]) -> list[str]:
    alike = [each for each in sets if (each["hosts"], each["processes_per_host"])
             == (noop["hosts"], noop["processes_per_host"])]
    line = (f"No-op Celery tasks on this stack ({noop['tasks']:,} drained by "
            f"{noop['processes_per_host']} worker processes on one host, as many threads as "
            f"the provider workers): {noop['tasks_per_second']:,.0f} tasks/s")
    if alike:
        ratio = alike[0]["checks_per_second"] / noop["tasks_per_second"]
        line += (f"; the checks of the same workers, {alike[0]['checks_per_second']:,.0f}/s, "
                 f"are {ratio:.2f}x it")
    return [line + ".", ""]


def _row(name: str, load: dict[str, Any], ratio: str) -> str:
    spread = load["p99_ms"] / load["p50_ms"] if load["p50_ms"] else 0.0
    return (f"| {name} | {load['bets_per_second']:,.0f} | {load['p50_ms']:.1f} ms | "
            f"{load['p99_ms']:.1f} ms | {spread:.2f} | {ratio} | {_cores(load)} |")


def _cores(load: dict[str, Any]) -> str:
    """The busiest processes' cores over the measured window."""
    return ", ".join(f"{name} {share:.2f}" for name, share in load["cores"] if share >= 0.02)


def _x(value: dict[str, Any], reference: dict[str, Any]) -> str:
    if not reference["bets_per_second"]:
        return "-"
    return f"{value['bets_per_second'] / reference['bets_per_second']:.2f}x"
