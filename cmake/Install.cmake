# `cmake --install build --prefix PREFIX`: mvmctl and mvm-launcher in PREFIX/bin, the static guest
# agent in PREFIX/libexec/mvm, the Python SDK (mounted into function-form sandboxes) in
# PREFIX/share/mvm/sdks/python, the template flake in PREFIX/share/mvm/templates
# (backend-emit/CMakeLists.txt), the egress helper `mvm-egress` beside the agent. The binaries find
# the rest relative to their own executable (runtime/launcher/launcher.cc LocateRuntimeFiles,
# backend-emit/nix/templates.cc), so these destinations are fixed paths, not GNUInstallDirs
# variables, and the prefix may be moved whole. The microVM supervisor is mvmctl itself, run again.
install(TARGETS mvmctl mvm-launcher RUNTIME DESTINATION bin)
install(TARGETS mvm-agent mvm-egress RUNTIME DESTINATION libexec/mvm)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/sdks/python/mvm DESTINATION share/mvm/sdks/python
        PATTERN __pycache__ EXCLUDE
        PATTERN "*.pyc" EXCLUDE)
