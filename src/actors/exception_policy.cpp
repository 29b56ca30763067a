#include "actors/exception_policy.hpp"

#include <cstdio>
#include <new>

#include "data/data_error.hpp"
#include "model/model_error.hpp"

namespace flotilla::actors {

caf::error error_of_exception(const std::exception_ptr& e, const std::string& who) {
  auto text = [&](const char* what) { return "unhandled exception in " + who + ": " + what; };
  try {
    std::rethrow_exception(e);
  } catch (const model::model_error& x) {
    return make_error(errc::model_error, text(x.what()));
  } catch (const data::data_error& x) {
    return make_error(errc::data_error, text(x.what()));
  } catch (const std::bad_alloc&) {
    return make_error(errc::internal_error,
                      text("out of memory (std::bad_alloc); lower the setting that sizes this work (clients, "
                           "clustering.sketch_dim, data.train_limit) or give the process more memory"));
  } catch (const std::exception& x) {
    return make_error(errc::internal_error, text(x.what()));
  } catch (...) {
    return make_error(errc::internal_error, text("an exception that is not a std::exception"));
  }
}

void end_on_exception(caf::scheduled_actor* self, std::string who, std::function<void(const caf::error&)> also) {
  self->set_exception_handler([who = std::move(who), also = std::move(also)](caf::scheduled_actor*,
                                                                              std::exception_ptr& e) -> caf::error {
    auto err = error_of_exception(e, who);
    if (also) // it reports the error itself
      also(err);
    else if (err.context().match_elements<std::string>()) // this node's log is the only trace
      std::fprintf(stderr, "flotilla: %s\n", err.context().get_as<std::string>(0).c_str());
    return err;
  });
}

bool ends_run(const caf::error& reason) {
  auto code = code_of(reason);
  return code && (*code == errc::model_error || *code == errc::data_error || *code == errc::config_error ||
                  *code == errc::internal_error);
}

} // namespace flotilla::actors
