#pragma once
// A data set of one's own, written by one line of Python:
//   torch.save({"x_train": X, "y_train": Y, "x_test": Xt, "y_test": Yt,
//               "client_train": C, "client_test": Ct, "classes": K}, path)
// read without libtorch (zip_archive.hpp, model/state_dict_pickle.hpp).
#include <string>

#include "data/federated_set.hpp"

namespace flotilla::data {

/// Reads a torch.save'd dict of tensors. Keys:
///  - x_train, x_test (required): uint8 (images, scaled to [0, 1] as x / 255) or float32 (taken
///    as is; every value must be finite), both of one dtype, shape [N, ...] with 1 to 3 dims per
///    sample, the same per-sample shape in both;
///  - y_train, y_test (required): int64 class ids, shape [N];
///  - client_train, client_test (optional): int64 client ids >= 0, shape [N]. natural_ids are the
///    distinct ids ascending (as decimal text) and owner indexes them. Every id of client_test
///    must have training rows. client_train alone is allowed: the test rows then have no owner
///    (test.owner is empty) and the test split is the global one. client_test alone is refused;
///  - classes (optional): a plain int, 1 to max_classes; labels must lie below it. Without it,
///    classes is 1 + the largest label of either split.
/// Other keys are refused by name. Tensors must be contiguous (a view inside a larger storage,
/// such as X[:n], is read; a transposed or strided one is not).
/// Every size is checked against the storage's bytes in the archive, hence against the file's
/// size, and against federated_set.hpp's bounds before anything is allocated; the pickle is read
/// only up to 256 KiB. Throws data_error naming the file, the key and the index at fault and
/// saying what to do.
federated_set read_tensor_file(const std::string& path);

} // namespace flotilla::data
