// `flotilla report` on its own: the same function the flotilla binary calls, in a program that
// builds without torch or CAF, so the browser test needs only the plain C++ library.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "app/report_command.hpp"
#include "app/report_error.hpp"

int main(int argc, char** argv) {
  try {
    return flotilla::app::report_command(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const flotilla::app::report_usage_error& e) {
    std::fprintf(stderr, "report_tool: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "report_tool: %s\n", e.what());
    return 1;
  }
}
