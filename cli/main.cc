#include <cstdio>

int main() {
  std::puts("mvmctl");
  return 0;
}
