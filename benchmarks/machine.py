"""The machine a benchmark ran on, printed above every figure: CPU model, cores, the instruction-set
flags that decide which kernels run (AVX-512 and its BF16/FP16/VNNI parts, AMX), torch and the date.

The project's machines change CPU class from session to session (AMD EPYC, Intel Xeon with AMX), and
a figure without its CPU cannot be compared with another."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess

#: The flags that change which kernels oneDNN, fbgemm and CTranslate2 pick.
KEY_FLAGS = (
    "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
    "avx_vnni", "amx_tile", "amx_bf16", "amx_int8",
)  # fmt: skip


#: /proc/cpuinfo's names for the lscpu fields read here (where lscpu is missing or leaves one out).
_CPUINFO_FIELDS = {"model name": "Model name", "vendor_id": "Vendor ID", "cpu family": "CPU family", "model": "Model",
                   "flags": "Flags"}  # fmt: skip


def _lscpu() -> dict[str, str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    fields = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo, under lscpu's names."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():  # the end of the first processor
                    break
                key, _, value = line.partition(":")
                if key.strip() in _CPUINFO_FIELDS:
                    fields[_CPUINFO_FIELDS[key.strip()]] = value.strip()
    except OSError:
        pass
    return fields


def describe() -> str:
    """One line: ``CPU <model> (<vendor>, family <f> model <m>), <n> cores, flags <...>; torch <v>; <UTC date>``.

    The family and model numbers name the generation where a virtual machine hides it: this project's
    machines call every EPYC "AMD EPYC", with AVX-512 or without (family 25 model 17 is Zen 4)."""
    info = _cpuinfo() | {key: value for key, value in _lscpu().items() if value}
    model = info.get("Model name") or platform.processor() or "unknown CPU"
    maker = info.get("Vendor ID", "")
    if info.get("CPU family") and info.get("Model"):
        maker = f"{maker}, family {info['CPU family']} model {info['Model']}"
    flags = set(info.get("Flags", "").split())
    present = [flag for flag in KEY_FLAGS if flag in flags] or ["none of " + ", ".join(KEY_FLAGS[:4])]
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "absent"
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"CPU {model} ({maker}), {os.cpu_count()} cores, flags {' '.join(present)}; "
            f"torch {torch_version}; {when}")


if __name__ == "__main__":
    print(describe())
