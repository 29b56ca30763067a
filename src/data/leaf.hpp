#pragma once
#include <cstdint>
#include <string>

#include "data/federated_set.hpp"

namespace flotilla::data {

/// Largest LEAF JSON file read_leaf opens (its size is checked before a byte is read). Files are
/// streamed through nlohmann's SAX parser, never held whole nor as a JSON tree (10-20x the text),
/// so a file costs the floats and ids it holds (a feature is 2 or more bytes of text, 4 as a
/// float: at most 2 bytes per byte of JSON), their copy into the split while it is merged, and
/// its longest string; labels (8 bytes each) may pass the file's samples by at most 16M, counts
/// and users stop at 2^26. LEAF's preprocess.sh writes files of about 200 MB (FEMNIST's), so 4 GiB
/// is ample yet bounds what a hostile file can make this process allocate.
inline constexpr std::uint64_t max_leaf_file_bytes = std::uint64_t{1} << 32;

/// Reads LEAF's layout under `root`: every *.json file in root/train and root/test (sorted by
/// file name, byte order), each
///   {"users": [...], "num_samples": [...], "user_data": {user: {"x": [sample, ...], "y": [...]}}}
/// ("hierarchies" and any other key ignored). A sample is a list of numbers (FEMNIST's 784,
/// LEAF's Synthetic's 60) or of equal-length lists, up to 3 levels deep; every sample of both
/// splits must have one shape, which becomes sample_shape ({784}, {28, 28}, ...). y holds class
/// ids (whole numbers, 3 or 3.0); classes is 1 + the largest of either split. Users are the
/// natural clients: natural_ids is the train split's users in byte order and owner indexes it;
/// a user with test samples but no training samples is refused (an empty client). Samples are
/// in file order, and within a file in its "users" order.
/// Throws data_error naming the file, the key and the index of any fault (a missing folder, a
/// count that disagrees with the data, a ragged sample, a label that is not a class id, a number
/// outside the float range, a user in two files of a split, malformed or truncated JSON, a file
/// over max_leaf_file_bytes, a count past federated_set.hpp's bounds) and saying what to do.
federated_set read_leaf(const std::string& root);

} // namespace flotilla::data
