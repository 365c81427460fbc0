#include "kernels/cpu.h"

namespace petrel {

const char* isaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
  }
  return "?";
}

bool isaSupported(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2:
#if defined(__x86_64__) || defined(__i386__)
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
      return false;
#endif
  }
  return false;
}

Isa bestIsa() {
  static const Isa best = isaSupported(Isa::kAvx2) ? Isa::kAvx2 : Isa::kScalar;
  return best;
}

}  // namespace petrel
