// actorq-cli: a CAF client of a running actorq's gateway (--cluster.port on
// the head). Talks actor to actor; prints the same JSON as the HTTP API.
//
//   actorq-cli --connect=HOST:PORT submit KIND ['{"value":1}'] [--pool=P]
//              [--max-retries=N] [--backoff-ms=MS] [--timeout-ms=MS]
//   actorq-cli --connect=HOST:PORT status ID | wait ID | cancel ID | nodes
//   actorq-cli --connect=HOST:PORT batch KIND FILE   (JSON array or JSON lines;
//                                                    "-" = stdin)
// TLS: --tls.certificate=PEM --tls.key=PEM --tls.ca-file=PEM.
#include "actorq/gateway.hpp"
#include "app/cluster.hpp"
#include "http/codec.hpp"

#include <caf/io/all.hpp>

#include <cstdio>
#include <optional>
#include <fstream>
#include <functional>
#include <memory>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <unistd.h>

using namespace actorq;

namespace {

constexpr const char* usage =
    "usage: actorq-cli --connect=HOST:PORT [--timeout=SECONDS]\n"
    "                  [--tls.certificate=PEM --tls.key=PEM --tls.ca-file=PEM]\n"
    "                  COMMAND\n"
    "commands:\n"
    "  submit KIND [INPUT_JSON] [--pool=P] [--max-retries=N] [--backoff-ms=MS]\n"
    "                           [--timeout-ms=MS]\n"
    "  status ID          the task now\n"
    "  wait ID            the task once it has ended\n"
    "  cancel ID\n"
    "  batch KIND FILE    inputs as a JSON array or one JSON value per line\n"
    "                     (FILE - = stdin); results in input order\n"
    "  nodes              the head and its worker nodes\n";

struct options {
  std::string connect;
  tls_files tls;
  std::chrono::seconds timeout{600};
  std::map<std::string, std::string> flags; // command flags, --name=value
  std::vector<std::string> words;           // command and its arguments
};

[[noreturn]] void fail_usage(const std::string& why) {
  std::cerr << "actorq-cli: " << why << "\n" << usage;
  std::exit(2);
}

options parse_args(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << usage;
      std::exit(0);
    }
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      opt.words.push_back(a);
      continue;
    }
    auto eq = a.find('=');
    if (eq == std::string::npos)
      fail_usage("option " + a + " needs a value (--name=value)");
    auto name = a.substr(2, eq - 2);
    auto value = a.substr(eq + 1);
    if (name == "connect")
      opt.connect = value;
    else if (name == "tls.certificate")
      opt.tls.certificate = value;
    else if (name == "tls.key")
      opt.tls.key = value;
    else if (name == "tls.ca-file")
      opt.tls.ca_file = value;
    else if (name == "timeout")
      opt.timeout = std::chrono::seconds{std::stoll(value)};
    else
      opt.flags[name] = value;
  }
  if (opt.connect.empty())
    fail_usage("--connect=HOST:PORT is required");
  if (opt.words.empty())
    fail_usage("no command");
  return opt;
}

/// Prints an error as the HTTP API would and returns exit code 1.
int print_error(caf::actor_system& sys, const caf::error& err) {
  if (err.category() == caf::atom("actorq")) {
    std::cout << http::render_error(http::from_actor_error(err)) << "\n";
  } else {
    json out{{"detail", sys.render(err)}, {"code", "unavailable"}};
    std::cout << out.dump() << "\n";
  }
  return 1;
}

int64_t flag_int(const options& opt, const char* name, int64_t fallback) {
  auto i = opt.flags.find(name);
  if (i == opt.flags.end())
    return fallback;
  try {
    size_t used = 0;
    auto v = std::stoll(i->second, &used);
    if (used == i->second.size())
      return v;
  } catch (...) {
  }
  fail_usage(std::string{"--"} + name + " must be an integer");
}

/// --pool, --max-retries, --backoff-ms, --timeout-ms; left out, the head
/// applies the kind's and pool's defaults (as for HTTP).
void apply_task_flags(const options& opt, task_spec& spec) {
  if (auto p = opt.flags.find("pool"); p != opt.flags.end())
    spec.pool = p->second;
  spec.max_retries = static_cast<int32_t>(flag_int(opt, "max-retries", -1));
  spec.backoff_ms = flag_int(opt, "backoff-ms", -1);
  spec.timeout_ms = flag_int(opt, "timeout-ms", -1);
}

/// Reads batch inputs: a JSON array, or one JSON value per line.
std::vector<json_value> read_inputs(const std::string& file) {
  std::string text;
  if (file == "-") {
    text.assign(std::istreambuf_iterator<char>{std::cin}, {});
  } else {
    std::ifstream in{file};
    if (!in)
      fail_usage("cannot read " + file);
    text.assign(std::istreambuf_iterator<char>{in}, {});
  }
  std::vector<json_value> out;
  auto whole = json::parse(text, nullptr, false);
  if (!whole.is_discarded() && whole.is_array()) {
    for (auto& x : whole)
      out.push_back({x});
    return out;
  }
  std::istringstream lines{text};
  std::string line;
  size_t number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    auto x = json::parse(line, nullptr, false);
    if (x.is_discarded())
      fail_usage(file + ":" + std::to_string(number) + ": not JSON");
    out.push_back({std::move(x)});
  }
  return out;
}

void draw_progress(size_t done, size_t total) {
  constexpr int width = 40;
  auto filled = total == 0 ? width : static_cast<int>(width * done / total);
  std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(filled, '#').c_str(),
               std::string(width - filled, ' ').c_str(), done, total);
  std::fflush(stderr);
}


} // namespace

int main(int argc, char** argv) {
  auto opt = parse_args(argc, argv);
  std::string host;
  uint16_t port = 0;
  if (!split_host_port(opt.connect, host, port))
    fail_usage("--connect must be HOST:PORT, got '" + opt.connect + "'");
  if (auto problem = opt.tls.check(); !problem.empty())
    fail_usage(problem);
  caf::actor_system_config cfg;
  std::optional<caf::actor_system> system_holder; // after cfg: it uses cfg
  register_gateway_types(cfg);
  prepare_network(cfg, opt.tls);
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  auto& sys = start_system(system_holder, cfg, "actorq-cli");
  auto gw = connect_gateway(sys, host, port, opt.tls.enabled());
  if (!gw) {
    std::cerr << "actorq-cli: cannot connect to " << opt.connect << ": "
              << sys.render(gw.error()) << std::endl;
    // CAF 0.17 can crash tearing down after a refused TLS handshake.
    std::_Exit(1);
  }
  caf::scoped_actor self{sys};
  auto& cmd = opt.words[0];
  auto arg = [&](size_t i, const char* what) -> const std::string& {
    if (opt.words.size() <= i)
      fail_usage(cmd + ": missing " + what);
    return opt.words[i];
  };
  int rc = 0;
  auto print_task = [&](task_view& v) {
    std::cout << http::render_task(v) << "\n";
  };
  auto on_error = [&](caf::error& err) { rc = print_error(sys, err); };
  auto task_arg = [&](size_t i) {
    auto id = task_id::parse(arg(i, "task id"));
    if (!id)
      fail_usage("not a task id: " + opt.words[i]);
    return *id;
  };
  if (cmd == "submit") {
    task_spec spec;
    spec.kind = arg(1, "kind");
    spec.input.value = json::object();
    if (opt.words.size() > 2) {
      spec.input.value = json::parse(opt.words[2], nullptr, false);
      if (spec.input.value.is_discarded())
        fail_usage("INPUT_JSON is not JSON: " + opt.words[2]);
    }
    apply_task_flags(opt, spec);
    self->request(*gw, opt.timeout, submit_atom::value, std::move(spec))
      .receive(print_task, on_error);
  } else if (cmd == "status") {
    self->request(*gw, opt.timeout, get_atom::value, task_arg(1))
      .receive(print_task, on_error);
  } else if (cmd == "wait") {
    auto id = task_arg(1);
    auto deadline = std::chrono::steady_clock::now() + opt.timeout;
    for (bool done = false; !done && rc == 0;) {
      self->request(*gw, opt.timeout, wait_atom::value, id, int64_t{30000})
        .receive(
          [&](task_view& v) {
            done = is_terminal(v.status)
                   || std::chrono::steady_clock::now() >= deadline;
            if (done)
              print_task(v);
          },
          on_error);
    }
  } else if (cmd == "cancel") {
    self->request(*gw, opt.timeout, cancel_atom::value, task_arg(1))
      .receive(print_task, on_error);
  } else if (cmd == "nodes") {
    self->request(*gw, opt.timeout, nodes_atom::value)
      .receive(
        [&](std::vector<node_view>& xs) {
          std::cout << http::render_nodes(xs) << "\n";
        },
        on_error);
  } else if (cmd == "batch") {
    batch_spec base;
    base.task.kind = arg(1, "kind");
    auto inputs = read_inputs(arg(2, "file"));
    apply_task_flags(opt, base.task);
    // Chunks keep the progress bar moving; a few of them in flight keep
    // every worker busy. An event-based driver sends them and reports back.
    auto chunk = static_cast<size_t>(
        std::max<int64_t>(1, flag_int(opt, "chunk", 500)));
    bool bar = ::isatty(2) != 0;
    auto total = inputs.size();
    auto me = caf::actor{self};
    auto gateway_handle = *gw;
    auto timeout = opt.timeout;
    sys.spawn([=, inputs = std::move(inputs)](caf::event_based_actor* driver) mutable {
      struct progress {
        batch_result all;
        size_t sent = 0, done = 0, in_flight = 0;
        bool failed = false;
      };
      auto st = std::make_shared<progress>();
      st->all.results.resize(total);
      st->all.errors.resize(total);
      auto send_next = std::make_shared<std::function<void()>>();
      *send_next = [=]() mutable {
        while (!st->failed && st->sent < total && st->in_flight < 4) {
          batch_spec part = base;
          auto first = st->sent;
          auto end = std::min(total, first + chunk);
          for (auto i = first; i < end; ++i)
            part.items.push_back(std::move(inputs[i]));
          st->sent = end;
          ++st->in_flight;
          driver->request(gateway_handle, timeout, std::move(part))
            .then(
              [=](batch_result& r) {
                for (size_t i = 0; i < r.results.size(); ++i) {
                  st->all.results[first + i] = std::move(r.results[i]);
                  st->all.errors[first + i] = std::move(r.errors[i]);
                }
                st->all.succeeded += r.succeeded;
                st->all.failed += r.failed;
                st->done += r.results.size();
                --st->in_flight;
                driver->send(me, caf::atom("progress"), st->done);
                if (st->done == total) {
                  driver->send(me, std::move(st->all));
                  driver->quit();
                  return;
                }
                (*send_next)();
              },
              [=](caf::error& err) {
                if (!st->failed)
                  driver->send(me, err);
                st->failed = true;
                driver->quit();
              });
        }
      };
      if (total == 0) {
        driver->send(me, batch_result{});
        driver->quit();
        return;
      }
      (*send_next)();
    });
    if (bar)
      draw_progress(0, total);
    batch_result all;
    for (bool running = true; running;)
      self->receive(
        [&](caf::atom_value, size_t done) {
          if (bar)
            draw_progress(done, total);
        },
        [&](batch_result& r) {
          all = std::move(r);
          running = false;
        },
        [&](caf::error& err) {
          on_error(err);
          running = false;
        });
    if (bar)
      std::fprintf(stderr, "\n");
    if (rc == 0)
      std::cout << http::render_batch(all) << "\n";
  } else {
    fail_usage("unknown command '" + cmd + "'");
  }
  return rc;
}
