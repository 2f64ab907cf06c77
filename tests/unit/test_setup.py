"""scripts/setup.sh: the llama.cpp build it decides on (run for real by every fresh setup; the
CUDA build is not run here: there is no GPU), and the build that is installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SETUP = REPO / "scripts" / "setup.sh"
AMX_XEON = ("flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 bmi2 avx512f "
            "avx512dq avx512cd avx512bw avx512vl avx512_vnni avx512_bf16 amx_tile amx_int8 "
            "amx_bf16\n")
#: AVX-512 without VNNI (Skylake-SP Xeons).
SKYLAKE_X = ("flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 bmi2 avx512f "
             "avx512dq avx512cd avx512bw avx512vl\n")
HASWELL = "flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 bmi2\n"
OLD_CPU = "flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 popcnt\n"


def decide(tmp_path: Path, cpuinfo: str = AMX_XEON, path: str | None = None,
           **env: str) -> dict[str, str]:
    info = tmp_path / "cpuinfo"
    info.write_text(cpuinfo)
    proc = subprocess.run(["bash", str(SETUP), "--print-llama-build"], capture_output=True,
                          text=True, timeout=30,
                          env={**os.environ, "INBOX_OCR_CPUINFO": str(info),
                               "INBOX_OCR_ARCH": "x86_64", "PATH": path or os.environ["PATH"],
                               **env})
    assert proc.returncode == 0, proc.stderr
    return dict(line.split(" ", 1) for line in proc.stdout.splitlines())


def test_the_cpu_build_fits_the_cpus_family_and_is_never_native(tmp_path: Path) -> None:
    build = decide(tmp_path)
    # An AMX Xeon gets AVX-512 with VNNI, never the AMX kernels (they crashed there).
    assert build["variant"] == "x86-64-avx512" and build["version"] == "0.3.36"
    args = build["cmake"].split()
    assert "-DGGML_NATIVE=OFF" in args and "-DGGML_AVX2=ON" in args
    assert "-DGGML_AVX512=ON" in args and "-DGGML_AVX512_VNNI=ON" in args
    for flag in ("AMX_TILE", "AMX_INT8", "AMX_BF16", "AVX512_VBMI", "AVX512_BF16"):
        assert f"-DGGML_{flag}=OFF" in args
    assert not any("CUDA" in a for a in args)
    # AVX-512 without VNNI, or none: the AVX2 build, which runs on every x86-64 CPU since 2013.
    for cpu in (SKYLAKE_X, HASWELL):
        build = decide(tmp_path, cpu)
        assert build["variant"] == "x86-64-avx2"
        assert "-DGGML_AVX2=ON" in build["cmake"].split()
        for flag in ("AVX512", "AVX512_VNNI", "AMX_TILE", "AMX_INT8"):
            assert f"-DGGML_{flag}=OFF" in build["cmake"].split()


def test_a_cpu_without_avx2_gets_the_sse_build(tmp_path: Path) -> None:
    build = decide(tmp_path, OLD_CPU)
    assert build["variant"] == "x86-64-sse" and "-DGGML_AVX2=OFF" in build["cmake"].split()


def test_cuda_on_request_and_auto_detected_only_with_a_working_gpu(tmp_path: Path) -> None:
    assert decide(tmp_path, INBOX_OCR_GPU="cuda")["cmake"].split()[-1] == "-DGGML_CUDA=on"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    path = f"{bin_dir}:/usr/bin:/bin"
    (bin_dir / "nvcc").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "nvcc").chmod(0o755)
    # nvcc alone (a CI image with the toolkit but no GPU) is not enough for "auto".
    assert decide(tmp_path, path=path, INBOX_OCR_GPU="auto")["variant"] == "x86-64-avx512"
    (bin_dir / "nvidia-smi").write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100'\n")
    (bin_dir / "nvidia-smi").chmod(0o755)
    build = decide(tmp_path, path=path, INBOX_OCR_GPU="auto")
    assert build["variant"] == "x86-64-avx512-cuda" and "-DGGML_CUDA=on" in build["cmake"]


def test_an_unknown_gpu_choice_is_refused(tmp_path: Path) -> None:
    proc = subprocess.run(["bash", str(SETUP), "--print-llama-build"], capture_output=True,
                          text=True, timeout=30, env={**os.environ, "INBOX_OCR_GPU": "rocm"})
    assert proc.returncode != 0
    assert "INBOX_OCR_GPU must be cpu, cuda or auto, not 'rocm'" in proc.stderr


@pytest.mark.skipif(os.environ.get("INBOX_OCR_GPU", "cpu") != "cpu", reason="a GPU build")
def test_the_installed_llama_cpp_is_the_build_for_this_cpus_family() -> None:
    variant = subprocess.run(["bash", str(SETUP), "--print-llama-build"], capture_output=True,
                             text=True, timeout=30, check=True).stdout.split()[1]
    # In a subprocess: llama.cpp never loads into the test process either.
    proc = subprocess.run([sys.executable, "-c", "import llama_cpp; "
                           "print(llama_cpp.__version__, llama_cpp.llama_print_system_info()"
                           ".decode())"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    version, info = proc.stdout.split(" ", 1)
    assert version == "0.3.36"
    assert "AVX2 = 1" in info or "NEON" in info or "SSE3 = 1" in info
    assert "AMX" not in info and "AVX512_VBMI = 1" not in info, info
    assert ("AVX512 = 1" in info) == (variant == "x86-64-avx512"), (variant, info)
    assert ("AVX512_VNNI = 1" in info) == (variant == "x86-64-avx512"), (variant, info)
