#include "runtime/exit_status.hpp"

#include <new>

#include "common/atomic_file.hpp"
#include "common/exit_code.hpp"
#include "config/config.hpp"
#include "data/data_error.hpp"
#include "data/partition_error.hpp"
#include "model/model_error.hpp"
#include "net/tls_check.hpp"
#include "runtime/local_run.hpp"

namespace flotilla::runtime {

exit_status exit_status_of(const std::exception_ptr& e) {
  auto status = [](int code, const char* prefix, const char* what) { return exit_status{code, prefix + std::string(what)}; };
  try {
    std::rethrow_exception(e);
  } catch (const config::config_error& x) {
    return status(exit_code::config, "configuration error: ", x.what());
  } catch (const net::tls_error& x) {
    return status(exit_code::config, "configuration error: ", x.what());
  } catch (const data::partition_error& x) {
    return status(exit_code::config, "configuration error: ", x.what());
  } catch (const run_error& x) {
    switch (x.cause()) {
      case run_error::kind::model:
        return status(exit_code::model, "model error: ", x.what());
      case run_error::kind::data:
        return status(exit_code::data, "data error: ", x.what());
      case run_error::kind::config:
        return status(exit_code::config, "configuration error: ", x.what());
      default:
        return status(exit_code::other, "", x.what());
    }
  } catch (const data::data_error& x) {
    return status(exit_code::data, "data error: ", x.what());
  } catch (const model::model_error& x) {
    return status(exit_code::model, "model error: ", x.what());
  } catch (const output_error& x) {
    return status(exit_code::output, "output error: ", x.what());
  } catch (const std::bad_alloc&) {
    return status(exit_code::other, "", "out of memory (std::bad_alloc); lower the settings that size the run "
                                        "(clients, clustering.sketch_dim, data.train_limit)");
  } catch (const std::exception& x) {
    return status(exit_code::other, "", x.what());
  } catch (...) {
    return status(exit_code::other, "", "an error that is not a std::exception");
  }
}

} // namespace flotilla::runtime
