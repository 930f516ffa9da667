import os

import lit.formats

config.name = "mvm"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".py", ".ts", ".tsx", ".json", ".test"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "Inputs", "CMakeLists.txt"]
config.test_source_root = os.path.join(config.mvm_src_root, "lit-tests")
config.test_exec_root = os.path.join(config.mvm_bin_dir, "..", "lit-tests")
config.substitutions.append(("%mvmctl", os.path.join(config.mvm_bin_dir, "mvmctl")))
config.substitutions.append(("%mvm-launcher", os.path.join(config.mvm_bin_dir, "mvm-launcher")))
config.substitutions.append(("%xtask", os.path.join(config.mvm_bin_dir, "xtask")))
config.substitutions.append(("%src", config.mvm_src_root))
# FileCheck options that fail when mvmctl opens a shared library it links in rather than loads
# (cli/CMakeLists.txt, CMakeLists.txt); the sanitizer builds load them all.
linked_in = ["libsodium", "libseccomp", "libm.so", "libstdc++"]
config.substitutions.append(("%not-linked-in", "" if getattr(config, "mvm_sanitize", False) else
                             " ".join("--implicit-check-not=file=" + lib for lib in linked_in)))
config.environment["PATH"] = os.pathsep.join(
    [os.path.dirname(config.filecheck), "/usr/lib/llvm-14/bin", config.environment.get("PATH", "")])
