#include "fl/cluster_methods.hpp"

#include <stdexcept>

#include "common/named_rows.hpp"
#include "fl/ifca.hpp"

namespace flotilla::fl {

const std::vector<cluster_method>& cluster_methods() {
  using g = cluster_method::grouping;
  static const std::vector<cluster_method> methods{
    {"kmeans", "k-means on the clients' weights (the seed's method)", g::kmeans, false, {}},
    {"agglomerative", "agglomerative clustering (FL+HC): Ward on weights or average cosine on updates",
     g::agglomerative, false, {}},
    {"cfl", "Clustered FL (Sattler et al.): one cluster, split where members' updates disagree", g::one_cluster, true,
     {}},
    {"ifca", "IFCA (Ghosh et al.): k-means start, then each client moves to the model with its lowest loss",
     g::kmeans, false, ifca_choice},
    {"none", "no clustering: plain federated learning, the initial rounds' global model is the result "
     "(rounds.cluster = 0)", g::none, false, {}},
  };
  return methods;
}

const cluster_method& cluster_method_named(const std::string& name) {
  if (const auto* m = row_named(cluster_methods(), name))
    return *m;
  throw std::invalid_argument("no clustering method '" + name + "'; known: " + row_names(cluster_methods()));
}

bool plain_fl(const std::string& method) {
  return cluster_method_named(method).initial == cluster_method::grouping::none;
}

std::vector<std::string> cluster_method_names() {
  std::vector<std::string> out;
  for (const auto& m : cluster_methods())
    out.push_back(m.name);
  return out;
}

} // namespace flotilla::fl
