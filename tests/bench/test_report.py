"""Report generation: files, plots, the guarantees matrix, the advice and --compare."""

from __future__ import annotations

import copy
import json
import random
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from queuekit_bench.compare import compare, render_comparison
from queuekit_bench.figures import figure
from queuekit_bench.report import write_report
from queuekit_bench.report.advice import advise, recommend
from queuekit_bench.report.matrix import KEPT, NOT_MEASURED, NOT_PROMISED, VIOLATED, guarantees
from queuekit_bench.report.svg import Axis, tick_label
from queuekit_bench.report.terminal import summary_table
from queuekit_bench.schema import validate

from tests.bench.benchdata import backend, sample_document


def test_report_files_are_written_and_self_contained(tmp_path: Path) -> None:
    written = write_report(sample_document(), tmp_path)
    assert {p.name for p in written} == {"results.json", "report.md", "index.html", "plots"}
    assert validate(json.loads((tmp_path / "results.json").read_text())) == []
    html = (tmp_path / "index.html").read_text()
    assert html.count("<svg") == 5
    assert "<script" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html), "index.html must open from disk without the network"
    for svg in (tmp_path / "plots").glob("*.svg"):
        ET.fromstring(svg.read_text())  # well-formed XML
    markdown = (tmp_path / "report.md").read_text()
    for heading in ("## Throughput", "## Guarantees matrix", "## Which broker for what", "## Delivery under failure"):
        assert heading in markdown
    assert "![throughput](plots/throughput.svg)" in markdown
    assert "gamma: skipped" not in markdown and "backend not installed: gamma" in markdown


def test_labels_are_escaped_in_html_and_svg(tmp_path: Path) -> None:
    document = sample_document()
    document["backends"][0]["name"] = "<b>&evil"
    write_report(document, tmp_path)
    html = (tmp_path / "index.html").read_text()
    assert "<b>&evil" not in html and "&lt;b&gt;&amp;evil" in html
    ET.fromstring((tmp_path / "plots" / "throughput.svg").read_text())


def test_matrix_verdicts_follow_declaration_and_measurement() -> None:
    kept = guarantees(backend("a", 10.0))
    assert kept["fifo"].verdict == KEPT and kept["at_least_once"].verdict == KEPT
    broken = guarantees(backend("b", 10.0, fifo_inversions=3, lost=2))
    assert broken["fifo"].verdict == VIOLATED and broken["at_least_once"].verdict == VIOLATED
    assert "3 inversions" in broken["fifo"].measured
    unpromised = guarantees(backend("c", 10.0, fifo_inversions=3, caps={"fifo": False}))
    assert unpromised["fifo"].verdict == NOT_PROMISED
    assert kept["transactional_enqueue"].verdict == NOT_MEASURED


def _answer(document: dict[str, object], need: str) -> str:
    entries = [b for b in document["backends"] if b["status"] == "ok"]  # type: ignore[attr-defined, index]
    return next(a.answer for a in advise(entries) if a.need.startswith(need))


def test_advice_is_derived_from_the_figures() -> None:
    assert _answer(sample_document(1000.0, 100.0), "Highest single-job enqueue").startswith("alpha")
    assert _answer(sample_document(100.0, 1000.0), "Highest single-job enqueue").startswith("beta")
    assert "10.0x" in _answer(sample_document(1000.0, 100.0), "Highest single-job enqueue")
    assert _answer(sample_document(p99=1.0), "Lowest p99").startswith("beta")
    assert _answer(sample_document(fifo_inversions=5), "Strict FIFO") == "alpha"
    assert "beta" not in _answer(sample_document(lost=4), "Loses nothing")


def test_advice_says_when_there_is_no_data() -> None:
    document = sample_document()
    for entry in document["backends"][:2]:
        entry["scenarios"].pop("latency")
    assert _answer(document, "Lowest p99") == "no data in this run"


def test_terminal_table_lists_backends_and_skips() -> None:
    text = summary_table(sample_document(fifo_inversions=2))
    assert re.search(r"^alpha\s+1,000 \(50%\)", text, re.M)
    assert "gamma: skipped: backend not installed: gamma" in text
    assert "beta: declared but not kept in this run: fifo" in text


def test_compare_reports_a_broken_guarantee() -> None:
    found = [f for f in compare(sample_document(), sample_document(lost=5)) if f.regression]
    assert ("beta", "guarantee/at_least_once") in [(f.backend, f.figure) for f in found]


def test_axis_ticks_and_labels() -> None:
    axis = Axis(3.0, 4000.0, 0.0, 100.0, log=True)
    assert axis.ticks[0] == 1.0 and axis.ticks[-1] == 10000.0
    assert axis(1.0) == 0.0 and axis(10000.0) == 100.0
    linear = Axis(0.0, 7.3, 0.0, 10.0)
    assert linear.ticks[0] == 0.0 and linear.ticks[-1] >= 7.3
    assert tick_label(2500.0) == "2.5k" and tick_label(3e6) == "3M" and tick_label(0.5) == "0.5"


def _resampled(document: dict[str, Any], rng: random.Random, shift: float = 1.0, spread: float = 0.08,
               runs: int = 5) -> dict[str, Any]:
    """The document with every figure's runs drawn afresh around its median (queuekit's side times ``shift``)."""
    out = copy.deepcopy(document)
    for entry in out["backends"]:
        for result in entry["scenarios"].values():
            for key, fig in list((result.get("figures") or {}).items()):
                ours = [fig["median"] * shift * rng.gauss(1.0, spread) for _ in range(runs)]
                raw = fig.get("raw")
                theirs = [raw["median"] * rng.gauss(1.0, spread) for _ in range(runs)] if raw else None
                result["figures"][key] = figure(ours, fig["unit"], fig["better"], theirs,
                                                raw.get("client") if raw else None)
    return out


def test_compare_two_runs_from_the_same_distribution_find_no_regression() -> None:
    # About 2,600 figures compared, each drawn with 8 % noise. A false alarm is rare, not impossible:
    # over 30 seeds of this loop (78,000 comparisons) there was one (a backlog ratio, whose two noisy
    # sides widen its spread). So the claim is a rate: under 1 in 1,000, about 80 times what was seen.
    rng = random.Random(11)
    base = sample_document(1000.0, 100.0)
    compared, alarms = 0, []
    for _ in range(100):
        found = compare(_resampled(base, rng), _resampled(base, rng))
        compared += len(found)
        alarms += [f.figure for f in found if f.regression]
    assert compared >= 2500
    assert len(alarms) <= compared // 1000, alarms


def test_compare_flags_a_clear_shift_of_one_figure() -> None:
    rng = random.Random(12)
    base = sample_document(1000.0, 100.0)
    old, new = _resampled(base, rng, spread=0.03), _resampled(base, rng, spread=0.03)
    slower = _resampled(base, rng, shift=0.5, spread=0.03)  # every figure of beta at half speed, raw clients unchanged
    new["backends"][1]["scenarios"]["enqueue"]["figures"]["single"] = \
        slower["backends"][1]["scenarios"]["enqueue"]["figures"]["single"]
    found = [f for f in compare(old, new) if f.regression]
    assert [(f.backend, f.figure, f.basis) for f in found] == [("beta", "enqueue/single", "ratio")]
    assert found[0].p_worse <= 0.05
    assert "REGRESSION" in render_comparison(found)


def test_compare_with_too_few_runs_claims_nothing() -> None:
    rng = random.Random(13)
    base = sample_document(1000.0, 100.0)
    found = compare(_resampled(base, rng, runs=2), _resampled(base, rng, shift=0.3, runs=2))
    assert not any(f.regression for f in found)
    assert "too few runs to tell" in render_comparison(found)


def test_recommendations_lead_with_one_answer_per_workload_and_its_figure() -> None:
    document = sample_document(1000.0, 100.0)
    document["backends"][1]["capabilities"]["transactional_enqueue"] = True
    lines = {a.need: a.answer for a in recommend(document["backends"])}
    assert list(lines) == ["Throughput", "Latency", "Durability", "Transactional enqueue", "Ordering"]
    assert lines["Throughput"].startswith("alpha: drained 1,500 jobs/s")
    assert lines["Transactional enqueue"].startswith("beta: ") and "100 jobs/s" in lines["Transactional enqueue"]
    assert "0 FIFO inversions in 200 jobs" in lines["Ordering"]


def test_report_text_a_person_reads(tmp_path: Path) -> None:
    document = sample_document()
    document["environment"]["load_average"] = [1.4169921875, 1.1, 0.95]
    memory = backend("memory", 5000.0, caps={"cross_process": False, "durability": "none"})
    memory["scenarios"]["failure"].update(mode="broker, producer and worker in one process, killed once", lost=548)
    document["backends"].insert(0, memory)
    write_report(document, tmp_path)
    markdown = (tmp_path / "report.md").read_text()
    assert "1.42 1.10 0.95" in markdown and "1.4169921875" not in markdown
    assert "548: memory keeps nothing across a kill" in markdown
    assert "548/3/- (1)*" in summary_table(document) and "memory keeps nothing across a kill" in summary_table(document)
    payload = (tmp_path / "plots" / "payload.svg").read_text()
    assert "Round trips" not in payload and "Jobs/s by message size" in payload
    assert markdown.index("## Which broker for what") < markdown.index("## Summary")
    assert "memory left out" in markdown


def test_a_lone_shared_broker_beside_memory_is_not_called_the_only_one_measured() -> None:
    document = sample_document(1000.0, 100.0)
    alone = [backend("memory", 5000.0, caps={"cross_process": False, "durability": "none"}), document["backends"][0]]
    throughput = {a.need: a.answer for a in recommend(alone)}["Throughput"]
    assert throughput.startswith("alpha: ") and "other processes can share" in throughput
    assert "the only one measured" not in throughput


def test_workflow_figures_reach_the_table_and_their_section(tmp_path: Path) -> None:
    document = sample_document(1000.0, 100.0)
    document["backends"][1]["scenarios"]["workflow"]["result_store"] = "sqlite file beside the run"
    write_report(document, tmp_path)
    markdown = (tmp_path / "report.md").read_text()
    section = markdown[markdown.index("## Workflow: chord fan-out/fan-in"):]
    assert re.search(r"^\| alpha \| 200 \| 2 x 2 \(process\) \| 0\.210 \(0\.200-0\.220\) \| 950 \(900-1,000\) "
                     r"\| 0\.0210 \(0\.0200-0\.0220\) \| broker \|$", section, re.M)
    assert "| beta | 200 |" in section and "| sqlite file beside the run |" in section
    assert "Workflow: chord fan-out/fan-in" in (tmp_path / "index.html").read_text()
    table = summary_table(document)
    assert table.splitlines()[1].rstrip().endswith("chord s")
    assert re.search(r"^alpha\s.*\s0\.210$", table, re.M) and re.search(r"^beta\s.*\s2\.10$", table, re.M)
    advice = {a.need: a.answer for a in advise(document["backends"][:2])}
    assert advice["Fastest chord fan-out/fan-in (workflows)"] == "alpha (0.210 s, 10.0x beta)"
