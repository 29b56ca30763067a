#pragma once
// IFCA (Ghosh, Chung, Yin & Ramchandran, NeurIPS 2020): every client goes to the cluster whose
// model fits its data best, judged by its own training loss.
#include <cstdint>
#include <optional>
#include <vector>

namespace flotilla::fl {

/// The lowest loss wins; a tie keeps the client where it is, else goes to the lowest position.
/// `losses[i]` is the loss of the model of cluster `order[i]`. Returns the chosen cluster id.
/// Throws std::invalid_argument for empty or mismatched inputs, or a NaN loss.
std::uint32_t ifca_choice(const std::vector<double>& losses, const std::vector<std::uint32_t>& order,
                          std::optional<std::uint32_t> current);

} // namespace flotilla::fl
