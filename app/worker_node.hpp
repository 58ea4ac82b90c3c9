// A worker node: the actorq binary started with --cluster.join=HOST:PORT. It
// runs its pools' workers (sizes from its own config) under its own
// supervisors, lends them to the head's pools, and rejoins with exponential
// backoff when it loses the head.
#pragma once

#include "actors/config.hpp"

#include <caf/all.hpp>
#include <csignal>

namespace actorq {

/// Runs until SIGINT/SIGTERM (blocked in `stop_signals`); returns the exit code.
int run_worker_node(caf::actor_system& sys, const actorq_config& cfg, bool tls,
                    sigset_t stop_signals);

} // namespace actorq
