#include "app/exit_status.hpp"

#include "app/checkpoint_file.hpp"
#include "report/report_error.hpp"
#include "common/exit_code.hpp"

namespace flotilla::app {

runtime::exit_status exit_status_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const checkpoint_error& x) {
    return {exit_code::data, std::string("cannot resume: ") + x.what()};
  } catch (const report::report_usage_error& x) {
    return {exit_code::config, x.what()};
  } catch (const report::report_error& x) {
    return {exit_code::data, std::string("cannot report: ") + x.what()};
  } catch (...) {
    return runtime::exit_status_of(e);
  }
}

} // namespace flotilla::app
