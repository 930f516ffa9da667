// fegetround and fesetround, the only functions of libm that mvmctl uses (the static libstdc++'s
// floating-point std::to_chars and std::from_chars call them): defined here, mvmctl loads no libm,
// a shared library less to map and relocate at every start (about 0.1 ms of CPU;
// docs/architecture/runtime.md, Measurement). The same as glibc's x86-64 ones: the x87 control word
// and the SSE MXCSR both get the mode. Linked into mvmctl only, outside the sanitizer builds (which
// link libm anyway), and tested against both units in tests/cli/rounding_mode_test.cc.

#if defined(__x86_64__)

#include <cfenv>

namespace {

constexpr unsigned kModeBits = 0xc00;  // FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO
constexpr unsigned kMxcsrShift = 3;    // MXCSR holds the same two bits at 13 and 14

static_assert(FE_TONEAREST == 0 && FE_DOWNWARD == 0x400 && FE_UPWARD == 0x800 &&
              FE_TOWARDZERO == 0xc00);

}  // namespace

extern "C" {

int fegetround() noexcept {
  unsigned short control = 0;
  __asm__ volatile("fnstcw %0" : "=m"(control));
  return static_cast<int>(control & kModeBits);
}

int fesetround(int mode) noexcept {
  if ((static_cast<unsigned>(mode) & ~kModeBits) != 0) {
    return 1;
  }
  unsigned short control = 0;
  __asm__ volatile("fnstcw %0" : "=m"(control));
  control = static_cast<unsigned short>((control & ~kModeBits) | static_cast<unsigned>(mode));
  __asm__ volatile("fldcw %0" : : "m"(control));
  unsigned mxcsr = 0;
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  mxcsr = (mxcsr & ~(kModeBits << kMxcsrShift)) | (static_cast<unsigned>(mode) << kMxcsrShift);
  __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
  return 0;
}

}  // extern "C"

#endif  // __x86_64__
