#include "frontend/frontend.h"

namespace mvm::frontend {

bool IsSupportedSource(std::string_view path) {
  return path.ends_with(".py") || path.ends_with(".ts") || path.ends_with(".tsx");
}

FrontendResult ParseSource(const SourceFile& file) {
  (void)file;
  return {};
}

}  // namespace mvm::frontend
