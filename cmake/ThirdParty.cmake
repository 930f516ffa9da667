# tree-sitter core and grammars, unpacked by scripts/bootstrap.sh from npm tarballs pinned by integrity.
set(MVM_NPM_DIR ${PROJECT_SOURCE_DIR}/third_party/npm)
if(NOT EXISTS ${MVM_NPM_DIR}/tree-sitter/vendor/tree-sitter/lib/src/lib.c)
  message(FATAL_ERROR "tree-sitter sources are missing: run scripts/bootstrap.sh first")
endif()

set(TS_CORE ${MVM_NPM_DIR}/tree-sitter/vendor/tree-sitter/lib)
add_library(tree_sitter_core STATIC ${TS_CORE}/src/lib.c)
target_include_directories(tree_sitter_core PUBLIC ${TS_CORE}/include PRIVATE ${TS_CORE}/src)
target_compile_options(tree_sitter_core PRIVATE -w -O2)
target_compile_definitions(tree_sitter_core PRIVATE _POSIX_C_SOURCE=200112L _DEFAULT_SOURCE)

function(mvm_grammar name dir)
  add_library(${name} STATIC ${dir}/parser.c ${dir}/scanner.c)
  target_include_directories(${name} PRIVATE ${dir})
  # Generated parsers are huge tables: optimise lightly whatever the build type, never warn.
  target_compile_options(${name} PRIVATE -w -O1)
endfunction()
mvm_grammar(tree_sitter_python ${MVM_NPM_DIR}/tree-sitter-python/src)
mvm_grammar(tree_sitter_typescript ${MVM_NPM_DIR}/tree-sitter-typescript/typescript/src)
mvm_grammar(tree_sitter_tsx ${MVM_NPM_DIR}/tree-sitter-typescript/tsx/src)
