// `flotilla report` on its own: the same function the flotilla binary calls, in a program that
// builds without torch or CAF, so the browser test needs only the plain C++ library.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "report/report_command.hpp"
#include "report/report_error.hpp"

int main(int argc, char** argv) {
  try {
    return flotilla::report::report_command(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const flotilla::report::report_usage_error& e) {
    std::fprintf(stderr, "report_tool: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "report_tool: %s\n", e.what());
    return 1;
  }
}
