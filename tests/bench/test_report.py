"""Report generation: files, plots, the guarantees matrix, the advice and --compare."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from queuekit_bench.compare import compare, render_comparison
from queuekit_bench.report import write_report
from queuekit_bench.report.advice import advise
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


def test_compare_flags_only_changes_beyond_the_noise() -> None:
    old = sample_document(1000.0, 100.0)
    assert not any(f.regression for f in compare(old, sample_document(1000.0, 100.0)))
    # beta's queuekit rate falls to a third while its raw client stays put: the ratio regresses
    slower = sample_document(1000.0, 100.0)
    slower["backends"][1]["scenarios"]["enqueue"]["figures"]["single"] = backend("x", 33.0)["scenarios"]["enqueue"][
        "figures"]["single"]
    slower["backends"][1]["scenarios"]["enqueue"]["figures"]["single"]["raw"] = old["backends"][1]["scenarios"][
        "enqueue"]["figures"]["single"]["raw"]
    slower["backends"][1]["scenarios"]["enqueue"]["figures"]["single"]["ratio"]["median"] = 0.165
    found = [f for f in compare(old, slower) if f.regression]
    assert [(f.backend, f.figure, f.basis) for f in found] == [("beta", "enqueue/single", "ratio")]
    assert "REGRESSION" in render_comparison(found)


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
