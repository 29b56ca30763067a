#pragma once
// The dataset table: one row per dataset, as src/model/models.cpp has one per model. A row says
// everything the rest of Flotilla asks of a dataset (its sample shape and classes, where it lives
// by default and how to get it, its normalization) and how to read it. Adding a dataset is one row
// plus its reader; load_dataset (dataset.hpp) does the rest (limit, fingerprint, normalization).
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "data/federated_set.hpp"
#include "data/image_set.hpp"
#include "data/user_generator.hpp"

namespace flotilla::data {

/// The shape of a dataset's samples: channels, height, width (what a model must take); a
/// feature vector is 1 x 1 x F. All 0 when the data says (a file of one's own).
struct image_shape {
  std::size_t channels, height, width;
};

struct data_options;

struct dataset_entry {
  std::string name;
  image_shape shape;
  std::size_t classes = 0;             ///< 0 when the data says
  std::string default_root;            ///< where it is read from when data.root is empty
  std::string how_to_get;              ///< said with every missing-file error
  std::vector<float> mean, std;        ///< per-channel normalization of pixels scaled to [0, 1]
  /// Reads the raw train and test sets under `root`; throws data_error naming the file at fault
  /// (a missing one with `how_to_get`).
  std::function<std::pair<image_set, image_set>(const std::string& root, const dataset_entry& self)> read;
  /// Or, for data of one's own and generated benchmarks, everything at once (features as they
  /// are used: no normalization), natural clients included. Throws data_error.
  std::function<federated_set(const data_options& options)> make;
  /// Generated benchmarks also describe themselves user by user, to be made on demand
  /// (data_options::on_demand; on_demand_users.hpp).
  std::function<user_generator(const data_options& options)> users;

  bool shape_known() const { return shape.channels > 0 && classes > 0; }
};

/// Every dataset, in the order the documentation lists them.
const std::vector<dataset_entry>& datasets();

/// The row of that name; throws data_error naming the known ones.
const dataset_entry& dataset_named(const std::string& name);

} // namespace flotilla::data
