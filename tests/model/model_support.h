#pragma once
// Locating the exported test models (scripts/export_models.py).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace petrel::test {

inline std::string modelDir() {
  const char* dir = std::getenv("PETREL_MODEL_DIR");
  return dir ? dir : "models";
}

// Path of DIR/NAME.SUFFIX. If it is missing, the calling test is skipped, or
// fails when PETREL_REQUIRE_MODELS is set (as in CI), so a missing model can
// never pass silently there.
#define PETREL_REQUIRE_MODEL_FILE(var, name, suffix)                                                     \
  const std::string var = ::petrel::test::modelDir() + "/" + (name) + (suffix);                          \
  if (!std::filesystem::exists(var)) {                                                                   \
    if (std::getenv("PETREL_REQUIRE_MODELS")) FAIL() << "missing " << var << " (run scripts/export_models.py)"; \
    GTEST_SKIP() << "missing " << var << " (run scripts/export_models.py --out " << ::petrel::test::modelDir() << ")"; \
  }

}  // namespace petrel::test
