#pragma once
// Replaces the global operator new to see what hostile input makes a reader allocate: the
// largest single request and the total while tracking is on, and requests above refuse_above
// refused (so a claimed 4 GiB is caught, not allocated). Include it in exactly one file of a
// test binary.
#include <algorithm>
#include <cstdlib>
#include <new>

namespace flotilla::test {
inline thread_local bool tracking = false;
inline thread_local std::size_t largest_request = 0;
inline thread_local std::size_t total_requested = 0;
constexpr std::size_t refuse_above = std::size_t{256} << 20;
} // namespace flotilla::test

void* operator new(std::size_t n) {
  using namespace flotilla::test;
  if (tracking) {
    total_requested += n;
    largest_request = std::max(largest_request, n);
    if (n > refuse_above)
      throw std::bad_alloc();
  }
  if (void* p = std::malloc(n == 0 ? 1 : n))
    return p;
  throw std::bad_alloc();
}
// GCC 12 takes these for mismatched pairs, not seeing that they replace the global ones.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop
