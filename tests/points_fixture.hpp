#pragma once
// Synthetic points with known structure for the clustering tests: separated blobs, and views of
// them as the `const float*` lists the fl/ functions take.
#include <cstdint>
#include <random>
#include <vector>

namespace flotilla::test {

/// Points and their true group.
struct points {
  std::vector<std::vector<float>> data;
  std::vector<std::int64_t> truth;

  std::vector<const float*> views() const {
    std::vector<const float*> out;
    for (const auto& d : data)
      out.push_back(d.data());
    return out;
  }
  void add(std::vector<float> p, std::int64_t group) {
    data.push_back(std::move(p));
    truth.push_back(group);
  }
};

/// `per_group` points around each of `groups` centres 10 apart (centre g is 10 on the
/// coordinates d with d % groups == g), noise sd 0.5. Groups are interleaved, so labels cannot
/// follow input order by accident.
inline points blobs(int groups, int per_group, std::size_t dim, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0, 0.5f);
  points b;
  for (int i = 0; i < per_group; ++i)
    for (int g = 0; g < groups; ++g) {
      std::vector<float> p(dim);
      for (std::size_t d = 0; d < dim; ++d)
        p[d] = (d % static_cast<std::size_t>(groups) == static_cast<std::size_t>(g) ? 10.0f : 0.0f) + noise(rng);
      b.add(std::move(p), g);
    }
  return b;
}

inline std::vector<std::int64_t> as_labels(const std::vector<std::uint32_t>& a) {
  return {a.begin(), a.end()};
}

} // namespace flotilla::test
