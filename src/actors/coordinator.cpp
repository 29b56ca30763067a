#include "actors/coordinator.hpp"

#include <numeric>
#include <random>

#include "fl/aggregate.hpp"
#include "fl/kmeans.hpp"
#include "fl/selection.hpp"
#include "fl/sketch.hpp"

namespace flotilla::actors {

namespace {

using clock_type = std::chrono::steady_clock;

double since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

caf::behavior initial_phase(coordinator_actor* self);
caf::behavior clustering_phase(coordinator_actor* self);
caf::behavior selection_phase(coordinator_actor* self);
caf::behavior cluster_phase(coordinator_actor* self);
caf::behavior evaluation_phase(coordinator_actor* self);

// Moves to the next phase and starts it.
void enter(coordinator_actor* self, caf::behavior (*phase)(coordinator_actor*)) {
  self->become(phase(self));
  self->send(self, next_atom::value);
}

void fail_run(coordinator_actor* self, const std::string& why) {
  self->state.observer->on_warning(why);
  self->state.done.deliver(caf::make_error(caf::sec::runtime_error, why));
  self->quit();
}

std::vector<failure> record_failures(coordinator_actor* self, const std::vector<failure>& fs,
                                     fl::round_record& rec) {
  for (const auto& f : fs) {
    rec.failed.push_back(f.id);
    rec.failure_reasons.push_back(f.reason);
  }
  rec.failures = static_cast<std::uint32_t>(fs.size());
  return fs;
}

// The clients asked in an initial round: all of them in the last round (clustering needs
// every client's weights), else a seeded sample of rounds.fraction_fit.
std::vector<peer> sample_clients(const coordinator_state& st, std::uint32_t round) {
  if (st.cfg.fraction_fit >= 1.0 || round == st.cfg.initial_rounds)
    return st.clients;
  auto n = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(st.cfg.fraction_fit *
                                                                        static_cast<double>(st.clients.size()))));
  std::vector<peer> out = st.clients;
  std::mt19937_64 rng(st.cfg.seed * 1000003 + round);
  std::shuffle(out.begin(), out.end(), rng);
  out.resize(n);
  std::sort(out.begin(), out.end(), [](const peer& a, const peer& b) { return a.id < b.id; });
  return out;
}

void initial_round(coordinator_actor* self, std::uint32_t round) {
  auto& st = self->state;
  auto start = clock_type::now();
  auto asked = sample_clients(st, round);
  st.observer->on_phase("initial", "round " + std::to_string(round) + "/" +
                                        std::to_string(st.cfg.initial_rounds) + ", " +
                                        std::to_string(asked.size()) + " clients");
  auto msg = caf::make_message(fit_atom::value, round, st.global);
  auto done = std::make_shared<std::size_t>(0);
  auto expected = st.cfg.model.parameters;
  fan_out<fit_result>(
    self, asked, st.cfg.timeout_s, [msg](const peer&) { return msg; },
    [=](fan_in<fit_result>& fits) {
      auto& st = self->state;
      fl::round_record rec;
      rec.phase = "initial";
      rec.round = round;
      record_failures(self, fits.failures, rec);
      rec.clients = static_cast<std::uint32_t>(fits.results.size());
      st.report->bytes_moved += (asked.size() + fits.results.size()) * expected * sizeof(float);
      rec.aggregated = !fits.results.empty() && fits.results.size() >= quorum_of(asked.size(), st.cfg.quorum);
      if (rec.aggregated) {
        std::vector<fl::weighted_update> updates;
        std::uint64_t samples = 0;
        for (const auto& [id, r] : fits.results) {
          updates.push_back({id, r.samples, &r.weights.values});
          st.samples_of[id] = r.samples;
          samples += r.samples;
          rec.train_loss += r.train_loss * static_cast<double>(r.samples);
          st.report->samples_trained += r.samples * st.cfg.epochs;
        }
        rec.train_loss /= static_cast<double>(std::max<std::uint64_t>(1, samples));
        st.global.values = fl::fedavg(updates);
      } else {
        st.observer->on_warning("initial round " + std::to_string(round) + ": " +
                                std::to_string(fits.results.size()) + " of " + std::to_string(asked.size()) +
                                " clients answered, below the quorum; the global model is kept");
      }
      if (round == st.cfg.initial_rounds)
        st.last_fits = std::move(fits);
      self->request(st.pool, seconds(st.cfg.timeout_s), evaluate_atom::value, test_set, st.global)
        .then(
          [=](eval_result& e) mutable {
            rec.test_accuracy = e.accuracy;
            rec.seconds = since(start);
            self->state.report->rounds.push_back(rec);
            self->state.observer->on_round(rec);
            if (round < self->state.cfg.initial_rounds)
              self->send(self, next_atom::value, round + 1);
            else
              enter(self, clustering_phase);
          },
          [=](caf::error& err) { fail_run(self, "evaluating the global model failed: " + self->system().render(err)); });
    },
    [expected](const fit_result& r) { return fl::check_update(r.weights.values, expected); },
    [=] { self->state.observer->on_progress(++*done, asked.size()); });
}

caf::behavior idle(coordinator_actor* self) {
  return {
    [=](run_atom) {
      auto& st = self->state;
      st.done = self->make_response_promise();
      st.phase_start = clock_type::now();
      self->become(initial_phase(self));
      self->send(self, next_atom::value, std::uint32_t{1});
      return st.done;
    },
  };
}

caf::behavior initial_phase(coordinator_actor* self) {
  return {
    [=](next_atom, std::uint32_t round) { initial_round(self, round); },
  };
}

caf::behavior clustering_phase(coordinator_actor* self) {
  return {
    [=](next_atom) {
      auto& st = self->state;
      auto& rep = *st.report;
      rep.initial_seconds = since(st.phase_start);
      st.phase_start = clock_type::now();
      rep.initial_global = st.global.values;
      rep.initial_global_accuracy = rep.rounds.empty() ? 0 : rep.rounds.back().test_accuracy;
      const auto& fits = st.last_fits.results;
      if (fits.empty())
        return fail_run(self, "no client answered in the last initial round: nothing to cluster");
      auto k = std::min<std::uint32_t>(st.cfg.k, static_cast<std::uint32_t>(fits.size()));
      if (k < st.cfg.k)
        st.observer->on_warning("only " + std::to_string(fits.size()) + " clients to cluster; k lowered to " +
                                std::to_string(k));
      st.observer->on_phase("clustering", "k-means, k=" + std::to_string(k) + " on " +
                                              std::to_string(fits.size()) + " clients");
      // Cluster on the weights themselves, or on seeded random projections of them.
      std::vector<std::vector<float>> sketches;
      std::vector<const float*> points;
      std::size_t dim = st.cfg.model.parameters;
      for (const auto& [id, r] : fits) {
        if (st.cfg.sketch_dim > 0) {
          sketches.push_back(fl::sketch(r.weights.values, st.cfg.sketch_dim, st.cfg.seed));
          points.push_back(sketches.back().data());
        } else {
          points.push_back(r.weights.values.data());
        }
      }
      if (st.cfg.sketch_dim > 0)
        dim = st.cfg.sketch_dim;
      auto km = fl::kmeans(points, dim, {k, st.cfg.restarts, st.cfg.max_iterations, st.cfg.seed});
      rep.assignment.assign(st.clients.size(), fl::no_cluster);
      st.clusters.assign(k, {});
      for (std::size_t i = 0; i < fits.size(); ++i) {
        auto id = fits[i].first;
        rep.assignment[id] = km.assignment[i];
        st.clusters[km.assignment[i]].members.push_back(st.clients[id]);
      }
      st.last_fits = {}; // release every client's weights
      // The initial global model on every client's local split: the baseline for the clusters.
      rep.initial_personalized.assign(st.clients.size(), -1.0);
      auto msg = caf::make_message(evaluate_atom::value, st.global);
      fan_out<eval_result>(self, st.clients, st.cfg.timeout_s, [msg](const peer&) { return msg; },
                           [=](fan_in<eval_result>& evals) {
                             for (const auto& [id, e] : evals.results)
                               self->state.report->initial_personalized[id] = e.accuracy;
                             self->state.report->clustering_seconds = since(self->state.phase_start);
                             enter(self, selection_phase);
                           });
    },
  };
}

void promote_servers(coordinator_actor* self);

caf::behavior selection_phase(coordinator_actor* self) {
  return {
    [=](next_atom) {
      auto& st = self->state;
      st.phase_start = clock_type::now();
      st.observer->on_phase("selection", "resource reports from every clustered client");
      std::vector<peer> clustered;
      for (const auto& c : st.clusters)
        clustered.insert(clustered.end(), c.members.begin(), c.members.end());
      std::sort(clustered.begin(), clustered.end(), [](const peer& a, const peer& b) { return a.id < b.id; });
      fan_out<resource_report>(
        self, clustered, st.cfg.timeout_s, [](const peer&) { return caf::make_message(resources_atom::value); },
        [=](fan_in<resource_report>& reports) {
          auto& st = self->state;
          auto& rep = *st.report;
          // A client that cannot report cannot serve: it scores worst.
          std::vector<fl::resource_score> scores(st.clients.size(), {1e9, 1e9});
          for (const auto& [id, r] : reports.results) {
            scores[id] = {r.cpu, r.mem};
            rep.scores.push_back({id, r.host_cpu, r.host_mem, r.own_cpu_seconds, r.window_seconds,
                                  r.own_bytes, r.profiled, r.cpu, r.mem});
          }
          for (const auto& f : reports.failures)
            st.observer->on_warning("client " + std::to_string(f.id) + " sent no resource report: " + f.reason);
          std::vector<std::uint32_t> assignment;
          std::vector<fl::resource_score> clustered_scores;
          std::vector<std::uint32_t> ids;
          for (std::uint32_t id = 0; id < st.clients.size(); ++id)
            if (rep.assignment[id] != fl::no_cluster) {
              assignment.push_back(rep.assignment[id]);
              clustered_scores.push_back(scores[id]);
              ids.push_back(id);
            }
          auto servers = fl::select_servers(assignment, static_cast<std::uint32_t>(st.clusters.size()),
                                            clustered_scores);
          for (std::size_t c = 0; c < st.clusters.size(); ++c)
            st.clusters[c].server = st.clients[ids[servers[c]]];
          promote_servers(self);
        });
    },
  };
}

// Each chosen client actor becomes its cluster's aggregator; then members learn their server.
void promote_servers(coordinator_actor* self) {
  auto& st = self->state;
  std::vector<peer> servers;
  std::map<std::uint32_t, caf::message> promotion;
  for (std::uint32_t c = 0; c < st.clusters.size(); ++c) {
    auto& cl = st.clusters[c];
    cl.model = st.global;
    cluster_spec spec;
    spec.cluster = c;
    for (const auto& m : cl.members) {
      spec.member_ids.push_back(m.id);
      spec.members.push_back(m.handle);
    }
    spec.timeout_s = st.cfg.timeout_s;
    spec.quorum = st.cfg.quorum;
    spec.expected_size = st.cfg.model.parameters;
    servers.push_back(cl.server);
    promotion[cl.server.id] = caf::make_message(promote_atom::value, std::move(spec), st.global);
  }
  fan_out<std::uint32_t>(
    self, servers, st.cfg.timeout_s, [promotion](const peer& p) { return promotion.at(p.id); },
    [=](fan_in<std::uint32_t>& acks) {
      auto& st = self->state;
      std::vector<peer> members;
      std::map<std::uint32_t, caf::message> notice;
      for (std::uint32_t c = 0; c < st.clusters.size(); ++c) {
        auto& cl = st.clusters[c];
        for (const auto& f : acks.failures)
          if (f.id == cl.server.id) {
            cl.failed = true;
            cl.failure = "promotion of client " + std::to_string(f.id) + " failed: " + f.reason;
            st.observer->on_warning("cluster " + std::to_string(c) + ": " + cl.failure);
          }
        if (cl.failed)
          continue;
        for (const auto& m : cl.members) {
          members.push_back(m);
          notice[m.id] = caf::make_message(member_atom::value, c, cl.server.handle);
        }
      }
      fan_out<std::uint32_t>(self, members, st.cfg.timeout_s, [notice](const peer& p) { return notice.at(p.id); },
                             [=](fan_in<std::uint32_t>& joined) {
                               for (const auto& f : joined.failures)
                                 self->state.observer->on_warning("client " + std::to_string(f.id) +
                                                                  " did not learn its cluster: " + f.reason);
                               self->state.report->clustering_seconds += since(self->state.phase_start);
                               enter(self, cluster_phase);
                             });
    });
}

void cluster_round(coordinator_actor* self, std::uint32_t c, std::uint32_t round);

void cluster_finished(coordinator_actor* self) {
  if (--self->state.clusters_running == 0)
    enter(self, evaluation_phase);
}

void cluster_round(coordinator_actor* self, std::uint32_t c, std::uint32_t round) {
  auto& st = self->state;
  auto& cl = st.clusters[c];
  // A round is a fit and an evaluation fan-out at the server, each with its own deadline.
  self->request(cl.server.handle, seconds(2 * st.cfg.timeout_s + 30), cluster_round_atom::value, round)
    .then(
      [=](cluster_result& r) {
        auto& st = self->state;
        auto& cl = st.clusters[c];
        fl::round_record rec;
        rec.phase = "cluster";
        rec.round = round;
        rec.cluster = c;
        rec.clients = r.clients;
        rec.failures = static_cast<std::uint32_t>(r.failed.size());
        rec.failed = r.failed;
        rec.failure_reasons = r.failure_reasons;
        rec.aggregated = r.aggregated;
        rec.train_loss = r.train_loss;
        rec.test_accuracy = r.test_accuracy;
        rec.seconds = r.seconds;
        st.report->rounds.push_back(rec);
        st.report->samples_trained += r.samples * st.cfg.epochs;
        st.report->bytes_moved += (2 * cl.members.size() + r.clients + 1) * st.cfg.model.parameters * sizeof(float);
        st.observer->on_round(rec);
        if (!r.aggregated)
          st.observer->on_warning("cluster " + std::to_string(c) + " round " + std::to_string(round) +
                                  ": quorum missed, model kept");
        cl.model = std::move(r.model);
        cl.rounds_done = round;
        st.report->clusters[c].aggregator_actor = r.aggregator ? r.aggregator.id() : 0;
        st.report->clusters[c].server = r.server_id;
        if (round < st.cfg.cluster_rounds)
          cluster_round(self, c, round + 1);
        else
          cluster_finished(self);
      },
      [=](caf::error& err) {
        auto& cl = self->state.clusters[c];
        cl.failed = true;
        cl.failure = "cluster server " + std::to_string(cl.server.id) + " failed in round " +
                     std::to_string(round) + ": " + self->system().render(err);
        self->state.observer->on_warning("cluster " + std::to_string(c) + ": " + cl.failure);
        cluster_finished(self);
      });
}

caf::behavior cluster_phase(coordinator_actor* self) {
  return {
    [=](next_atom) {
      auto& st = self->state;
      st.phase_start = clock_type::now();
      st.report->clusters.assign(st.clusters.size(), {});
      st.observer->on_phase("cluster", std::to_string(st.clusters.size()) + " clusters, " +
                                           std::to_string(st.cfg.cluster_rounds) + " rounds each");
      st.clusters_running = 1; // held while starting, so no cluster finishes the phase early
      for (std::uint32_t c = 0; c < st.clusters.size(); ++c)
        if (!st.clusters[c].failed && st.cfg.cluster_rounds > 0) {
          ++st.clusters_running;
          cluster_round(self, c, 1);
        }
      cluster_finished(self);
    },
  };
}

caf::behavior evaluation_phase(coordinator_actor* self) {
  return {
    [=](next_atom) {
      auto& st = self->state;
      auto& rep = *st.report;
      rep.cluster_seconds = since(st.phase_start);
      st.phase_start = clock_type::now();
      st.observer->on_phase("evaluation", "global model on the test set, cluster models on local splits");
      // The global model: cluster models weighted by their members' samples.
      std::vector<fl::weighted_update> parts;
      for (std::uint32_t c = 0; c < st.clusters.size(); ++c) {
        auto& cl = st.clusters[c];
        auto& out = rep.clusters[c];
        out.id = c;
        out.server = cl.server.id;
        out.rounds_done = cl.rounds_done;
        out.failed = cl.failed;
        out.failure = cl.failure;
        for (const auto& m : cl.members) {
          out.members.push_back(m.id);
          out.samples += st.samples_of[m.id];
        }
        out.model = cl.model.values;
        if (out.samples > 0)
          parts.push_back({c, out.samples, &cl.model.values});
      }
      rep.global_model = parts.empty() ? st.global.values : fl::fedavg(parts);
      weight_blob global{st.cfg.model.layout, rep.global_model};
      self->request(st.pool, seconds(st.cfg.timeout_s), evaluate_atom::value, test_set, std::move(global))
        .then(
          [=](eval_result& e) {
            auto& st = self->state;
            st.report->global_accuracy = e.accuracy;
            std::vector<peer> members;
            std::map<std::uint32_t, caf::message> msgs;
            for (std::uint32_t c = 0; c < st.clusters.size(); ++c) {
              auto msg = caf::make_message(evaluate_atom::value, st.clusters[c].model);
              for (const auto& m : st.clusters[c].members) {
                members.push_back(m);
                msgs[m.id] = msg;
              }
            }
            std::sort(members.begin(), members.end(), [](const peer& a, const peer& b) { return a.id < b.id; });
            fan_out<eval_result>(
              self, members, st.cfg.timeout_s, [msgs](const peer& p) { return msgs.at(p.id); },
              [=](fan_in<eval_result>& evals) {
                auto& st = self->state;
                auto& rep = *st.report;
                rep.personalized.assign(st.clients.size(), -1.0);
                std::vector<double> correct(st.clusters.size(), 0), seen(st.clusters.size(), 0);
                for (const auto& [id, e] : evals.results) {
                  rep.personalized[id] = e.accuracy;
                  correct[rep.assignment[id]] += e.accuracy * static_cast<double>(e.samples);
                  seen[rep.assignment[id]] += static_cast<double>(e.samples);
                }
                for (std::size_t c = 0; c < st.clusters.size(); ++c)
                  rep.clusters[c].accuracy = seen[c] > 0 ? correct[c] / seen[c] : 0.0;
                for (const auto& f : evals.failures)
                  st.observer->on_warning("client " + std::to_string(f.id) + " could not evaluate: " + f.reason);
                rep.evaluation_seconds = since(st.phase_start);
                st.done.deliver(caf::ok_atom::value);
                self->quit();
              });
          },
          [=](caf::error& err) { fail_run(self, "evaluating the global model failed: " + self->system().render(err)); });
    },
  };
}

} // namespace

caf::behavior coordinator(coordinator_actor* self, coordinator_config cfg, std::vector<peer> clients,
                          caf::actor pool, std::shared_ptr<fl::run_observer> observer,
                          std::shared_ptr<fl::run_report> report) {
  auto& st = self->state;
  st.global = weight_blob{cfg.model.layout, cfg.initial_model};
  st.samples_of.assign(clients.size(), 0);
  st.cfg = std::move(cfg);
  st.clients = std::move(clients);
  st.pool = std::move(pool);
  st.observer = std::move(observer);
  st.report = std::move(report);
  for (const auto& c : st.clients)
    if (c.handle)
      self->monitor(c.handle);
  self->set_down_handler([=](caf::down_msg& dm) {
    for (const auto& c : self->state.clients)
      if (c.handle && c.handle.address() == dm.source)
        self->state.observer->on_warning("client " + std::to_string(c.id) + " is gone (" +
                                         self->system().render(dm.reason) + "); its requests fail by deadline");
  });
  return idle(self);
}

} // namespace flotilla::actors
