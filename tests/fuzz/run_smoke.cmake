# Bounded fuzzing for ctest: copies the checked-in corpus directories CORPUS (a ;-list) into one scratch
# directory under WORK (so the source tree is never written), then runs FUZZER with ARGS (a ;-list) on
# the copy.
# Usage: cmake -DFUZZER=... -DCORPUS=... -DWORK=... -DARGS=... -P run_smoke.cmake
foreach(var FUZZER CORPUS WORK ARGS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_smoke.cmake: -D${var}= is required")
  endif()
endforeach()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/artifacts)
foreach(dir ${CORPUS})
  file(COPY ${dir}/ DESTINATION ${WORK}/corpus)
endforeach()
execute_process(COMMAND ${FUZZER} ${ARGS} -artifact_prefix=${WORK}/artifacts/ ${WORK}/corpus
                RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  file(GLOB found ${WORK}/artifacts/*)
  message(FATAL_ERROR "fuzzer failed (${result}); reproducers: ${found}\n"
                      "minimise one with `${FUZZER} -minimize_crash=1 -runs=100000 FILE`, then add it "
                      "under the first of ${CORPUS} (docs/fuzzing.md)")
endif()
