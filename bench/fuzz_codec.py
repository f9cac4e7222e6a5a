"""Coverage-guided fuzzing of everything that reads bytes a modem or a SIM hands us.

One atheris target, dispatching on the first input byte (the rest is the payload):

- ``selector % 4 in (0, 1)``: the payload's octets as hex -> ``decode_pdu(hex, has_smsc=selector % 4 == 0)``;
- ``selector % 4 == 2``: the payload as Latin-1 text -> ``decode_pdu`` (hex parsing, whitespace, filler);
- ``selector % 4 == 3``: the payload is a raw byte stream from a modem -> ``LineFramer.feed`` (whole,
  and for one stream in four again in chunks whose size comes from the selector: the frames must agree),
  then every line through the session's routing order (``UrcAssembler``, ``unsolicited_spec``,
  ``is_final``, ``expects_body``) and through every parser in ``gatewayd.modem.parsing``; PDUs found on
  the way (+CMT bodies, +CMGL / +CMGR entries) go to ``decode_pdu``.

The codec's own error types, per entry point (what the callers catch, and so what keeps the daemon up):

- ``decode_pdu``: ``PduError`` only. ``Modem._decode`` catches exactly ``PduError``; ``list_stored`` calls
  it outside any other handler, so a bare ``ValueError`` or ``IndexError`` would abort a whole listing.
- the single-line parsers (``split_fields``, ``strip_prefix``, ``find_line``, ``parse_csq``,
  ``parse_registration``, ``parse_cops``, ``parse_cpin``, ``parse_csca``, ``parse_cmgs``, ``parse_cmgr``,
  ``parse_storage_notice``, ``parse_cusd``, ``decode_ussd_text``): ``ValueError`` (``PduError`` is one).
  ``Modem`` wraps each call in ``except ValueError``; ``handle_event`` too.
- ``parse_cmgl``, ``parse_pin_attempts``, ``parse_iccid``, ``parse_crsm_iccid``, ``first_plain_line``:
  nothing at all. ``Modem`` calls them with no handler; unreadable input is their ``None`` / rejects.
- ``LineFramer.feed``, ``UrcAssembler.start/feed``, ``unsolicited_spec``, ``is_final``, ``is_late_reply``,
  ``expects_body``, ``claims_of``, ``line_name``: nothing at all. They run on the port's reader thread.

Anything else escaping (or a failed consistency assertion) is a crash: atheris prints the traceback and
saves the input under ``bench/out/fuzz_artifacts/``.

Speed. Every input costs what the code under test costs *with atheris's instrumentation*: a call into
atheris per branch taken (and per comparison). The instrumented framer, a loop over every character of
the stream (twice for one stream in four), took 40 % of the time and gives the fuzzer no guidance worth
having: seeds cover all of its branches, and its only extra "features" were loop counts, i.e. line lengths,
which bloated the corpus. So the framer is imported plain (it is still fed every AT-stream input and both
of its properties are still asserted); ``parsing``, ``gsm7``, ``pdu``, ``urc`` and ``result_codes`` stay
instrumented. The rest is parallelism: ``--workers`` libFuzzer processes (default: 2) share one corpus
directory, each picking up what the others found (libFuzzer's ``-reload``), each trying its share of
``--runs``. This process only starts them, reads their logs and reports the figures (``--json``).

    .venv/bin/python bench/fuzz_codec.py [--runs 1000000] [--workers 2] [--corpus bench/out/fuzz_corpus]
        [--json bench/out/fuzz_codec.json] [-- libFuzzer flags]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import atheris
from report import emit  # bench/report.py: bench/ is the script's own folder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Imported before the instrumented block, so atheris leaves it plain (see "Speed" above).
from gatewayd.modem.framing import Frame, Line, LineFramer

with atheris.instrument_imports():
    from gatewayd.modem import parsing
    from gatewayd.modem.pdu import (
        PduError,
        decode_pdu,
        encode_deliver,
        encode_status_report,
        encode_submit,
    )
    from gatewayd.modem.urc import (
        UrcAssembler,
        claims_of,
        expects_body,
        is_final,
        is_late_reply,
        line_name,
        unsolicited_spec,
    )

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUNS = 1_000_000
DEFAULT_WORKERS = 2
DEFAULT_CORPUS = ROOT / "bench" / "out" / "fuzz_corpus"
ARTIFACTS = ROOT / "bench" / "out" / "fuzz_artifacts"
MAX_LEN = 2048
"""Longest input tried: a 176-octet PDU is 352 hex digits, an AT+CMGL transcript of a few entries ~2 KB."""
FRAMER_MAX_PENDING = 512
"""The harness's framer limit: above the longest PDU line (352 hex digits), so +CMT / +CMGL bodies reach
``decode_pdu`` whole, and below ``MAX_LEN``, so the overflow path (a line dropped) is reached too."""
WORKER_TIMEOUT_PER_RUN = 0.05
"""Seconds a worker may take per input before it is presumed hung (20 inputs/s: far below any real rate)."""
WORKER_TIMEOUT_MIN = 120.0

MODE_PDU_SMSC, MODE_PDU_NO_SMSC, MODE_PDU_TEXT, MODE_AT_STREAM = range(4)
CLAIMING_COMMANDS = ("", "AT+CREG?", "AT+CMGL=4", "AT+CMGR=1", "AT+CUSD=1,\"*100#\",15", "AT+CPIN?")
"""Commands whose claims the router is asked about, picked by the selector: claims change routing."""

LINE_PARSERS: tuple[Callable[[str], object], ...] = (
    parsing.parse_csq, parsing.parse_registration, parsing.parse_cops, parsing.parse_cpin,
    parsing.parse_csca, lambda line: parsing.parse_registration(line, solicited=False),
)
"""Each rejects a line of another prefix at once; on its own prefix it reads the fields."""
ARGS_PARSERS: dict[str, Callable[[str], object]] = {
    "+CMTI": parsing.parse_storage_notice, "+CDSI": parsing.parse_storage_notice,
    "+CUSD": parsing.parse_cusd,
}
"""Parsers handed the arguments of a URC (as ``Modem`` does), chosen by the line's name."""
LIST_PARSERS_RAISING: tuple[Callable[[list[str]], object], ...] = (
    parsing.parse_cmgs, parsing.parse_cmgr, lambda lines: parsing.find_line(lines, "+CSQ:"),
)
LIST_PARSERS_TOTAL: tuple[Callable[[list[str]], object], ...] = (
    parsing.parse_pin_attempts, parsing.parse_iccid, parsing.parse_crsm_iccid, parsing.first_plain_line,
)


def _decode(pdu: str, has_smsc: bool = True) -> None:
    try:
        decode_pdu(pdu, has_smsc=has_smsc)
    except PduError:
        pass


def _frames_in_chunks(data: bytes, size: int) -> list[Frame]:
    framer = LineFramer("fuzz", max_pending=FRAMER_MAX_PENDING)
    frames: list[Frame] = []
    for start in range(0, len(data), size):
        frames.extend(framer.feed(data[start:start + size]))
    return frames


def _parse_line(line: str) -> None:
    for parser in LINE_PARSERS:
        try:
            parser(line)
        except ValueError:
            pass
    args_parser = ARGS_PARSERS.get(line_name(line))
    if args_parser is not None:
        try:
            args_parser(line.split(":", 1)[1])
        except ValueError:
            pass


def _route(lines: list[str], claims: frozenset[str]) -> None:
    """The order ``AtSession._route_locked`` applies, minus the I/O: URCs and bodies must never raise."""
    assembler = UrcAssembler("fuzz")
    for line in lines:
        line_name(line)
        is_late_reply(line, claims)
        expects_body(line)
        if assembler.waiting:
            consumed, urc = assembler.feed(line)
            if urc is not None and urc.pdu is not None:
                _decode(urc.pdu)
            if consumed:
                continue
        if is_final(line):
            continue
        spec = unsolicited_spec(line, claims)
        if spec is not None:
            urc = assembler.start(spec, line)
            if urc is not None and urc.name == "+CUSD":
                try:
                    parsing.parse_cusd(urc.args)
                except ValueError:
                    pass


def _at_stream(selector: int, data: bytes) -> None:
    whole = LineFramer("fuzz", max_pending=FRAMER_MAX_PENDING).feed(data)
    if (selector >> 2) % 4 == 0:  # one stream in four: framing char by char is the costliest step
        chunked = _frames_in_chunks(data, 1 + (selector >> 4) % 7)
        if chunked != whole:
            raise AssertionError(f"frames depend on the read sizes: {whole!r} != {chunked!r}")
    lines = [frame.text.strip() for frame in whole if isinstance(frame, Line)]
    command = CLAIMING_COMMANDS[(selector >> 5) % len(CLAIMING_COMMANDS)]
    _route(lines, claims_of(command))
    for line in lines:
        _parse_line(line)
    for lines_parser in LIST_PARSERS_RAISING:
        try:
            lines_parser(lines)
        except ValueError:
            pass
    for total_parser in LIST_PARSERS_TOTAL:
        total_parser(lines)
    entries, _rejects = parsing.parse_cmgl(lines)
    for entry in entries:
        _decode(entry.pdu)


def test_one_input(data: bytes) -> None:
    if not data:
        return
    selector, payload = data[0], data[1:]
    mode = selector % 4
    if mode in (MODE_PDU_SMSC, MODE_PDU_NO_SMSC):
        _decode(payload.hex(), has_smsc=mode == MODE_PDU_SMSC)
    elif mode == MODE_PDU_TEXT:
        _decode(payload.decode("latin-1"))
    else:
        _at_stream(selector, payload)


PUBLISHED_PDUS = (
    "07912143658709F1040B918100551512F20000111010214365000AE8329BFD4697D9EC37",
    "07912143658709F1040B918100551512F200F4111010214365000AE8329BFD4697D9EC37DE",
    "07912160130320F6440B916171056429F5000021405291651569320500034C0202E9E8301D4447"
    "9741F0B09C3E0785E56590BCCC0ED3CB6410FD0D7ABBCBA0B0FB4D4797E52E10",
    "002100098136397339F70008224F60597D4F60597D4F60597D4F60597D4F60597D4F60597D4F60597D4F60597D4F60",
    "07914356060013F1065A098136397339F7219011700463802190117004638030",
    "0019000B917228001011F100003170013193008017D474BB3CA787DB70903DCC4E93D3F43C885E9ED301",
)
"""From tests/codec/test_vectors.py and test_garbage.py (python-gsmmodem, smspdudecoder vectors)."""


def _seed_pdus() -> list[str]:
    when = datetime(2024, 3, 31, 1, 59, 58, tzinfo=UTC)
    pdus = list(PUBLISHED_PDUS)
    pdus += [p.hex for p in encode_submit("+4915112345678", "Hallo {Welt} € " * 12, concat_reference=7,
                                          request_status_report=True)]
    pdus += encode_deliver("MyBank", "Баланс 👍🏽" * 20, timestamp=when, concat_reference=300,
                                           concat_16bit=True, smsc="+4917200000")
    pdus.append(encode_status_report(42, "+15550001", sc_timestamp=when, discharge_time=when, status=0))
    return pdus


AT_TRANSCRIPTS = (
    b"AT+CSQ\r\r\n+CSQ: 21,99\r\n\r\nOK\r\n",
    b"\r\n+CREG: 2,1,\"1A2B\",\"00C0FFEE\",7\r\n\r\nOK\r\n+CREG: 5\r\n",
    b"\r\n+CMTI: \"SM\",3\r\n\r\n+CUSD: 0,\"Balance\r\n12.00 EUR\",15\r\n",
    b"\r\n+CUSD: 0,\"AA180C3602\",15\r\n\r\n+CUSD: 1,\"04110430043B0430043D0441\",72\r\n",
    b"\r\n+CPIN: SIM PIN\r\n\r\n+CPINR: \"SIM PIN\",3,3\r\n\r\n^CPIN: SIM PIN,3,10,3,10,3\r\nOK\r\n",
    b"\r\n+CCID: 89490200001234567890\r\n\r\n+CRSM: 144,0,\"98940200001032547698\"\r\nOK\r\n",
    b"AT+CMGS=23\r\r\n> 0011000B919471...\x1a\r\n+CMGS: 17\r\n\r\nOK\r\n",
    b"\r\n+CMS ERROR: 500\r\n\x00\x00\xff\xfeRDY\r\n+CSCA: \"+4917200000\",145\r\n",
    b"\r\n+CMGL: 1,1,,300\r\n" + b"07" * (FRAMER_MAX_PENDING // 2 + 8) + b"\r\nOK\r\n",
)


def _seed_corpus(corpus: Path) -> None:
    """Valid inputs for every mode, so the fuzzer starts deep in the decoders instead of at their guards."""
    corpus.mkdir(parents=True, exist_ok=True)
    if any(corpus.iterdir()):
        return
    seeds: list[bytes] = []
    pdus = _seed_pdus()
    for pdu in pdus:
        seeds.append(bytes([MODE_PDU_SMSC]) + bytes.fromhex(pdu))
        seeds.append(bytes([MODE_PDU_TEXT]) + pdu.encode())
    seeds.append(bytes([MODE_PDU_NO_SMSC]) + bytes.fromhex(pdus[0])[8:])
    for number, transcript in enumerate(AT_TRANSCRIPTS):
        seeds.append(bytes([MODE_AT_STREAM | (number << 2)]) + transcript)
    listing = "".join(f"+CMGL: {i},1,,{len(p) // 2 - 1}\r\n{p}\r\n" for i, p in enumerate(pdus[:3]))
    seeds.append(bytes([MODE_AT_STREAM]) + f"\r\n{listing}OK\r\n".encode())
    seeds.append(bytes([MODE_AT_STREAM | 0x40]) + f"\r\n+CMGR: 0,,24\r\n{pdus[0]}\r\nOK\r\n".encode())
    seeds.append(bytes([MODE_AT_STREAM]) + f"\r\n+CMT: ,36\r\n{pdus[0]}\r\n+CDS: 25\r\n{pdus[4]}\r\n".encode())
    for number, seed in enumerate(seeds):
        (corpus / f"seed-{number:03d}").write_bytes(seed)


# -- one worker: libFuzzer in this process ---------------------------------------------------------------


def fuzz_here(runs: int, corpus: Path, artifacts: Path, seed: int, libfuzzer_args: list[str]) -> None:
    """Run libFuzzer in this process until ``runs`` inputs were tried (corpus replay included)."""
    logging.disable(logging.CRITICAL)  # the framer's and assembler's warnings would dominate the run time
    artifacts.mkdir(parents=True, exist_ok=True)
    fuzzer_argv = [sys.argv[0], f"-atheris_runs={runs}", f"-max_len={MAX_LEN}", f"-artifact_prefix={artifacts}/",
                   "-print_final_stats=1", f"-seed={seed}", *libfuzzer_args, str(corpus)]
    atheris.Setup(fuzzer_argv, test_one_input)
    atheris.Fuzz()


# -- the parent: workers, their logs, the figures ----------------------------------------------------------

STATUS_LINE = re.compile(r"^#(\d+)\s+(\w+)\s+cov: (\d+) ft: (\d+) corp: (\d+)/", re.MULTILINE)
DONE_LINE = re.compile(r"^Done (\d+) in (\d+) second", re.MULTILINE)
FINAL_STAT = re.compile(r"^stat::(\w+):\s+(\d+)", re.MULTILINE)
INSTRUMENTED = re.compile(r"^INFO: Instrumenting (\S+)", re.MULTILINE)
CRASH_MARKERS = ("Uncaught Python exception", "ERROR: libFuzzer", "Test unit written to")


@dataclass
class Worker:
    """One libFuzzer process, its share of the runs and where its output goes."""

    index: int
    runs: int
    seed: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    seconds: float = 0.0

    def figures(self) -> dict[str, Any]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        statuses = STATUS_LINE.findall(text)
        inited = next((s for s in statuses if s[1] == "INITED"), statuses[0] if statuses else None)
        last = statuses[-1] if statuses else None
        stats = {name: int(value) for name, value in FINAL_STAT.findall(text)}
        done = DONE_LINE.search(text)
        inputs = int(done.group(1)) if done else stats.get("number_of_executed_units", int(last[0]) if last else 0)
        return {
            "seed": self.seed, "runs": self.runs, "inputs": inputs, "seconds": round(self.seconds, 1),
            "exec_per_s": round(inputs / self.seconds) if self.seconds else None,
            "exit_code": self.proc.returncode if self.proc else None,
            "cov_start": int(inited[2]) if inited else None, "ft_start": int(inited[3]) if inited else None,
            "cov_end": int(last[2]) if last else None, "ft_end": int(last[3]) if last else None,
            "corpus_end": int(last[4]) if last else None,
            "new_units": stats.get("new_units_added"), "peak_rss_mb": stats.get("peak_rss_mb"),
            "crashed": any(marker in text for marker in CRASH_MARKERS),
            "instrumented": INSTRUMENTED.findall(text), "log": str(self.log),
        }


def run_workers(args: argparse.Namespace) -> dict[str, Any]:
    """Start ``--workers`` libFuzzer processes on one shared corpus and wait for all of them."""
    _seed_corpus(args.corpus)
    args.artifacts.mkdir(parents=True, exist_ok=True)
    args.log_dir.mkdir(parents=True, exist_ok=True)
    corpus_start = sum(1 for _ in args.corpus.iterdir())
    artifacts_before = set(args.artifacts.iterdir())
    share, extra = divmod(args.runs, args.workers)
    workers = [Worker(i, share + (1 if i < extra else 0), args.seed + i, args.log_dir / f"fuzz_codec-worker-{i}.log")
               for i in range(args.workers)]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    for worker in workers:
        argv = [sys.executable, str(Path(__file__).resolve()), "--worker", "--runs", str(worker.runs),
                "--corpus", str(args.corpus), "--artifacts", str(args.artifacts), "--seed", str(worker.seed),
                "--", *args.libfuzzer_args]
        with worker.log.open("wb") as log:
            worker.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    for worker in workers:
        assert worker.proc is not None
        timeout = max(WORKER_TIMEOUT_MIN, worker.runs * WORKER_TIMEOUT_PER_RUN)
        try:
            worker.proc.wait(max(0.0, began + timeout - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.proc.kill()
            worker.proc.wait()
        worker.seconds = time.monotonic() - began
        print(f"fuzz worker {worker.index}: exit {worker.proc.returncode} after {worker.seconds:.0f} s",
              file=sys.stderr, flush=True)
    wall = max(worker.seconds for worker in workers)
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    per_worker = [worker.figures() for worker in workers]
    inputs = sum(w["inputs"] for w in per_worker)
    new_artifacts = sorted(str(p) for p in set(args.artifacts.iterdir()) - artifacts_before)
    crashes = sum(1 for w in per_worker if w["crashed"])
    return {
        "benchmark": "fuzz_codec", "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "atheris": _version("atheris"), "runs_requested": args.runs, "workers": args.workers, "max_len": MAX_LEN,
        "corpus": str(args.corpus), "corpus_files_start": corpus_start,
        "corpus_files_end": sum(1 for _ in args.corpus.iterdir()),
        "instrumented": sorted({name for w in per_worker for name in w.pop("instrumented")}),
        "inputs": inputs, "seconds": round(wall, 1), "exec_per_s": round(inputs / wall) if wall else None,
        "cpu_seconds": round(cpu, 1), "inputs_per_cpu_second": round(inputs / cpu) if cpu else None,
        "cov_start": min((w["cov_start"] for w in per_worker if w["cov_start"] is not None), default=None),
        "ft_start": min((w["ft_start"] for w in per_worker if w["ft_start"] is not None), default=None),
        "cov_end": max((w["cov_end"] for w in per_worker if w["cov_end"] is not None), default=None),
        "ft_end": max((w["ft_end"] for w in per_worker if w["ft_end"] is not None), default=None),
        "crashes": crashes, "new_artifacts": new_artifacts,
        "ok": crashes == 0 and inputs >= args.runs and all(w["exit_code"] == 0 for w in per_worker),
        "per_worker": per_worker,
    }


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="inputs to try in all (corpus replay included)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="libFuzzer processes sharing the corpus")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus directory (grows)")
    parser.add_argument("--artifacts", type=Path, default=ARTIFACTS, help="where crashing inputs are saved")
    parser.add_argument("--seed", type=int, default=1, help="libFuzzer seed of the first worker (next: +1, ...)")
    parser.add_argument("--log-dir", type=Path, default=ROOT / "bench" / "out", help="the workers' logs go here")
    parser.add_argument("--json", type=Path, help="write the figures to this file too")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("libfuzzer_args", nargs="*", help="passed to libFuzzer after '--'")
    args = parser.parse_args()
    if args.worker:
        fuzz_here(args.runs, args.corpus, args.artifacts, args.seed, args.libfuzzer_args)
        return 0
    figures = run_workers(args)
    emit(figures, args.json, shown={k: v for k, v in figures.items() if k != "per_worker"})
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
