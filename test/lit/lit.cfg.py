# lit configuration for cellc: every .cell and .test file under test/lit is a test.
import os
import shutil
import lit.formats

config.name = "cellc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".cell", ".test"]
config.excludes = ["Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.cellc_bin_dir, "test", "lit")

config.substitutions.append(("%cellc", os.path.join(config.cellc_bin_dir, "cellc")))
config.substitutions.append(("%examples", os.path.join(config.cellc_src_dir, "examples")))
config.substitutions.append(("%python", config.python))
config.substitutions.append(("%numeric", os.path.join(config.cellc_src_dir, "test", "numeric")))
config.substitutions.append(("FileCheck", config.filecheck + " --enable-var-scope"))
config.substitutions.append(("%not", "not"))
config.substitutions.append(("%concurrent_calls", os.path.join(
    config.cellc_bin_dir, "test", "concurrency", "cellc_concurrent_calls")))

# In a sanitizer build (scripts/sanitize.sh) the tests see the sanitizer's options, and
# tests that cannot run under it say `UNSUPPORTED: asan` (or tsan) with why.
if config.sanitizer:
    config.available_features.add({"address": "asan", "thread": "tsan"}[config.sanitizer])
    config.environment["CELLC_SANITIZER"] = config.sanitizer
    for var in ["ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"]:
        if var in os.environ:
            config.environment[var] = os.environ[var]

# Tests that need PyTorch say `REQUIRES: torch`.
probe = os.system(config.python + " -c 'import torch' >/dev/null 2>&1")
if probe == 0:
    config.available_features.add("torch")
if shutil.which("nvidia-smi") and os.system("nvidia-smi >/dev/null 2>&1") == 0:
    config.available_features.add("gpu")

# MLIR 14's tools (mlir-14-tools, which scripts/setup.sh installs) verify the emitted modules.
mlir_opt = shutil.which("mlir-opt-14") or shutil.which("mlir-opt", path="/usr/lib/llvm-14/bin")
if mlir_opt:
    config.available_features.add("mlir")
    config.substitutions.append(("%mlir_opt", mlir_opt))
    # Running a module also takes mlir-translate-14 and clang++-14 (test/numeric/mlir_execute.py).
    if (shutil.which("mlir-translate-14") or shutil.which("mlir-translate",
                                                          path="/usr/lib/llvm-14/bin")) and \
            shutil.which("clang++-14"):
        config.available_features.add("mlir-exec")
    # `cellc compile --backend mlir` takes mlir-opt-14, mlir-translate-14 and llc-14.
    if (shutil.which("mlir-translate-14") or shutil.which("mlir-translate",
                                                          path="/usr/lib/llvm-14/bin")) and \
            (shutil.which("llc-14") or shutil.which("llc", path="/usr/lib/llvm-14/bin")):
        config.available_features.add("mlir-library")
